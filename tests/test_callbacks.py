"""EntropyMonitor: History, batch records, TensorBoard event files."""

import glob
import os

import keras
import numpy as np
import pytest

import keras_entropy

pytestmark = pytest.mark.every_backend


def small_model():
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(3, 3, name="conv"),
            keras.layers.Flatten(),
            keras.layers.Dense(4, name="dense"),
        ]
    )
    model.compile(keras.optimizers.SGD(0.05), "mse")
    return model


def data(rng, n=16):
    return (rng.normal(size=(n, 8, 8, 1)).astype("float32"), rng.normal(size=(n, 4)).astype("float32"))


def read_events(log_dir):
    import tensorflow as tf

    scalars, histograms = {}, {}
    for path in glob.glob(os.path.join(log_dir, "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                array = tf.make_ndarray(value.tensor)
                plugin = value.metadata.plugin_data.plugin_name
                if plugin == "scalars" or array.ndim == 0:
                    scalars.setdefault(value.tag, []).append((event.step, float(array)))
                else:
                    histograms.setdefault(value.tag, []).append((event.step, array))
    return scalars, histograms


def test_monitor_records_every_epoch_into_history_and_tensorboard(tmp_path, rng):
    model = small_model()
    x, y = data(rng)
    log_dir = str(tmp_path / "tb")
    monitor = keras_entropy.EntropyMonitor(log_dir=log_dir)
    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[monitor])
    values = history.history["entropy/conv"]
    assert len(values) == 3 and len(history.history["entropy/dense"]) == 3
    # Training changes the kernels, so the entropy change moves.
    assert len(set(values)) == 3
    final = keras_entropy.entropy_profile(model)
    assert values[-1] == pytest.approx(final["conv"].total, rel=1e-6)
    assert history.history["entropy/dense"][-1] == pytest.approx(final["dense"].total, rel=1e-6)

    scalars, histograms = read_events(log_dir)
    assert [s for s, _ in scalars["entropy/conv"]] == [0, 1, 2]
    np.testing.assert_allclose([v for _, v in scalars["entropy/conv"]], values, rtol=1e-6)
    assert [s for s, _ in histograms["entropy_filters/conv"]] == [0, 1, 2]
    buckets = histograms["entropy_filters/conv"][-1][1]
    assert buckets.shape[1] == 3 and buckets[:, 2].sum() == 3  # 1 x 3 filters


def test_monitor_every_n_batches_and_layer_choice(tmp_path, rng):
    model = small_model()
    x, y = data(rng, n=32)
    monitor = keras_entropy.EntropyMonitor(
        layers=["conv"], every_n_batches=2, statistic="mean", log_dir=str(tmp_path), prefix="H"
    )
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[monitor])
    assert [k for k in history.history if k.startswith("H/")] == ["H/conv"]
    steps = [s for s, _ in monitor.batch_history["H/conv"]]
    assert steps == [2, 4, 6, 8]  # 4 batches per epoch, 2 epochs
    # The record at the last batch equals the epoch-end value.
    assert monitor.batch_history["H/conv"][-1][1] == pytest.approx(history.history["H/conv"][-1])
    assert history.history["H/conv"][-1] == pytest.approx(
        float(np.mean(keras_entropy.entropy_profile(model)["conv"].values)), rel=1e-6
    )
    scalars, _ = read_events(str(tmp_path))
    assert [s for s, _ in scalars["H_batch/conv"]] == steps
    assert "H/conv" in scalars and "H/dense" not in scalars


def test_monitor_strategy_without_log_dir_writes_no_events(tmp_path, rng):
    model = small_model()
    x, y = data(rng)
    monitor = keras_entropy.EntropyMonitor(layers="first")
    history = model.fit(x, y, epochs=1, verbose=0, callbacks=[monitor])
    assert "entropy/conv" in history.history and "entropy/dense" not in history.history
    assert monitor.batch_history == {}


