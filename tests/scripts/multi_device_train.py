"""Train the same small models on one device and on two; save both results.

Run by tests/test_multi_device.py in a subprocess, because the devices must
be configured before the backend starts:

    python tests/scripts/multi_device_train.py OUT.npz tensorflow [VARIANT ...]
    python tests/scripts/multi_device_train.py OUT.npz jax [VARIANT ...]
    python tests/scripts/multi_device_train.py OUT.npz worker INDEX PORT0 PORT1

`tensorflow`: `tf.distribute.MirroredStrategy` over two logical CPUs;
`jax`: `keras.distribution.DataParallel` over two host devices; `worker`: one
of two processes of a `MultiWorkerMirroredStrategy` on 127.0.0.1 (worker 0
also trains the one-process reference and writes OUT.npz).

Variants (default: `plain`):

- `plain`: float32; TensorFlow: the `penalties` and `sparsity` models,
  JAX: the `penalties` model, which carries `KLSparsity` there;
- `mixed`: the `mixed_float16` policy, the models of `plain`;
- `unfixed`: the per-replica balance term of `SoftmaxEntropyLoss` as it was
  before the global-batch mean (local `<q>`, no replica scaling), penalties
  model only: shows that the comparison can fail;
- `local_rho`: TensorFlow only: `KLSparsity` as it was before the
  global-batch mean (each replica's own `rho_hat`), sparsity model only:
  shows that the comparison can fail for it too;
- `public`: TensorFlow only: the balance term's all-reduce through the
  public `ReplicaContext.all_reduce` (`merge_call`), whose gradient is
  checked here; the model has kernel regularizers only (a `merge_call`
  inside the loss mixes up the replicas' `add_loss` terms, see
  `keras_entropy.distribution`);
- `jit`: TensorFlow only, one device: `jit_compile=True` ("multi") against
  `jit_compile=False` ("single"), penalties model only (Keras cannot
  XLA-compile a `MirroredStrategy` step on CPUs).

OUT.npz holds `VARIANT/single/MODEL/I` and `VARIANT/multi/MODEL/I`, the
final weights, and `seconds` (`seconds/VARIANT`), the time spent training.
"""

import json
import os
import sys
import time

out_path, mode, *rest = sys.argv[1:]
variants = (rest if mode != "worker" else []) or ["plain"]
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
if mode == "jax":
    os.environ["KERAS_BACKEND"] = "jax"
    os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"
else:
    os.environ["KERAS_BACKEND"] = "tensorflow"
if mode == "worker":
    index, ports = int(rest[0]), rest[1:3]
    os.environ["TF_CONFIG"] = json.dumps(
        {
            "cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]},
            "task": {"type": "worker", "index": index},
        }
    )

if mode in ("tensorflow", "worker"):
    import tensorflow as tf

    if mode == "tensorflow":
        (cpu,) = tf.config.list_physical_devices("CPU")
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    else:  # before any other TF op: the collective ops are set up here
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    assert strategy.num_replicas_in_sync == 2, strategy.num_replicas_in_sync

import keras  # noqa: E402

keras.config.disable_traceback_filtering()  # full tracebacks in the test log
import numpy as np  # noqa: E402

import keras_entropy as ke  # noqa: E402
from keras_entropy import distribution  # noqa: E402
from keras_entropy import ops as entropy_ops  # noqa: E402

FIXED_CALL = ke.SoftmaxEntropyLoss.call
FIXED_KL_CALL = ke.KLSparsity.__call__
COLLECTIVE_ALL_REDUCE = distribution._all_reduce_sum


def public_all_reduce(tf, context, value):
    """Always `ReplicaContext.all_reduce`, the `merge_call` route."""
    return context.all_reduce(tf.distribute.ReduceOp.SUM, value)


def unfixed_call(self, y_true, y_pred):
    """The loss as it was: local `<q>`, no replica scaling."""
    return entropy_ops.softmax_entropy_clustering_loss(y_pred, beta=self.beta, balance=self.balance)


def local_rho_call(self, x):
    """`KLSparsity` as it was: `rho_hat` of this replica's share of the batch."""
    penalty = entropy_ops.kl_sparsity_penalty(x, rho=self.rho, beta=self.beta, delta=self.delta)
    return penalty * keras.ops.cast(keras.ops.shape(x)[0], "float32")


if mode == "jax":
    import jax

    assert len(jax.devices()) == 2, jax.devices()

# 43 samples in batches of 16: the last batch (11) splits 6 + 5 on two
# replicas, which tests the exact global mean. JAX's DataParallel needs
# batches divisible by the number of devices: 48 samples there.
SAMPLES = 48 if mode == "jax" else 43
BATCH, EPOCHS, LR = 16, 2, 0.1


def penalties_model():
    """Every weight penalty, and the loss with its balance term."""
    return keras.Sequential(
        [
            keras.Input((6, 6, 2)),
            ke.EntropyConv2D(3, 3, lam=0.01, stabilized=True, activation="tanh"),
            keras.layers.Conv2D(
                3,
                2,
                activation="tanh",
                kernel_regularizer=ke.ConvEntropy(0.01, output_shape=(3, 3), stabilized=False),
            ),
            keras.layers.Flatten(),
            ke.EntropyDense(
                8,
                lam=0.01,
                stabilized=False,
                # JAX: KLSparsity here too (its batch is global there), which
                # saves the compilation of a separate `sparsity` model.
                activation="sigmoid" if mode == "jax" else "tanh",
                activity_regularizer=ke.KLSparsity(0.1) if mode == "jax" else None,
            ),
            keras.layers.Dense(5, kernel_regularizer=ke.DenseEntropy(0.01, stabilized=True)),
        ]
    )


