"""One training run: when it stops, and the record fields its history gives.

`run_record(history, monitors, patience)` is the one place where a
per-epoch history becomes a run's record fields (epochs trained, each
monitor's stopping and best epoch, the metrics at the stop or at the best
epoch, the best value of each monitor); `fit_run` trains a model with
`MultiMonitorStopping` and returns them. A sweep (`sweeps.run_sweep`), the
classification and segmentation runs and the export of KerasTuner trials
(`keras_entropy.tuning.export`) all use it; `runtime_info` gives the
backend and devices a run trained on, which its record also holds.

Direction: `monitor_mode(name)` says "max" for accuracy-like metrics
(accuracy, IoU, AUC, precision, recall, F1, Dice, R2, purity, NMI) and
"min" otherwise (losses, errors); the stopping rule and the best value
follow it.

Stopping epochs: `early_stopping_epoch` replays Keras's `EarlyStopping`
rule on a sequence of values, and `MultiMonitorStopping` applies it to
several monitors at once during training. Keras's `val_loss` includes the
entropy penalty, so "stopped on val_loss" can mean that the penalty settled
while the reconstruction still improves. Training until *every* monitor has
stopped (`stop_when="all"`) records each monitor's stopping epoch from one
trajectory: epochs `1..e` of a run do not depend on whether it continues
after `e`, so the stopping epoch and metrics at `e` are exactly those of a
run that `EarlyStopping(monitor=m)` would have ended at `e`.

Epochs are counted from 1: a stopping epoch of 12 means the rule fired at
the end of the 12th epoch (Keras prints "Epoch 12: early stopping").
"""

import keras

from keras_entropy import validation

#: Name fragments of metrics that are minimized (checked first) ...
MIN_HINTS = ("loss", "error", "mse", "mae", "mape", "msle", "crossentropy", "hinge")
#: ... and of metrics that are maximized.
MAX_HINTS = ("acc", "iou", "io_u", "auc", "precision", "recall", "f1", "dice", "r2", "purity", "nmi")

MODES = ("min", "max")

#: Where `run_record` reads the metrics: at the first monitor's stopping
#: epoch, or at its best epoch (what `restore_best_weights` would keep).
METRICS_AT = ("stop", "best")

#: Logged values that are not metrics (callbacks such as `ReduceLROnPlateau` log them).
NOT_METRICS = ("learning_rate",)


def monitor_mode(name, default="min"):
    """The direction in which the logged value `name` improves: "min" or "max".

    Names with a loss or error fragment (`MIN_HINTS`: "loss", "mse", ...)
    are minimized, then names with an accuracy-like fragment (`MAX_HINTS`:
    "acc", "iou", "auc", "precision", "recall", "purity", "nmi", ...) are
    maximized; any other name gets `default` (None: unknown).

    >>> monitor_mode("val_accuracy"), monitor_mode("val_loss"), monitor_mode("val_x", None)
    ('max', 'min', None)
    """
    lowered = validation.validate_string(name, "name").lower()
    if any(hint in lowered for hint in MIN_HINTS):
        return "min"
    if any(hint in lowered for hint in MAX_HINTS):
        return "max"
    return default


def _monitor_modes(monitors, modes):
    """dict monitor -> mode: `modes[m]` when given, else `monitor_mode(m)`."""
    modes = modes or {}
    return {
        m: validation.validate_choice(modes[m], "modes", MODES) if m in modes else monitor_mode(m) for m in monitors
    }


def _is_improvement(value, best, min_delta, mode):
    if best is None:
        return True
    if mode == "min":
        return value + min_delta < best
    return value - min_delta > best


def early_stopping_epoch(values, patience, min_delta=0.0, mode="min"):
    """Replay Keras's `EarlyStopping` rule on a sequence of epoch values.

    Same rule as `keras.callbacks.EarlyStopping(monitor, patience,
    min_delta, mode)` without baseline or warm-up: an epoch improves on the
    best so far by more than `min_delta`, or adds one to a wait counter;
    training stops at the end of the first epoch (after the first) where the
    counter reaches `patience`.

    Args:
        values: the monitored value after each epoch (None counts as NaN).
        patience: int >= 0.
        min_delta: float >= 0.
        mode: "min" or "max".

    Returns:
        `(stopping_epoch, best_epoch)`, both counted from 1;
        `stopping_epoch` is None when the rule did not fire within `values`.
    """
    patience = validation.validate_int(patience, "patience", minimum=0)
    min_delta = validation.validate_non_negative(min_delta, "min_delta")
    validation.validate_choice(mode, "mode", MODES)
    best, best_epoch, wait = None, None, 0
    for epoch, value in enumerate(values):
        value = float("nan") if value is None else float(value)
        wait += 1
        if _is_improvement(value, best, min_delta, mode):
            best, best_epoch, wait = value, epoch + 1, 0
            continue
        if wait >= patience and epoch > 0:
            return epoch + 1, best_epoch
    return None, best_epoch


