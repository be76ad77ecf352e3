"""Several models in one process, each trained on two devices and on one.

Run by tests/test_long_lived.py in a subprocess (the devices must be
configured before the backend starts), all scenarios in sequence, in the
order a notebook or a script that trains model after model would:

    python tests/scripts/long_lived_train.py OUT.npz tensorflow
    python tests/scripts/long_lived_train.py OUT.npz jax

TensorFlow: `tf.distribute.MirroredStrategy` over two logical CPUs, a new
strategy object per model ("inline") unless said otherwise; JAX: a new
`keras.distribution.DataParallel` over two host devices per model.

Scenarios:

- `strategies`: issue 23: a plain Keras model under a first strategy, then a
  smaller model with `SoftmaxEntropyLoss(balance=1.0)` under a second one,
  then one with `KLSparsity` and the balance term under the first strategy
  again. TensorFlow's own gradient all-reduce cannot run under a second
  strategy in a process (tensorflow/tensorflow#62790), so every strategy
  after the first is made with `cross_device_ops=ReductionToOneDevice()`
  (docs/distributed.md);
- `saving`: a model trained under a strategy, saved (`.keras`), loaded under
  another and trained again;
- `reuse`: one `EntropyMonitor` for two models, and `place_penalties` on
  each;
- `tuner`: a KerasTuner grid search over two layer sizes, on TensorFlow with
  `distribution_strategy=` (one strategy for every trial), on JAX with a
  `DataParallel` that the model-building function sets (KerasTuner's
  `clear_session()` before each trial forgets an enclosing scope's): each
  trial's final weights and best loss;
- `tf_bug` (TensorFlow, last: it breaks the process's collectives): a plain
  Keras model under another default `MirroredStrategy` fails in TensorFlow's
  own all-reduce; 1.0 in `tf_bug/failed` while TensorFlow has that bug.

OUT.npz holds `SCENARIO/single/MODEL/I` and `SCENARIO/multi/MODEL/I`, final
weights (and monitor values), the monitor's keys, and `seconds/SCENARIO`.
"""

import contextlib
import os
import sys
import tempfile
import time

if __name__ == "__main__":  # imported (pytest --doctest-modules): nothing runs
    out_path, mode = sys.argv[1:3]
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ["KERAS_BACKEND"] = mode
    if mode == "jax":
        os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"
    else:
        import tensorflow as tf

        (cpu,) = tf.config.list_physical_devices("CPU")
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_entropy as ke  # noqa: E402
from keras_entropy import distribution  # noqa: E402

DEVICES = ["/cpu:0", "/cpu:1"]
BATCH, LR = 16, 0.1
RNG = np.random.default_rng(0)
X = RNG.normal(size=(48, 10)).astype("float32")
Y = RNG.integers(0, 5, size=48)


def new_strategy(first=False):
    """TF: the first strategy as a user makes it, later ones without collective gradients."""
    if first:
        strategy = tf.distribute.MirroredStrategy(DEVICES)
    else:
        strategy = tf.distribute.MirroredStrategy(DEVICES, cross_device_ops=tf.distribute.ReductionToOneDevice())
    assert strategy.num_replicas_in_sync == 2, strategy.num_replicas_in_sync
    return strategy


def distributed(strategy=None):
    """A scope of two devices: `strategy`'s, else a new strategy (TF) or `DataParallel` (JAX)."""
    if mode == "jax":
        return keras.distribution.DataParallel(devices=keras.distribution.list_devices()).scope()
    return (strategy or new_strategy()).scope()


def plain_model():
    return keras.Sequential([keras.Input((10,)), keras.layers.Dense(7, name="a"), keras.layers.Dense(5, name="b")])


def clustering_model():
    return keras.Sequential([keras.Input((10,)), keras.layers.Dense(5, name="c")])


def sparse_model():
    return keras.Sequential(
        [
            keras.Input((10,)),
            keras.layers.Dense(
                6,
                activation="sigmoid",
                name="code",
                kernel_regularizer=ke.DenseEntropy(0.01),
                activity_regularizer=ke.KLSparsity(0.1, beta=1.0),
            ),
            keras.layers.Dense(4, name="out"),
        ]
    )


def initial_weights(build):
    keras.utils.set_random_seed(7)
    return build().get_weights()


