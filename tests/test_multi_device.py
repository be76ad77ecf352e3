"""Several devices, same training: data-parallel runs equal one-device runs.

Small models that use every component (`DenseEntropy` and `ConvEntropy`,
stabilized and exact, `EntropyDense`, `EntropyConv2D`, `KLSparsity` as an
activity regularizer, `SoftmaxEntropyLoss` with `balance > 0`) train a few
plain-SGD steps from the same initial weights on the same data, on one device
and on two, and must end with the same weights (to float32 rounding).

The batch statistics (`<q>` of `SoftmaxEntropyLoss`, `rho_hat` of
`KLSparsity`) are those of the global batch, so the data are generic: the
replicas' shares of a batch have different statistics, and the last batch
splits unequally (6 + 5) under TensorFlow.

The devices have to be configured before the backend starts, so the training
runs in a subprocess (`multi_device_train.py`). Each backend's pytest process
(tests/scripts/run_backends.py) runs the check of its own backend:

- TensorFlow: `tf.distribute.MirroredStrategy` over two logical CPUs, in
  float32 and `mixed_float16`; the balance term and `KLSparsity` without
  their global-batch means are shown to fail the same comparison;
  `jit_compile=True`; and (slow)
  `MultiWorkerMirroredStrategy` over two processes on 127.0.0.1;
- JAX: `keras.distribution.DataParallel` over two host devices;
- PyTorch: Keras has no multi-device data parallelism for torch; what
  applies is that the loss sees one device's batch, which is the global one.
"""

import os
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_entropy as ke
from helpers import TIGHT, assert_same_training, check_training, pairs, to_numpy, training_environment
from keras_entropy import distribution
from keras_entropy import ops as E

pytestmark = pytest.mark.every_backend

BACKEND = keras.backend.backend()
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scripts", "multi_device_train.py")

#: mixed_float16: float16 activations round differently on half batches.
MIXED = {"rtol": 1e-3, "atol": 1e-4}


