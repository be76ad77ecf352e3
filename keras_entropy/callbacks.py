"""`EntropyMonitor`: watch the entropy change of layers while a model trains."""

import numbers
import os

import keras
import numpy as np

from keras_entropy import validation
from keras_entropy.placement import select_layers
from keras_entropy.profile import STATISTICS, layer_entropy, layer_kind, output_spatial_shape


class EntropyMonitor(keras.callbacks.Callback):
    r"""Records each monitored layer's entropy change during training.

    $$
    \Delta H_{\mathrm{conv}} = N_{\mathrm{out}} \sum_{i,o} \log\lvert K[0, 0, i, o]\rvert,
    \qquad
    \Delta H_{\mathrm{dense}} = \log\lvert\det K[{:}k, {:}k]\rvert
    $$

    in nats, for the default `form="paper"`.

    For each monitored `Conv2D` layer the recorded value is (MATH.md section 2)

        dH_conv = N_out * sum_{i,o} log|K[0, 0, i, o]|

    with `N_out` the layer's output height x width, and for each `Dense` layer
    (section 1) `dH_dense = log|det K[:k, :k]|`. With `statistic="mean"` (or
    `"median"`, `"min"`, `"max"`) the value is instead that statistic of the
    per-filter `log|K[0, 0, i, o]|`, the quantity of the paper's box plots.

    With `form="volume"` or `"normalized"` (MATH.md sections 8-10) the values
    are those of `entropy_profile(..., form=form, grid=grid)`: the whole
    kernel's `dH` (`statistic="total"`), or, since a layer then has one value
    and no per-filter values, with any other statistic the per-position
    `dH / (h w)` of a conv layer and the `dH` of a dense one. The keys and
    tags then start with `"{prefix}_{form}"` (e.g. `"entropy_volume/conv2d"`),
    so that TensorBoard shows each form in its own section and two monitors
    of different forms can share a run; histograms are not written (there is
    no per-filter distribution). The paper form keeps the keys `"{prefix}/..."`.

    At the end of every epoch the values are added to the epoch logs under
    `"{prefix}/{layer name}"`, so they land in `History.history` (and in any
    callback that reads the logs after this one). With `every_n_batches=N`
    they are also recorded every `N` training batches into `batch_history`
    (a dict from key to a list of `(step, value)`, `step` counting batches
    from the start of training). With `log_dir`, every record is also written
    to TensorBoard: a scalar per layer and, with `histograms=True`, a
    histogram of the per-filter values under `"{prefix}_filters/{layer name}"`
    (step = epoch for epoch records, batch step for batch records, which go
    to the tags `"{prefix}_batch/..."`). TensorBoard writing uses
    `tf.summary`, as `keras.callbacks.TensorBoard` does, on every backend; it
    needs the `tensorflow` and `tensorboard` packages.

    Example:

    >>> import keras, keras_entropy, numpy as np
    >>> model = keras.Sequential([
    ...     keras.Input((16, 16, 1)),
    ...     keras.layers.Conv2D(8, 3, activation="relu", name="conv2d"),
    ...     keras.layers.Flatten(),
    ...     keras.layers.Dense(10, activation="softmax", name="dense")])
    >>> model.compile("adam", "sparse_categorical_crossentropy")
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(64, 16, 16, 1)).astype("float32"), rng.integers(0, 10, 64)
    >>> monitor = keras_entropy.EntropyMonitor(log_dir="logs/entropy")
    >>> history = model.fit(x, y, epochs=3, callbacks=[monitor], verbose=0)
    >>> len(history.history["entropy/conv2d"])        # one value per epoch
    3
    >>> volume = keras_entropy.EntropyMonitor(form="normalized")
    >>> history = model.fit(x, y, epochs=3, callbacks=[volume], verbose=0)
    >>> all(value <= 0 for value in history.history["entropy_normalized/conv2d"])
    True

    Args:
        layers: which layers: None (default: every Dense and Conv2D layer), a
            placement strategy (`"first"`, `"first_two"`, `"all"`,
            `"pre_skip"`, `"pre_concat"`), or a list of layer names / profile
            indices (see `keras_entropy.select_layers`).
        every_n_batches: None (default: epoch records only) or an int >= 1.
        log_dir: a directory for TensorBoard event files, or None (default).
        histograms: also write histograms of the per-filter values (only
            with `log_dir`; default True).
        statistic: `"total"` (the layer's `dH`, default) or a statistic of
            its per-filter values (`"mean"`, `"median"`, `"min"`, `"max"`).
        prefix: the first part of the keys and tags (default `"entropy"`).
        form: `"paper"` (default), `"volume"` or `"normalized"`.
        grid: `(h, w)`, the frequency grid of the conv layers in a volume
            form, or None (default) for each layer's
            `regularizers.default_grid`.
    """

    def __init__(
        self,
        layers=None,
        every_n_batches=None,
        log_dir=None,
        histograms=True,
        statistic="total",
        prefix="entropy",
        form="paper",
        grid=None,
    ):
        super().__init__()
        if layers is not None and not isinstance(layers, (str, list, tuple)):
            raise TypeError(
                "Argument `layers` must be None, a strategy name or a list of layer names / "
                f"indices. Received: layers={layers!r}"
            )
        if isinstance(layers, str) and layers == "empirical":
            raise ValueError(
                "EntropyMonitor does not take the 'empirical' strategy (it needs a reference "
                "profile): select the layers with keras_entropy.select_layers and pass their "
                f"names. Received: layers={layers!r}"
            )
        if every_n_batches is not None and (
            isinstance(every_n_batches, bool)
            or not isinstance(every_n_batches, numbers.Integral)
            or every_n_batches < 1
        ):
            raise ValueError(
                f"Argument `every_n_batches` must be None or an int >= 1. Received: every_n_batches={every_n_batches!r}"
            )
        if log_dir is not None and not isinstance(log_dir, (str, os.PathLike)):
            raise TypeError(f"Argument `log_dir` must be a path or None. Received: log_dir={log_dir!r}")
        self.layers = list(layers) if isinstance(layers, (list, tuple)) else layers
        self.every_n_batches = None if every_n_batches is None else int(every_n_batches)
        self.log_dir = None if log_dir is None else os.fspath(log_dir)
        self.histograms = validation.validate_bool(histograms, "histograms")
        self.statistic = validation.validate_choice(statistic, "statistic", STATISTICS)
        self.prefix = validation.validate_string(prefix, "prefix")
        self.form = validation.validate_form(form)
        self.grid = validation.validate_grid(grid)
        self.batch_history = {}
        self._monitored = None
        self._writer = None
        self._step = 0
        if self.every_n_batches is not None:
            # Only then is there a batch hook: overriding `on_train_batch_end`
            # makes Keras convert every batch's logs synchronously (no async
            # dispatch on JAX and PyTorch), which costs time per batch.
            self.on_train_batch_end = self._record_batch

    def get_config(self):
        """The constructor's arguments; `form` and `grid` only when not the defaults
        (a paper-form monitor's config is the one it had before the forms)."""
        config = {
            "layers": self.layers,
            "every_n_batches": self.every_n_batches,
            "log_dir": self.log_dir,
            "histograms": self.histograms,
            "statistic": self.statistic,
            "prefix": self.prefix,
        }
        if self.form != "paper":
            config["form"] = self.form
        if self.grid is not None:
            config["grid"] = list(self.grid)
        return config

    @property
    def key_prefix(self):
        """The first part of the keys and tags: `prefix`, or `"{prefix}_{form}"`."""
        return self.prefix if self.form == "paper" else f"{self.prefix}_{self.form}"

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # -- what is monitored -------------------------------------------------

    def _resolve(self):
        model = self.model
        where = "all" if self.layers is None else self.layers
        layers = select_layers(model, where)
        self._monitored = [
            (layer, output_spatial_shape(layer) if layer_kind(layer) == "conv" else None) for layer in layers
        ]

    def measure(self):
        """`{key: (value, per_filter_values)}` for the monitored layers, now."""
        if self._monitored is None:
            self._resolve()
        _ = self.model  # on JAX, syncs the training state into the variables
        results = {}
        for layer, hw in self._monitored:
            entry = layer_entropy(layer, output_shape=hw, form=self.form, grid=self.grid)
            results[f"{self.key_prefix}/{layer.name}"] = (entry.statistic(self.statistic), entry)
        return results

    # -- TensorBoard -------------------------------------------------------

    def _summary_writer(self):
        if self._writer is None:
            try:
                import tensorflow as tf  # noqa: PLC0415 - TensorBoard is optional
            except ImportError as exc:
                raise ImportError(
                    "EntropyMonitor(log_dir=...) writes TensorBoard events with tf.summary and "
                    "needs the tensorflow and tensorboard packages."
                ) from exc
            self._tf = tf
            self._writer = tf.summary.create_file_writer(self.log_dir)
        return self._writer

    def _write(self, results, step, scalar_prefix):
        writer = self._summary_writer()
        tf = self._tf
        with writer.as_default():
            for key, (value, entry) in results.items():
                name = key.split("/", 1)[1]
                tf.summary.scalar(f"{scalar_prefix}/{name}", float(value), step=step)
                if self.histograms and self.form == "paper":
                    values = entry.values[np.isfinite(entry.values)]
                    if values.size:
                        tf.summary.histogram(f"{scalar_prefix}_filters/{name}", values, step=step)
        writer.flush()

    # -- callback hooks ------------------------------------------------------

    def on_train_begin(self, logs=None):
        self._resolve()
        self._step = 0

    def _record_batch(self, batch, logs=None):
        self._step += 1
        if self.every_n_batches is None or self._step % self.every_n_batches:
            return
        results = self.measure()
        for key, (value, _) in results.items():
            self.batch_history.setdefault(key, []).append((self._step, float(value)))
        if self.log_dir is not None:
            self._write(results, self._step, f"{self.key_prefix}_batch")

    def on_epoch_end(self, epoch, logs=None):
        results = self.measure()
        if logs is not None:
            for key, (value, _) in results.items():
                logs[key] = float(value)
        if self.log_dir is not None:
            self._write(results, epoch, self.key_prefix)

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


__all__ = ["EntropyMonitor"]
