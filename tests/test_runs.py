"""keras_entropy.experiments.runs: stopping epochs, direction, and the run record."""

import math
import types

import keras
import pytest

from keras_entropy.experiments import autoencoder, runs

pytestmark = pytest.mark.one_backend


class _Model:
    stop_training = False


@pytest.mark.parametrize("mode", ["min", "max"])
@pytest.mark.parametrize(
    "values, patience, min_delta",
    [
        ([5, 4, 3, 3, 3, 3, 2, 2, 2], 2, 0.0),
        ([5, 4, 3, 3.0, 2.99, 2.98, 2.97, 2.96], 3, 0.05),
        ([1, 2, 3, 4, 5, 6], 0, 0.0),
        ([1, 2, 3, 4, 5, 6], 4, 0.0),
        ([3, float("nan"), 2, 2.5, 2.6, 2.7, 1.0], 3, 0.0),
        ([9, 8, 7, 6, 5], 1, 0.0),
    ],
)
def test_early_stopping_replay_matches_keras(values, patience, min_delta, mode):
    callback = keras.callbacks.EarlyStopping(monitor="m", patience=patience, min_delta=min_delta, mode=mode)
    model = _Model()
    callback.set_model(model)
    callback.on_train_begin()
    keras_stop = None
    for epoch, value in enumerate(values):
        callback.on_epoch_end(epoch, {"m": value})
        if model.stop_training:
            keras_stop = epoch + 1
            break
    stop, best = runs.early_stopping_epoch(values, patience, min_delta, mode)
    assert stop == keras_stop
    if keras_stop is not None:
        assert best == callback.best_epoch + 1


def test_early_stopping_validation():
    with pytest.raises(ValueError, match="patience=-1"):
        runs.early_stopping_epoch([1.0], -1)
    with pytest.raises(ValueError, match="mode='up'"):
        runs.early_stopping_epoch([1.0], 1, mode="up")
    with pytest.raises(ValueError, match="stop_when='never'"):
        runs.MultiMonitorStopping(["val_loss"], stop_when="never")


def test_dense_autoencoder_run_records_both_monitors(rng):
    x = rng.random((64, 16)).astype("float32")
    config = {"latent_dim": 6, "lam": 0.05, "patience": 1, "max_epochs": 6, "batch_size": 16}
    out = autoencoder.dense_autoencoder_run(config, 3, (x, x[:32]), verbose=0)
    history = out["history"]
    assert {"loss", "mse", "val_loss", "val_mse"} <= set(history)
    n = out["epochs_trained"]
    assert all(len(v) == n for v in history.values())
    # val_loss = val_mse + the entropy penalty (> 0 for lam > 0).
    assert all(vl > vm for vl, vm in zip(history["val_loss"], history["val_mse"]))
    for monitor in ("val_loss", "val_mse"):
        stop = out["stopping"][monitor]
        replay, best = runs.early_stopping_epoch(history[monitor], 1)
        assert stop["stopped"] == (replay is not None)
        assert stop["epoch"] == (replay if replay is not None else n) and stop["best_epoch"] == best
    # stop_when="all": training ran until both monitors stopped or hit the cap.
    assert n == 6 or n == max(s["epoch"] for s in out["stopping"].values())
    assert out["monitor"] == "val_loss" and out["stopping_epoch"] == out["stopping"]["val_loss"]["epoch"]
    assert out["metrics"]["val_mse"] == history["val_mse"][out["stopping_epoch"] - 1]
    baseline = autoencoder.dense_autoencoder_run({**config, "lam": 0.0}, 3, (x, x[:32]), verbose=0)
    assert baseline["history"]["val_loss"] == pytest.approx(baseline["history"]["val_mse"], rel=1e-5)
    with pytest.raises(ValueError, match="monitor='loss'"):
        autoencoder.dense_autoencoder_run({**config, "monitor": "loss"}, 0, (x, x), verbose=0)


def test_multi_monitor_stopping_first_stops_on_the_first_monitor():
    stopper = runs.MultiMonitorStopping(["a", "b"], patience=1, stop_when="first")
    stopper.set_model(_Model())
    stopper.on_train_begin()
    for epoch, (a, b) in enumerate([(3, 3), (4, 2), (5, 1)]):
        stopper.on_epoch_end(epoch, {"a": a, "b": b})
        if stopper.model.stop_training:
            break
    assert epoch == 1
    assert stopper.stopping == {
        "a": {"epoch": 2, "best_epoch": 1, "stopped": True},
        "b": {"epoch": 2, "best_epoch": 2, "stopped": False},
    }
    assert not math.isnan(stopper.values["b"][-1])