def run_training(out, *args, timeout=400):
    """Run multi_device_train.py; return its results as a dict of arrays."""
    process = subprocess.run(
        [sys.executable, SCRIPT, str(out), *args],
        env=training_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    check_training(process)
    with np.load(out) as results:
        return dict(results)


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


# --- every backend, in process ----------------------------------------------


def test_without_replicas_the_batch_is_the_local_batch(rng):
    values = rng.normal(size=(7, 4)).astype("float32")
    assert distribution.num_replicas() == 1
    np.testing.assert_allclose(to_numpy(distribution.global_batch_mean(values)), values.mean(axis=0), rtol=1e-6)
    assert to_numpy(distribution.scale_loss(keras.ops.convert_to_tensor(2.5))) == 2.5
    x = rng.normal(size=(9, 5)).astype("float32")
    np.testing.assert_allclose(
        to_numpy(ke.SoftmaxEntropyLoss(beta=2.0, balance=0.7)(None, x)),
        to_numpy(E.softmax_entropy_clustering_loss(x, beta=2.0, balance=0.7)),
        rtol=1e-6,
    )


def shapes_seen_by_batch_mean(penalty, x, **kwargs):
    """The shapes `penalty(x, **kwargs, batch_mean=...)` passes a plain batch mean; its value must not change."""
    seen = []

    def batch_mean(values):
        seen.append(tuple(values.shape))
        return keras.ops.mean(values, axis=0)

    with_mean, without = penalty(x, **kwargs, batch_mean=batch_mean), penalty(x, **kwargs)
    np.testing.assert_allclose(to_numpy(with_mean), to_numpy(without), rtol=1e-6)
    return seen


def test_batch_mean_argument_sets_the_batch(rng):
    """`batch_mean` is applied once, to the per-sample `q` and `H(q)`."""
    x = rng.normal(size=(6, 4)).astype("float32")
    assert shapes_seen_by_batch_mean(E.softmax_entropy_clustering_loss, x, beta=1.5, balance=2.0) == [(6, 5)]
    # The mean of another batch: the balance term is that batch's.
    other = rng.normal(size=(10, 4)).astype("float32")
    q = to_numpy(keras.ops.softmax(-other))
    h = -np.sum(q * np.log(q), axis=-1, keepdims=True)
    fixed = np.concatenate([q, h], axis=-1).mean(axis=0)
    value = to_numpy(
        E.softmax_entropy_clustering_loss(
            x, beta=1.0, balance=1.0, batch_mean=lambda v: keras.ops.convert_to_tensor(fixed)
        )
    )
    q_bar = fixed[:4]
    np.testing.assert_allclose(value, fixed[4] + np.log(4) + np.sum(q_bar * np.log(q_bar)), rtol=1e-5)


def test_kl_sparsity_batch_mean_argument_sets_the_batch(rng):
    """`batch_mean` gets the activations as `(samples, n)`, once."""
    a = rng.uniform(0.01, 0.99, size=(3, 4, 5)).astype("float32")
    assert shapes_seen_by_batch_mean(E.kl_sparsity_penalty, a, rho=0.1, beta=2.0) == [(12, 5)]
    # The mean of another batch: rho_hat is that batch's.
    rho_hat = rng.uniform(0.05, 0.95, size=(5,)).astype("float32")
    value = to_numpy(
        E.kl_sparsity_penalty(a, rho=0.1, beta=2.0, batch_mean=lambda v: keras.ops.convert_to_tensor(rho_hat))
    )
    want = 2.0 * np.sum(0.1 * np.log(0.1 / rho_hat) + 0.9 * np.log(0.9 / (1 - rho_hat)))
    np.testing.assert_allclose(value, want, rtol=1e-5)


def test_without_replicas_kl_sparsity_is_batch_size_times_p(rng):
    a = rng.uniform(0.01, 0.99, size=(7, 6)).astype("float32")
    np.testing.assert_allclose(
        to_numpy(ke.KLSparsity(rho=0.1, beta=2.0)(keras.ops.convert_to_tensor(a))),
        7 * to_numpy(E.kl_sparsity_penalty(a, rho=0.1, beta=2.0)),
        rtol=1e-6,
    )


# --- one test per backend, run only in that backend's pytest process --------

if BACKEND == "tensorflow":

    @pytest.fixture(scope="module")
    def mirrored(tmp_path_factory):
        out = tmp_path_factory.mktemp("mirrored") / "results.npz"
        return run_training(out, "tensorflow", "plain", "mixed", "unfixed", "local_rho", "public", "jit")

    def test_mirrored_strategy_matches_one_device(mirrored):
        assert_same_training(mirrored, "plain", TIGHT)

    def test_mirrored_strategy_matches_one_device_in_mixed_float16(mirrored):
        assert_same_training(mirrored, "mixed", MIXED)

    def test_public_all_reduce_gradient_matches_one_device(mirrored):
        """`ReplicaContext.all_reduce` (merge_call route) has the right gradient."""
        assert_same_training(mirrored, "public", TIGHT)

    def test_per_replica_balance_term_fails_the_comparison(mirrored):
        """The comparison can fail: the balance term of each replica's half."""
        worst = max(
            np.max(np.abs(multi - single) / (TIGHT["atol"] + TIGHT["rtol"] * np.abs(single)))
            for _, single, multi in pairs(mirrored, "unfixed")
        )
        assert worst > 100, worst
        worst_mixed = max(
            np.max(np.abs(multi - single) / (MIXED["atol"] + MIXED["rtol"] * np.abs(single)))
            for _, single, multi in pairs(mirrored, "unfixed")
        )
        assert worst_mixed > 10, worst_mixed

    def test_per_replica_kl_sparsity_fails_the_comparison(mirrored):
        """The comparison can fail: `rho_hat` of each replica's share."""
        worst = max(
            np.max(np.abs(multi - single) / (TIGHT["atol"] + TIGHT["rtol"] * np.abs(single)))
            for _, single, multi in pairs(mirrored, "local_rho")
        )
        assert worst > 100, worst

    def test_jit_compile_matches_eager_graph(mirrored):
        assert_same_training(mirrored, "jit", TIGHT)

    @pytest.mark.slow
    def test_multi_worker_mirrored_strategy_matches_one_process(tmp_path):
        """Two worker processes on 127.0.0.1 (`TF_CONFIG`), one CPU each."""
        out = tmp_path / "results.npz"
        ports = [str(port) for port in free_ports(2)]
        workers = [
            subprocess.Popen(
                [sys.executable, SCRIPT, str(out), "worker", str(index), *ports],
                env=training_environment(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for index in (0, 1)
        ]
        try:
            for worker in workers:
                stdout, stderr = worker.communicate(timeout=400)
                check_training(subprocess.CompletedProcess(worker.args, worker.returncode, stdout, stderr))
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.kill()
                    worker.wait()
        with np.load(out) as results:
            assert_same_training(dict(results), "plain", TIGHT)

elif BACKEND == "jax":

    def test_jax_data_parallel_matches_one_device(tmp_path):
        """The jit-compiled step is a function of the global, sharded batch."""
        results = run_training(tmp_path / "results.npz", "jax", "plain")
        assert_same_training(results, "plain", TIGHT)

else:

    def test_torch_has_no_keras_data_parallelism():
        """Keras distributes only JAX (`keras.distribution`) and TF (`tf.distribute`).

        With torch, Keras trains on one device per process, so the loss's
        batch is the global batch and `keras_entropy.distribution` is the
        identity; multi-GPU torch training (DDP) is outside Keras's `fit`.
        """
        assert BACKEND == "torch"
        assert distribution.num_replicas() == 1
        assert keras.distribution.distribution() is None
