"""Long-lived processes: model after model on several devices, in one process.

Issue 23: a second `tf.distribute.MirroredStrategy` in a process made
`SoftmaxEntropyLoss(balance > 0)` crash in `distribution._all_reduce_sum`
("Shape mismatch in the collective instance 100"): its collectives reused
the strategy's keys, which every strategy numbers from the same start.
`long_lived_train.py` trains, in one subprocess per backend, the scenarios
a notebook or a script would (several strategies in sequence, a model
saved, loaded and trained again, a monitor and `place_penalties` reused,
a KerasTuner search over two layer sizes),
each on two devices and on one, and every result must match one device as
in test_multi_device.py. TensorFlow's own gradient all-reduce has the same
bug (tensorflow/tensorflow#62790); the scenarios make every strategy after
the first with `cross_device_ops=tf.distribute.ReductionToOneDevice()`, as
docs/distributed.md tells users to, and `tf_bug` checks that the bug is
TensorFlow's (a plain Keras model fails there too).

About 20 s per backend (10 s of them imports); PyTorch has no Keras data
parallelism (see test_multi_device.py).
"""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from helpers import TIGHT, assert_same_training, check_training, training_environment

pytestmark = pytest.mark.every_backend

BACKEND = keras.backend.backend()
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scripts", "long_lived_train.py")


def run_scenarios(out):
    """Run long_lived_train.py for this backend; return its results as a dict of arrays."""
    process = subprocess.run(
        [sys.executable, SCRIPT, str(out), BACKEND],
        env=training_environment(),
        capture_output=True,
        text=True,
        timeout=400,
    )
    check_training(process)
    with np.load(out) as results:
        return dict(results)


if BACKEND in ("tensorflow", "jax"):

    @pytest.fixture(scope="module")
    def scenarios(tmp_path_factory):
        return run_scenarios(tmp_path_factory.mktemp("long_lived") / "results.npz")

    def test_second_strategy_with_clustering_loss_matches_one_device(scenarios):
        """Issue 23's snippet, and the first strategy reused for a third model."""
        assert_same_training(scenarios, "strategies", TIGHT)
        if BACKEND == "tensorflow":
            # The batch terms went through keras_entropy's own collectives, one set per strategy.
            assert scenarios["strategies/own_collectives"] == 2

    def test_saved_loaded_and_trained_again_matches_one_device(scenarios):
        assert_same_training(scenarios, "saving", TIGHT)

    def test_monitor_and_place_penalties_reused_match_one_device(scenarios):
        """Weights and the epoch logs of each model: its own layers, its own values."""
        assert_same_training(scenarios, "reuse", TIGHT)
        assert list(scenarios["reuse/keys/plain"]) == ["entropy/a", "entropy/b"]
        assert list(scenarios["reuse/keys/clustering"]) == ["entropy/c"]
        # `batch_history` keeps every record of the monitor's life, both models'.
        assert list(scenarios["reuse/keys/batch"]) == ["entropy/a", "entropy/b", "entropy/c"]

    def test_keras_tuner_search_matches_one_device(scenarios):
        """Every trial (two layer sizes) under one strategy (TF) or `DataParallel` (JAX)."""
        assert_same_training(scenarios, "tuner", TIGHT)


def test_clear_session_forgets_the_dtype_policy():
    """KerasTuner's `clear_session()` before each trial resets the policy to float32.

    If this fails, Keras keeps the policy: the note in docs/distributed.md can go.
    """
    keras.config.set_dtype_policy("mixed_float16")
    keras.backend.clear_session()
    assert keras.config.dtype_policy().name == "float32"


if BACKEND == "jax":  # keras.distribution is JAX's

    def test_clear_session_forgets_the_distribution():
        """And on JAX the distribution of an enclosing `DataParallel` scope: the
        model-building function of a search must set it (docs/distributed.md)."""
        with keras.distribution.DataParallel().scope():
            keras.backend.clear_session()
            assert keras.distribution.distribution() is None


if BACKEND == "tensorflow":

    def test_second_default_strategy_fails_in_tensorflow_itself(scenarios):
        """A plain Keras model under another default `MirroredStrategy`: TensorFlow's bug.

        If this fails, TensorFlow fixed tensorflow/tensorflow#62790: the
        `ReductionToOneDevice` advice of docs/distributed.md can go.
        """
        assert scenarios["tf_bug/failed"] == 1.0