def _monitor_stop(values, patience, min_delta, mode):
    """`{"epoch", "best_epoch", "stopped"}` of one monitor; censored at `len(values)`.

    Without `patience` the rule never fires: every monitor is censored at
    the last epoch, and its best epoch is the best value's (`min_delta` 0).
    """
    if patience is None:
        _, best = early_stopping_epoch(values, len(values), 0.0, mode)
        epoch = None
    else:
        epoch, best = early_stopping_epoch(values, patience, min_delta, mode)
    return {"epoch": epoch if epoch is not None else len(values), "best_epoch": best, "stopped": epoch is not None}


class MultiMonitorStopping(keras.callbacks.Callback):
    """Early stopping that tracks several monitors and records each one's stop.

    Each monitor follows `early_stopping_epoch` (Keras's `EarlyStopping`
    rule) in its direction (`monitor_mode`). Training ends when the monitors
    named by `stop_when` have all stopped: `"first"` (the first monitor
    alone, like a plain `EarlyStopping(monitor=monitors[0])`) or `"all"`
    (every monitor, so each stopping epoch is observed on the same
    trajectory).

    After training, `stopping` maps each monitor to `{"epoch", "best_epoch",
    "stopped"}`; a monitor that had not stopped when training ended (e.g.
    at `epochs`) gets `epoch` = the number of epochs trained and
    `stopped: False` (a censored value).

    Args:
        monitors: names of logged values, e.g. `["val_loss", "val_mse"]`.
        patience: epochs without improvement before a monitor stops.
        min_delta: minimum change that counts as improvement.
        stop_when: "first" or "all".
        modes: dict monitor -> "min" or "max" (default: `monitor_mode`).
    """

    def __init__(self, monitors=("val_loss",), patience=7, min_delta=0.0, stop_when="all", modes=None):
        super().__init__()
        self.monitors = validation.validate_names(monitors, "monitors")
        self.stop_when = validation.validate_choice(stop_when, "stop_when", ("first", "all"))
        early_stopping_epoch([], patience, min_delta)  # validates both
        self.patience = patience
        self.min_delta = min_delta
        self.modes = _monitor_modes(self.monitors, modes)
        self.values = {m: [] for m in self.monitors}

    def on_train_begin(self, logs=None):
        self.values = {m: [] for m in self.monitors}

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        for monitor in self.monitors:
            if monitor not in logs:
                raise KeyError(f"Monitor {monitor!r} is not logged; available: {sorted(logs)}.")
            self.values[monitor].append(float(logs[monitor]))
        watched = self.monitors[:1] if self.stop_when == "first" else self.monitors
        stops = [_monitor_stop(self.values[m], self.patience, self.min_delta, self.modes[m]) for m in watched]
        if all(stop["stopped"] for stop in stops):
            self.model.stop_training = True

    @property
    def stopping(self):
        return {m: _monitor_stop(self.values[m], self.patience, self.min_delta, self.modes[m]) for m in self.monitors}


def _values_at(history, epoch):
    return {name: values[epoch - 1] for name, values in history.items() if name not in NOT_METRICS}


def _best_value(values, mode):
    pick = max if mode == "max" else min
    return pick(v for v in values if v is not None)