def clustering_loss():
    return ke.SoftmaxEntropyLoss(beta=1.0, balance=1.0)


def fit(model, loss, supervised=False, epochs=2):
    if loss is not None:
        model.compile(optimizer=keras.optimizers.SGD(LR), loss=loss)
    model.fit(X, Y if supervised else None, batch_size=BATCH, epochs=epochs, shuffle=False, verbose=0)
    return model


def trained(build, loss, scope=None, supervised=False):
    """`build()` from the common initial weights, trained under `scope` (None: one device)."""
    initial = initial_weights(build)
    if scope is None:
        model = build()
        model.set_weights(initial)
        return fit(model, loss(), supervised).get_weights()
    with scope:
        model = build()
        model.set_weights(initial)
        return fit(model, loss(), supervised).get_weights()


def record(results, scenario, name, single, multi):
    for i, (s, m) in enumerate(zip(single, multi)):
        results[f"{scenario}/single/{name}/{i}"] = np.asarray(s, "float32")
        results[f"{scenario}/multi/{name}/{i}"] = np.asarray(m, "float32")


def strategies(results):
    """Issue 23's snippet, then the first strategy reused for a third model."""
    first = None if mode == "jax" else new_strategy(first=True)
    scratch = keras.losses.SparseCategoricalCrossentropy
    multi = {
        "plain": trained(plain_model, lambda: scratch(from_logits=True), distributed(first), supervised=True),
        "clustering": trained(clustering_model, clustering_loss, distributed()),
        "sparse": trained(sparse_model, clustering_loss, distributed(first)),
    }
    record(
        results,
        "strategies",
        "plain",
        trained(plain_model, lambda: scratch(from_logits=True), None, True),
        multi["plain"],
    )
    record(results, "strategies", "clustering", trained(clustering_model, clustering_loss), multi["clustering"])
    record(results, "strategies", "sparse", trained(sparse_model, clustering_loss), multi["sparse"])
    # TF: keras_entropy's own collectives, one set per strategy that reduced a batch term.
    results["strategies/own_collectives"] = np.float64(len(distribution._OWN_COLLECTIVE_OPS))


def save_load_train(path, distribute):
    """Train one epoch, save to `path`, load, train another: the final weights."""
    initial = initial_weights(sparse_model)
    with distributed() if distribute else contextlib.nullcontext():
        model = sparse_model()
        model.set_weights(initial)
        fit(model, clustering_loss(), epochs=1).save(path)
    with distributed() if distribute else contextlib.nullcontext():
        loaded = keras.saving.load_model(path)
        assert isinstance(loaded.loss, ke.SoftmaxEntropyLoss), loaded.loss
        return fit(loaded, None, epochs=1).get_weights()


def saving(results):
    with tempfile.TemporaryDirectory() as directory:
        multi = save_load_train(os.path.join(directory, "multi.keras"), True)
        single = save_load_train(os.path.join(directory, "single.keras"), False)
    record(results, "saving", "sparse", single, multi)


def monitored(monitor, distribute):
    """Two models in sequence with one monitor, penalties placed on each: weights, logs."""
    out = {}
    for name, build, where in (("plain", plain_model, "all"), ("clustering", clustering_model, "first")):
        initial = initial_weights(build)
        with distributed() if distribute else contextlib.nullcontext():
            model = build()
            model.set_weights(initial)
            ke.place_penalties(model, where, 0.01)
            model.compile(optimizer=keras.optimizers.SGD(LR), loss=clustering_loss())
            history = model.fit(X, batch_size=BATCH, epochs=2, shuffle=False, verbose=0, callbacks=[monitor])
        logs = {
            key: np.asarray(value, "float32") for key, value in history.history.items() if key.startswith("entropy")
        }
        out[name] = model.get_weights() + [logs[key] for key in sorted(logs)]
        out[f"{name}/keys"] = sorted(logs)
    out["batch_keys"] = sorted(monitor.batch_history)
    return out