class _ScriptedModel:
    """A stand-in for a Keras model whose `fit` logs the given per-epoch values."""

    stop_training = False

    def __init__(self, logs):
        self.logs = logs

    def fit(self, x, y, validation_data, epochs, batch_size, callbacks, verbose):
        history = {name: [] for name in self.logs}
        for callback in callbacks:
            callback.set_model(self)
            callback.on_train_begin()
        for epoch in range(min(epochs, len(next(iter(self.logs.values()))))):
            logs = {name: values[epoch] for name, values in self.logs.items()}
            for name, value in logs.items():
                history[name].append(value)
            for callback in callbacks:
                callback.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        return types.SimpleNamespace(history=history)


def test_monitor_mode_knows_accuracy_like_and_loss_like_names():
    for name in (
        "val_accuracy",
        "sparse_categorical_accuracy",
        "val_iou",
        "auc",
        "val_precision",
        "recall",
        "purity",
        "nmi",
    ):
        assert runs.monitor_mode(name) == "max", name
    for name in ("val_loss", "val_mse", "mae", "val_binary_crossentropy", "error_rate"):
        assert runs.monitor_mode(name) == "min", name
    assert runs.monitor_mode("val_something") == "min"
    assert runs.monitor_mode("val_something", default=None) is None


def test_fit_run_on_an_accuracy_monitor_stops_and_reports_in_its_direction():
    # val_accuracy improves until epoch 2, then waits 2 epochs (patience 2): the stop is epoch 4.
    model = _ScriptedModel({"val_accuracy": [0.5, 0.7, 0.6, 0.65, 0.8], "val_loss": [1.0, 0.8, 0.9, 0.85, 0.7]})
    out = runs.fit_run(
        model, None, None, None, monitors=("val_accuracy", "val_loss"), patience=2, stop_when="first", verbose=0
    )
    assert out["stopping"]["val_accuracy"] == {"epoch": 4, "best_epoch": 2, "stopped": True}
    assert out["stopping_epoch"] == 4 and out["epochs_trained"] == 4
    assert out["metrics"]["val_accuracy"] == 0.65
    # The best accuracy is the highest (the former `min` gave 0.5), the best loss the lowest.
    assert out["metrics"]["best_val_accuracy"] == 0.7
    assert out["metrics"]["best_val_loss"] == 0.8
    # An explicit mode overrides the name's: "min" on val_accuracy stops at epoch 3.
    model = _ScriptedModel({"val_accuracy": [0.5, 0.7, 0.6, 0.65, 0.8]})
    out = runs.fit_run(
        model, None, None, None, monitors=("val_accuracy",), patience=2, modes={"val_accuracy": "min"}, verbose=0
    )
    assert out["stopping_epoch"] == 3 and out["metrics"]["best_val_accuracy"] == 0.5


def test_run_record_metrics_at_the_best_epoch_and_without_patience():
    history = {"val_accuracy": [0.2, 0.6, 0.5], "accuracy": [0.3, 0.5, 0.7], "learning_rate": [0.1, 0.1, 0.01]}
    best = runs.run_record(history, ["val_accuracy"], patience=5, metrics_at="best")
    assert best["metrics"] == {"val_accuracy": 0.6, "accuracy": 0.5, "best_epoch": 2}
    assert best["stopping"] == {"val_accuracy": {"epoch": 3, "best_epoch": 2, "stopped": False}}
    assert best["history"] == history and best["monitor"] == "val_accuracy"
    censored = runs.run_record({"val_loss": [3.0, None, 1.0, 2.0]}, "val_loss")
    assert censored["stopping"]["val_loss"] == {"epoch": 4, "best_epoch": 3, "stopped": False}
    assert censored["metrics"] == {"val_loss": 2.0, "best_val_loss": 1.0}
    with pytest.raises(ValueError, match="'val_mse' is not in the history"):
        runs.run_record(history, ["val_accuracy", "val_mse"])
    with pytest.raises(ValueError, match="metrics_at='end'"):
        runs.run_record(history, ["val_accuracy"], metrics_at="end")
    with pytest.raises(ValueError, match="modes='up'"):
        runs.run_record(history, ["val_accuracy"], modes={"val_accuracy": "up"})
