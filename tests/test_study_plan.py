"""keras_entropy.experiments.study.StudyPlan through the two studies' plans, on trials with known scores."""

import json
import types

import numpy as np
import pytest

from keras_entropy.experiments import autoencoder_study, cnn_study, sweeps

pytestmark = pytest.mark.one_backend

SETTINGS = {
    "depths": [1, 2],
    "widths": [4],
    "penalties": ["none", "volume", "orthogonal"],
    "learning_rates": [1e-3, 1e-2],
    "lams": [0.01],
    "factors": [0.1, 1.0],
    "trial_epochs": 2,
    "epochs": 3,
    "seeds": 2,
    "patience": 2,
    "batch_size": 32,
    "search_seed": 0,
}


def fake_run(tmp_path, arrays):
    """What a plan reads of `script_setup.Run`: its paths, data, arrays and seed."""
    return types.SimpleNamespace(
        path=lambda name: str(tmp_path / name),
        results_path=str(tmp_path / "results.jsonl"),
        arrays=arrays,
        data=types.SimpleNamespace(name="mnist", is_embedded=True),
        args=types.SimpleNamespace(seed=0),
    )


def cnn_plan(tmp_path):
    labelled = [(np.zeros((n, 28, 28, 1)), np.zeros(n, "int32")) for n in (50, 20, 30)]
    return cnn_study.StudyPlan(fake_run(tmp_path, labelled), SETTINGS)


def trial(arch, penalty, learning_rate, score, lam=0.0, placement="none", trial_epochs=2):
    depth, width = (int(v) for v in arch.split("x"))
    config = {
        "arch": arch,
        "depth": depth,
        "width": width,
        "penalty": penalty,
        "learning_rate": learning_rate,
        "lam": lam,
        "placement": placement,
        "trial_epochs": trial_epochs,
    }
    return {"key": sweeps.run_key(config, 0), "config": config, "tuner": {"score": score}, "history": {}}


def write_trials(plan, trials):
    with open(plan.run.path("trials.jsonl"), "w", encoding="utf-8") as f:
        f.writelines(json.dumps(t) + "\n" for t in trials)


def test_grids_count_learning_rates_placements_and_strengths(tmp_path):
    plan = cnn_plan(tmp_path)
    assert plan.cells() == [(1, 4), (2, 4)]
    assert plan.placements((1, 4)) == ["first"] and plan.placements((2, 4)) == ["first", "all"]
    assert plan.strengths("none") == [0.0] and plan.strengths("volume") == [0.01]
    assert plan.strengths("orthogonal") == [0.1, 1.0]
    sizes = {(cell, p): plan.grid_size(cell, p) for cell in plan.cells() for p in SETTINGS["penalties"]}
    assert sizes == {
        ((1, 4), "none"): 2,
        ((1, 4), "volume"): 2,
        ((1, 4), "orthogonal"): 4,
        ((2, 4), "none"): 2,
        ((2, 4), "volume"): 4,
        ((2, 4), "orthogonal"): 8,
    }
    assert plan.trial_count() == 22 and plan.run_count() == 2 * 3 * 2


def test_only_complete_searches_give_final_configs_at_the_best_trial(tmp_path):
    plan = cnn_plan(tmp_path)
    write_trials(
        plan,
        [
            trial("1x4", "none", 1e-3, 0.90),
            trial("1x4", "none", 1e-2, 0.95),  # the best: the highest val accuracy
            trial("1x4", "volume", 1e-3, 0.99, lam=0.01, placement="first"),  # 1 of 2: not complete
            trial("1x4", "none", 1e-2, 0.99, trial_epochs=5),  # another search space
            trial("1x4", "none", 0.5, 0.99),  # a learning rate outside the grid
        ],
    )
    assert len(plan.trials()) == 3
    (config,) = plan.final_configs()
    assert config == {
        "experiment": "cnn_study",
        "dataset": "mnist",
        "data_source": "embedded",
        "train_size": 50,
        "val_size": 20,
        "test_size": 30,
        "epochs": 3,
        "batch_size": 32,
        "patience": 2,
        "arch": "1x4",
        "depth": 1,
        "width": 4,
        "penalty": "none",
        "learning_rate": 1e-2,
        "lam": 0.0,
        "placement": "none",
    }
    assert plan.final_configs((2, 4)) == []
    configs, planned, records = plan.final_records()
    assert configs == [config] and planned == 2 and records == []  # 2 seeds planned, none run yet


def test_grid_arguments_fix_what_is_no_hyperparameter(tmp_path):
    plan = cnn_plan(tmp_path)
    baseline = plan.grid_arguments((2, 4), "none")
    assert baseline["project"] == "2x4_none" and baseline["label"] == "2x4, none"
    assert baseline["fixed"] == {
        "arch": "2x4",
        "depth": 2,
        "width": 4,
        "penalty": "none",
        "trial_epochs": 2,
        "lam": 0.0,
        "placement": "none",
    }
    one_place = plan.grid_arguments((1, 4), "volume")["fixed"]  # one convolution, one lam
    assert one_place["placement"] == "first" and one_place["lam"] == 0.01
    peer = plan.grid_arguments((2, 4), "orthogonal")
    assert "placement" not in peer["fixed"] and "lam" not in peer["fixed"]  # both searched
    assert peer["rename"] == {"conv_lam": "lam", "conv_placement": "placement", "factor": "lam"}
    assert peer["drop"] == ("conv_form",) and peer["fit"]["epochs"] == 2 and peer["fit"]["batch_size"] == 32
    assert peer["export_to"] == plan.run.path("trials.jsonl")


def test_the_autoencoder_plan_is_the_same_plan_over_widths(tmp_path):
    images = [np.zeros((n, 784)) for n in (50, 20, 30)]
    plan = autoencoder_study.StudyPlan(fake_run(tmp_path, images), {**SETTINGS, "widths": [10, 20]})
    assert plan.cells() == [10, 20] and plan.grid_size(10, "orthogonal") == 2 * 2 * 2
    arguments = plan.grid_arguments(10, "volume")
    assert arguments["project"] == "width_10_volume" and arguments["label"] == "width 10, volume"
    assert arguments["fixed"] == {"latent_dim": 10, "penalty": "volume", "trial_epochs": 2, "lam": 0.01}
    assert arguments["fit"]["y"] is images[0] and arguments["fit"]["validation_data"] == (images[1], images[1])
    assert arguments["rename"]["dense_lam"] == "lam"