def reuse(results):
    multi = monitored(ke.EntropyMonitor(every_n_batches=1), True)
    single = monitored(ke.EntropyMonitor(every_n_batches=1), False)
    for name in ("plain", "clustering"):
        record(results, "reuse", name, single[name], multi[name])
        results[f"reuse/keys/{name}"] = np.array(multi[f"{name}/keys"])
        assert multi[f"{name}/keys"] == single[f"{name}/keys"]
    results["reuse/keys/batch"] = np.array(multi["batch_keys"])


def tuner_model(hp):
    """Two layer sizes; weights from a fixed generator (the same on one device and on two)."""
    units = hp.Choice("units", [4, 6])
    if TRIAL_DISTRIBUTION:
        # JAX: KerasTuner calls keras.backend.clear_session() before each
        # trial, which drops the distribution of an enclosing scope.
        keras.distribution.set_distribution(TRIAL_DISTRIBUTION[0])
    model = keras.Sequential(
        [
            keras.Input((10,)),
            keras.layers.Dense(units, activation="sigmoid", activity_regularizer=ke.KLSparsity(0.1, beta=1.0)),
            keras.layers.Dense(3),
        ]
    )
    rng = np.random.default_rng(units)
    model.set_weights([rng.normal(scale=0.5, size=w.shape).astype("float32") for w in model.get_weights()])
    model.compile(optimizer=keras.optimizers.SGD(LR), loss=clustering_loss())
    BUILT.append((units, model, _distributed_now()))
    return model


#: `(units, model, built on two devices)` of every model `tuner_model` built.
BUILT = []
#: JAX: the distribution `tuner_model` sets for its trial (empty: none).
TRIAL_DISTRIBUTION = []


def _distributed_now():
    if mode == "jax":
        return keras.distribution.distribution() is not None
    return tf.distribute.has_strategy() and tf.distribute.get_strategy().num_replicas_in_sync == 2


def search(directory, distribute):
    """A KerasTuner grid search over the layer sizes: each trial's loss per epoch, by units."""
    import keras_tuner

    strategy = {"distribution_strategy": new_strategy()} if distribute and mode == "tensorflow" else {}
    tuner = keras_tuner.GridSearch(
        tuner_model, objective="loss", max_trials=2, directory=directory, overwrite=True, **strategy
    )
    BUILT.clear()
    if distribute and mode == "jax":
        TRIAL_DISTRIBUTION[:] = [keras.distribution.DataParallel(devices=keras.distribution.list_devices())]
    try:
        tuner.search(X, epochs=2, batch_size=BATCH, shuffle=False, verbose=0)
    finally:
        TRIAL_DISTRIBUTION.clear()
        keras.distribution.set_distribution(None)
    assert [on_two for _, _, on_two in BUILT] == [distribute] * 2, BUILT
    losses = {t.hyperparameters.get("units"): t.metrics.get_best_value("loss") for t in tuner.oracle.trials.values()}
    return {units: model.get_weights() + [np.float32(losses[units])] for units, model, _ in BUILT}


def tuner(results):
    with tempfile.TemporaryDirectory() as directory:
        multi = search(os.path.join(directory, "multi"), True)
        single = search(os.path.join(directory, "single"), False)
    assert sorted(multi) == sorted(single) == [4, 6], (multi, single)
    for units in (4, 6):
        record(results, "tuner", f"units_{units}", single[units], multi[units])


def tf_bug(results):
    """TensorFlow's own all-reduce under a second default strategy (no keras_entropy in it)."""
    try:
        with new_strategy(first=True).scope():
            model = plain_model_small()
            fit(model, keras.losses.SparseCategoricalCrossentropy(from_logits=True), supervised=True, epochs=1)
        failed = 0.0
    except Exception as error:  # TensorFlow raises its own error types
        assert "Shape mismatch in the collective instance" in str(error), error
        failed = 1.0
    results["tf_bug/failed"] = np.float64(failed)


def plain_model_small():
    return keras.Sequential([keras.Input((10,)), keras.layers.Dense(5, name="small")])


def main():
    keras.config.disable_traceback_filtering()  # full tracebacks in the test log
    results = {}
    for scenario in [strategies, saving, reuse, tuner] + ([tf_bug] if mode == "tensorflow" else []):
        begin = time.perf_counter()
        scenario(results)
        results[f"seconds/{scenario.__name__}"] = np.float64(time.perf_counter() - begin)
    np.savez(out_path, **results)


if __name__ == "__main__":
    main()
