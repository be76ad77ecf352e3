"""keras_entropy.tuning.oracle: the chief's fault-tolerant oracle, in one process."""

import keras_tuner
import pytest

from keras_entropy import tuning
from keras_entropy.tuning.oracle import FaultTolerantOracle, fault_tolerant_class, make_fault_tolerant

pytestmark = pytest.mark.one_backend

RandomSearchOracle = keras_tuner.oracles.RandomSearchOracle


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def make_oracle(tmp_path, max_trials=3, trial_timeout=5.0):
    hp = keras_tuner.HyperParameters()
    hp.Float("x", 0.0, 1.0)
    oracle = fault_tolerant_class(RandomSearchOracle)(
        objective="val_loss", max_trials=max_trials, seed=0, hyperparameters=hp, trial_timeout=trial_timeout
    )
    oracle._set_project_dir(str(tmp_path), "ft")
    clock = Clock()
    oracle.init_fault_tolerance(trial_timeout, clock=clock)
    return oracle, clock


def test_fault_tolerant_class_is_a_subclass_made_once():
    cls = fault_tolerant_class(RandomSearchOracle)
    assert cls is fault_tolerant_class(RandomSearchOracle) is fault_tolerant_class(cls)
    assert cls.__name__ == "FaultTolerantRandomSearchOracle"
    assert issubclass(cls, FaultTolerantOracle) and issubclass(cls, RandomSearchOracle)
    assert tuning.fault_tolerant_class is fault_tolerant_class
    with pytest.raises(TypeError, match="oracle_class"):
        fault_tolerant_class(dict)


def test_make_fault_tolerant_makes_a_new_oracle_and_leaves_the_original_alone(tmp_path):
    tuner = keras_tuner.RandomSearch(
        lambda hp: None, objective="val_loss", max_trials=4, directory=str(tmp_path), project_name="p"
    )
    original = tuner.oracle
    oracle = make_fault_tolerant(original, trial_timeout=7.0)
    assert type(original) is RandomSearchOracle  # no class swapped
    assert type(oracle) is fault_tolerant_class(RandomSearchOracle)
    assert oracle is not original and oracle.trial_timeout == 7.0 and oracle.reissued == []
    assert oracle.trials is original.trials and oracle.max_trials == 4
    assert oracle._project_dir == original._project_dir
    assert oracle._display.oracle is oracle and original._display.oracle is original
    assert make_fault_tolerant(oracle, trial_timeout=3.0) is oracle and oracle.trial_timeout == 3.0
    with pytest.raises(TypeError, match="oracle"):
        make_fault_tolerant(object())
    with pytest.raises(ValueError, match="trial_timeout"):
        make_fault_tolerant(original, trial_timeout=0.0)


def test_a_silent_worker_is_forgotten_and_its_trial_reissued(tmp_path):
    oracle, clock = make_oracle(tmp_path)
    first = oracle.create_trial("tuner0")
    second = oracle.create_trial("tuner1")
    assert first.status == second.status == "RUNNING"
    clock.now = 4.0
    oracle.get_trial(second.trial_id)  # tuner1's heartbeat
    clock.now = 6.0
    oracle.reap()  # tuner0 silent for 6 s > 5 s
    assert oracle.reissued == [first.trial_id]
    assert oracle.tuner_ids == {"tuner1"}
    again = oracle.create_trial("tuner2")  # the retry queue comes first
    assert again.trial_id == first.trial_id and again.status == "RUNNING"
    # A late result from the forgotten worker after the trial ended elsewhere is ignored.
    oracle.update_trial(first.trial_id, {"val_loss": 0.5})
    again.status = "COMPLETED"
    oracle.end_trial(again)
    late = oracle.update_trial(first.trial_id, {"val_loss": 9.0})
    assert late.trial_id == first.trial_id
    assert oracle.trials[first.trial_id].metrics.get_best_value("val_loss") == 0.5


def test_a_worker_without_a_trial_waits_while_others_run(tmp_path):
    oracle, clock = make_oracle(tmp_path, max_trials=1)
    running = oracle.create_trial("tuner0")
    assert running.status == "RUNNING"
    assert oracle.create_trial("tuner1").status == "IDLE"  # not STOPPED: tuner0 may die
    running.status = "COMPLETED"
    oracle.update_trial(running.trial_id, {"val_loss": 1.0})
    oracle.end_trial(running)
    assert oracle.create_trial("tuner1").status == "STOPPED"