def regularized_model():
    """The penalties as kernel regularizers only: no `add_loss` in `call`."""
    return keras.Sequential(
        [
            keras.Input((6, 6, 2)),
            keras.layers.Conv2D(3, 3, activation="tanh", kernel_regularizer=ke.ConvEntropy(0.01, (4, 4))),
            keras.layers.Flatten(),
            keras.layers.Dense(8, activation="tanh", kernel_regularizer=ke.DenseEntropy(0.01, stabilized=False)),
            keras.layers.Dense(5, kernel_regularizer=ke.DenseEntropy(0.01)),
        ]
    )


def sparsity_model():
    """`KLSparsity` as an activity regularizer of a sigmoid code."""
    return keras.Sequential(
        [
            keras.Input((10,)),
            keras.layers.Dense(6, activation="sigmoid", activity_regularizer=ke.KLSparsity(0.1, beta=1.0)),
            keras.layers.Dense(10),
        ]
    )


def data():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(SAMPLES, 6, 6, 2)).astype("float32")
    # Generic vectors: the two replicas' shares of a batch have different
    # statistics, so KLSparsity's rho_hat of one share is not the batch's.
    vectors = rng.normal(size=(SAMPLES, 10)).astype("float32")
    return images, vectors


def keep_c11_away_from_zero(weights):
    """`|K[0, 0, i, o]| >= 0.3` in conv kernels: the surrogate's gradient,
    up to `1 / epsilon**2`, would make a few SGD steps chaotic."""
    if weights.ndim == 4:
        c11 = weights[0, 0]
        weights[0, 0] = np.where(c11 < 0, -1.0, 1.0) * np.maximum(np.abs(c11), 0.3)
    return weights


MODELS = {
    "penalties": penalties_model,
    "regularized": regularized_model,
    "sparsity": sparsity_model,
}
SHARED = ("penalties", "sparsity")


def rank_one_logs(model):
    """Keras 3.15 reduces the logs of a multi-worker step with
    `strategy.reduce("MEAN", logs, axis=0)`, which fails on scalars: return
    them with shape (1,)."""
    train_step = model.train_step

    def step(data):
        return {key: keras.ops.reshape(value, (1,)) for key, value in train_step(data).items()}

    model.train_step = step


def train(name, initial, images, vectors, jit_compile=False):
    model = MODELS[name]()
    if initial is not None:
        model.set_weights(initial)
    # Unsupervised (`fit(x)`), the loss with its balance term throughout.
    # (A supervised `fit(x, y)` fails in Keras 3.15 under
    # MultiWorkerMirroredStrategy before the first step.)
    loss = ke.SoftmaxEntropyLoss(beta=1.0, balance=1.0)
    x, y = (vectors if name == "sparsity" else images), None
    model.compile(optimizer=keras.optimizers.SGD(LR), loss=loss, jit_compile=jit_compile)
    if mode == "worker":
        rank_one_logs(model)
    model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0)
    return model.get_weights()


def distributed_scope():
    if mode == "jax":
        return keras.distribution.DataParallel(devices=keras.distribution.list_devices()).scope()
    return strategy.scope()


def run_variant(variant, images, vectors, results):
    ke.SoftmaxEntropyLoss.call = unfixed_call if variant == "unfixed" else FIXED_CALL
    ke.KLSparsity.__call__ = local_rho_call if variant == "local_rho" else FIXED_KL_CALL
    distribution._all_reduce_sum = public_all_reduce if variant == "public" else COLLECTIVE_ALL_REDUCE
    keras.config.set_dtype_policy("mixed_float16" if variant == "mixed" else "float32")
    names = {
        "unfixed": ["penalties"],
        "jit": ["penalties"],
        "public": ["regularized"],
        "local_rho": ["sparsity"],
    }.get(variant, ["penalties"] if mode == "jax" else list(SHARED))
    for name in names:
        keras.utils.set_random_seed(7)
        initial = [keep_c11_away_from_zero(w) for w in MODELS[name]().get_weights()]
        if variant == "jit":  # whole batches only: one XLA compilation
            whole = len(images) // BATCH * BATCH
            multi = train(name, initial, images[:whole], vectors, jit_compile=True)
            single = train(name, initial, images[:whole], vectors)
        else:
            with distributed_scope():
                multi = train(name, initial, images, vectors)
            single = train(name, initial, images, vectors)
        for i, (s, m) in enumerate(zip(single, multi)):
            results[f"{variant}/single/{name}/{i}"] = np.asarray(s, "float32")
            results[f"{variant}/multi/{name}/{i}"] = np.asarray(m, "float32")


def main():
    images, vectors = data()
    results = {}
    start = time.perf_counter()
    for variant in variants:
        begin = time.perf_counter()
        run_variant(variant, images, vectors, results)
        results[f"seconds/{variant}"] = np.float64(time.perf_counter() - begin)
    results["seconds"] = np.float64(time.perf_counter() - start)
    if mode != "worker" or index == 0:
        np.savez(out_path, **results)


if __name__ == "__main__":
    main()