def run_record(history, monitors, patience=None, min_delta=0.0, modes=None, metrics_at="stop"):
    """The record fields of a run from its per-epoch history.

    The first monitor is the run's own: its stopping epoch (Keras's
    `EarlyStopping(monitor, patience, min_delta)` rule replayed, see
    `early_stopping_epoch`; censored at the last epoch when it did not fire,
    or when `patience` is None) is the record's `stopping_epoch`.

    `metrics` holds every logged value (but the learning rate):
    - `metrics_at="stop"`: at the stopping epoch (what a plain
      `EarlyStopping(monitor=monitors[0])` run would end with, without
      restoring the best weights), plus `best_<m>` for each monitor `m`: its
      best value (in its direction) within those epochs;
    - `metrics_at="best"`: at the first monitor's best epoch (what
      `restore_best_weights` would keep), plus `best_epoch`.

    Args:
        history: dict name -> list of per-epoch values (`History.history`).
        monitors: the early-stopping monitors, first = the run's own.
        patience, min_delta: the stopping rule (patience None: none).
        modes: dict monitor -> "min" or "max" (default: `monitor_mode`).
        metrics_at: "stop" or "best".

    Returns:
        dict with `history` (values as floats), `epochs_trained`,
        `monitor`, `stopping` (monitor -> `{"epoch", "best_epoch",
        "stopped"}`), `stopping_epoch` and `metrics`.
    """
    monitors = validation.validate_names(monitors, "monitors")
    validation.validate_choice(metrics_at, "metrics_at", METRICS_AT)
    modes = _monitor_modes(monitors, modes)
    history = {name: [None if v is None else float(v) for v in values] for name, values in history.items()}
    for monitor in monitors:
        if monitor not in history:
            raise ValueError(
                f"Monitor {monitor!r} is not in the history; logged: {sorted(history)}. Received: monitors={monitors!r}"
            )
    stopping = {m: _monitor_stop(history[m], patience, min_delta, modes[m]) for m in monitors}
    primary = monitors[0]
    epoch = stopping[primary]["epoch"]
    if metrics_at == "stop":
        metrics = _values_at(history, epoch)
        metrics.update({f"best_{m}": _best_value(history[m][:epoch], modes[m]) for m in monitors})
    else:
        best = stopping[primary]["best_epoch"]
        metrics = {**_values_at(history, best), "best_epoch": best}
    return {
        "history": history,
        "epochs_trained": len(history[primary]),
        "monitor": primary,
        "stopping": stopping,
        "stopping_epoch": epoch,
        "metrics": metrics,
    }


def fit_run(
    model,
    x,
    y,
    validation_data,
    *,
    monitors=("val_loss",),
    patience=7,
    min_delta=0.0,
    stop_when="all",
    max_epochs=200,
    batch_size=128,
    modes=None,
    metrics_at="stop",
    callbacks=(),
    verbose="auto",
):
    """Fit `model` with `MultiMonitorStopping` and return a sweep record's fields.

    `model.fit` for at most `max_epochs`, stopped by
    `MultiMonitorStopping(monitors, patience, min_delta, stop_when, modes)`
    (plus any other `callbacks`); the record is `run_record` of the history.

    Returns:
        dict with `history`, `epochs_trained`, `monitor`, `stopping`,
        `stopping_epoch` and `metrics` (see `run_record`).
    """
    max_epochs = validation.validate_positive_int(max_epochs, "max_epochs")
    stopper = MultiMonitorStopping(monitors, patience, min_delta, stop_when, modes)
    history = model.fit(
        x,
        y,
        validation_data=validation_data,
        epochs=max_epochs,
        batch_size=batch_size,
        callbacks=[stopper, *callbacks],
        verbose=verbose,
    ).history
    return run_record(history, stopper.monitors, patience, min_delta, stopper.modes, metrics_at)


def runtime_info():
    """The Keras backend and the devices it trains on, e.g. for records and logs.

    Returns:
        dict with `backend` (e.g. "tensorflow") and `devices` (e.g.
        ["CPU:0"] or ["GPU:0"]); each backend uses a GPU it sees
        automatically.
    """
    backend = keras.backend.backend()
    devices = []
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_logical_devices("GPU")
            devices = [d.name.replace("/device:", "") for d in gpus] or ["CPU:0"]
        elif backend == "jax":
            import jax

            devices = [f"{d.platform.upper()}:{d.id}" for d in jax.devices()]
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                devices = [f"GPU:{i} ({torch.cuda.get_device_name(i)})" for i in range(torch.cuda.device_count())]
            else:
                devices = ["CPU:0"]
    except Exception as error:  # pragma: no cover - exotic installations
        devices = [f"unknown ({type(error).__name__})"]
    return {"backend": backend, "devices": devices}


__all__ = [
    "MAX_HINTS",
    "METRICS_AT",
    "MIN_HINTS",
    "MultiMonitorStopping",
    "early_stopping_epoch",
    "fit_run",
    "monitor_mode",
    "run_record",
    "runtime_info",
]