def test_monitor_config_and_argument_errors():
    monitor = keras_entropy.EntropyMonitor(
        layers=["a", 1], every_n_batches=5, log_dir="x", histograms=False, statistic="median", prefix="p"
    )
    config = monitor.get_config()
    assert config == {
        "layers": ["a", 1],
        "every_n_batches": 5,
        "log_dir": "x",
        "histograms": False,
        "statistic": "median",
        "prefix": "p",
    }
    assert keras_entropy.EntropyMonitor.from_config(config).get_config() == config
    with pytest.raises(ValueError, match="every_n_batches=0"):
        keras_entropy.EntropyMonitor(every_n_batches=0)
    with pytest.raises(ValueError, match="every_n_batches=True"):
        keras_entropy.EntropyMonitor(every_n_batches=True)
    with pytest.raises(ValueError, match="statistic='sum'"):
        keras_entropy.EntropyMonitor(statistic="sum")
    with pytest.raises(TypeError, match="layers=3"):
        keras_entropy.EntropyMonitor(layers=3)
    with pytest.raises(ValueError, match="empirical"):
        keras_entropy.EntropyMonitor(layers="empirical")
    with pytest.raises(TypeError, match="log_dir=5"):
        keras_entropy.EntropyMonitor(log_dir=5)
    with pytest.raises(TypeError, match="histograms"):
        keras_entropy.EntropyMonitor(histograms="no")
    with pytest.raises(ValueError, match="prefix"):
        keras_entropy.EntropyMonitor(prefix="")


def test_monitor_volume_form_logs_under_the_forms_keys(tmp_path, rng):
    """form="normalized": keys and TensorBoard tags `entropy_normalized/...`,
    values those of entropy_profile(model, form="normalized"), no histograms."""
    model = small_model()
    x, y = data(rng)
    log_dir = str(tmp_path / "tb")
    monitor = keras_entropy.EntropyMonitor(log_dir=log_dir, form="normalized", every_n_batches=2)
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[monitor])
    assert sorted(k for k in history.history if k.startswith("entropy")) == [
        "entropy_normalized/conv",
        "entropy_normalized/dense",
    ]
    final = keras_entropy.entropy_profile(model, form="normalized")
    for name in ("conv", "dense"):
        values = history.history[f"entropy_normalized/{name}"]
        assert len(values) == 2 and values[-1] == pytest.approx(final[name].total, rel=1e-5)
        assert values[-1] <= 1e-6  # the normalized form is <= 0
    assert [s for s, _ in monitor.batch_history["entropy_normalized/conv"]] == [2, 4]
    scalars, histograms = read_events(log_dir)
    assert [s for s, _ in scalars["entropy_normalized/conv"]] == [0, 1]
    assert [s for s, _ in scalars["entropy_normalized_batch/dense"]] == [2, 4]
    assert histograms == {}  # one value per layer: no per-filter histogram
    # A statistic other than "total" is the conv layer's per-position value.
    per_position = keras_entropy.EntropyMonitor(layers=["conv"], statistic="mean", form="volume")
    per_position.set_model(model)
    ((key, (value, entry)),) = per_position.measure().items()
    assert key == "entropy_volume/conv" and entry.grid == (6, 6)
    assert value == pytest.approx(entry.total / 36, rel=1e-5)


def test_monitor_form_config_and_errors():
    monitor = keras_entropy.EntropyMonitor(form="volume", grid=(4, 4))
    config = monitor.get_config()
    assert config["form"] == "volume" and config["grid"] == [4, 4]
    assert keras_entropy.EntropyMonitor.from_config(config).get_config() == config
    assert "form" not in keras_entropy.EntropyMonitor().get_config()
    with pytest.raises(ValueError, match="form='det'"):
        keras_entropy.EntropyMonitor(form="det")
    with pytest.raises(TypeError, match="grid"):
        keras_entropy.EntropyMonitor(form="volume", grid=(4,))
