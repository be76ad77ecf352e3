"""KerasTuner integration: search spaces, the hypermodel with the three tuner classes, run_search.

Export: test_tuning_export.py; the chief and workers: test_tuning_distribute.py; the
fault-tolerant oracle: test_tuning_oracle.py; the KerasTuner adapter and the layout:
test_tuning_compat.py.
"""

import json
import os
import re
import subprocess
import sys

import keras
import keras_tuner
import numpy as np
import pytest

from helpers import to_numpy
from keras_entropy import ops, tuning
from keras_entropy.experiments import runs, sweeps
from keras_entropy.regularizers import ConvEntropy, DenseEntropy
from keras_entropy.tuning.distribute.cluster import LoopbackCluster

pytestmark = pytest.mark.every_backend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# ---------------------------------------------------------------------------
# A tiny model with two convolutions and two dense layers.

CONV_OUTPUT_POSITIONS = [6 * 6, 4 * 4]  # 8x8 input, two valid 3x3 convolutions


def tiny_cnn():
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(3, 3, name="conv_a"),
            keras.layers.Conv2D(2, 3, name="conv_b"),
            keras.layers.Flatten(),
            keras.layers.Dense(4, activation="relu", name="dense_a"),
            keras.layers.Dense(1, activation="sigmoid", name="dense_b"),
        ]
    )
    model.compile(
        "adam", "binary_crossentropy", metrics=["accuracy", keras.metrics.BinaryIoU(target_class_ids=[1], name="iou")]
    )
    return model


SPACES = {
    "conv": tuning.EntropySearch(
        lam=tuning.log_uniform(1e-3, 1.0), placement=["first", "all"], stabilized=[True, False]
    ),
    "dense": tuning.EntropySearch(lam=[0.0, 0.01, 0.1], placement=["first", "all"]),
}


def expected_penalties(model, values):
    """The penalty terms a trial's values imply, computed without place_penalties."""
    expected = []
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    denses = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    if values.get("conv_entropy"):
        layers = convs[:1] if values["conv_placement"] == "first" else convs
        for layer, n_out in zip(layers, CONV_OUTPUT_POSITIONS):
            expected.append(
                float(
                    to_numpy(
                        ops.conv_entropy_penalty(
                            layer.kernel,
                            lam=values["conv_lam"],
                            output_positions=n_out,
                            stabilized=values["conv_stabilized"],
                        )
                    )
                )
            )
    if values.get("dense_lam", 0.0) != 0:
        layers = denses[:1] if values["dense_placement"] == "first" else denses
        for layer in layers:
            expected.append(
                float(to_numpy(ops.dense_entropy_penalty(layer.kernel, lam=values["dense_lam"], stabilized=True)))
            )
    return sorted(expected)


class RecordingHyperModel(tuning.EntropyHyperModel):
    """Records, for each trial, its values and the penalties of the model it built."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen = []

    def fit(self, hp, model, *args, **kwargs):
        losses = sorted(float(to_numpy(v)) for v in model.losses)
        regularizers = {
            layer.name: getattr(layer, "kernel_regularizer", None)
            for layer in model.layers
            if isinstance(getattr(layer, "kernel_regularizer", None), (ConvEntropy, DenseEntropy))
        }
        self.seen.append(
            {
                "values": dict(hp.values),
                "losses": losses,
                "expected": expected_penalties(model, hp.values),
                "regularizers": regularizers,
            }
        )
        return super().fit(hp, model, *args, **kwargs)


def data(n=32):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 8, 8, 1)).astype("float32")
    y = (x[:, :4, :4, 0].mean(axis=(1, 2)) > 0).astype("float32")[:, None]
    return x, y


@pytest.mark.one_backend
def test_run_search_progress_prints_one_line_per_trial(tmp_path, capsys):
    hypermodel = tuning.EntropyHyperModel(tiny_cnn, seeds=0, **SPACES)
    tuner = keras_tuner.RandomSearch(
        hypermodel,
        objective=tuning.objective("val_accuracy"),
        max_trials=2,
        seed=1,
        directory=str(tmp_path),
        project_name="progress",
    )
    x, y = data()
    begin, end = tuner.on_trial_begin, tuner.on_trial_end
    tuning.run_search(tuner, x, y, validation_data=(x, y), epochs=1, batch_size=16, verbose=0, progress=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2, lines  # verbose=0: nothing but one line per trial
    for i, line in enumerate(lines):
        assert line.startswith(f"[{i + 1}/2] trial {i}: conv_entropy="), line
        assert re.search(r": val_accuracy=[\d.]+, best so far [\d.]+, \d+\.\d s", line), line
    assert "ETA" in lines[0] and "ETA" not in lines[1]
    assert (tuner.on_trial_begin, tuner.on_trial_end) == (begin, end)  # unwrapped afterwards


# Which trial a tuner picks is KerasTuner's (no backend in it); the model it builds and fits is the
# backend's. So RandomSearch runs on every backend and the other two tuner classes on TensorFlow only.
@pytest.mark.parametrize(
    "tuner_class, objective",
    [
        ("RandomSearch", "val_accuracy"),
        pytest.param("BayesianOptimization", "val_loss", marks=pytest.mark.one_backend),
        pytest.param("Hyperband", "val_iou", marks=pytest.mark.one_backend),
    ],
)
def test_every_tuner_class_puts_the_trials_choice_into_the_model(tmp_path, tuner_class, objective):
    hypermodel = RecordingHyperModel(tiny_cnn, seeds=0, **SPACES)
    options = {
        "RandomSearch": {"max_trials": 3, "seed": 1},
        "BayesianOptimization": {"max_trials": 3, "num_initial_points": 2, "seed": 1},
        "Hyperband": {"max_epochs": 2, "factor": 2, "hyperband_iterations": 1, "seed": 1},
    }[tuner_class]
    tuner = getattr(keras_tuner, tuner_class)(
        hypermodel, objective=tuning.objective(objective), directory=str(tmp_path), project_name=tuner_class, **options
    )
    x, y = data()
    tuner.search(x, y, validation_data=(x, y), epochs=1, batch_size=16, verbose=0)

    trials = list(tuner.oracle.trials.values())
    assert len(trials) >= 3
    assert all(t.status == "COMPLETED" for t in trials)
    assert len(hypermodel.seen) == len(trials)
    for seen in hypermodel.seen:
        values = seen["values"]
        assert len(seen["losses"]) == len(seen["expected"])
        np.testing.assert_allclose(seen["losses"], seen["expected"], rtol=1e-5)
        for regularizer in seen["regularizers"].values():
            kind = "conv" if isinstance(regularizer, ConvEntropy) else "dense"
            assert regularizer.lam == pytest.approx(values[f"{kind}_lam"])
            if kind == "conv":
                assert regularizer.stabilized == values["conv_stabilized"]
    # The exported records carry the same choices, with lam = 0 for a switched-off kind.
    records = tuning.trial_records(tuner)
    assert len(records) == len(trials)
    by_id = {t.trial_id: t for t in trials}
    for record in records:
        values = by_id[record["tuner"]["trial_id"]].hyperparameters.values
        assert record["config"]["conv_lam"] == pytest.approx(values["conv_lam"] if values["conv_entropy"] else 0.0)
        assert record["config"]["dense_lam"] == values["dense_lam"]
        assert record["monitor"] == objective
        assert record["history"][objective]
    best_values, best_score, name = tuning.best_trial_summary(tuner)
    assert name == objective
    scores = [t.score for t in trials]
    assert best_score == (max(scores) if objective != "val_loss" else min(scores))


def test_build_places_exactly_the_chosen_penalties():
    hypermodel = tuning.EntropyHyperModel(tiny_cnn, **SPACES)
    cases = [
        ({"conv_entropy": False, "dense_lam": 0.0}, 0),
        (
            {
                "conv_entropy": True,
                "conv_lam": 0.5,
                "conv_placement": "all",
                "conv_stabilized": False,
                "dense_lam": 0.0,
            },
            2,
        ),
        (
            {
                "conv_entropy": True,
                "conv_lam": 0.02,
                "conv_placement": "first",
                "conv_stabilized": True,
                "dense_lam": 0.1,
                "dense_placement": "all",
            },
            3,
        ),
    ]
    for values, count in cases:
        hp = keras_tuner.HyperParameters()
        hypermodel.build(hp)  # declares the space
        hp.values.update(values)
        model = hypermodel.build(hp)
        assert len(model.losses) == count
        np.testing.assert_allclose(
            sorted(float(to_numpy(v)) for v in model.losses), expected_penalties(model, values), rtol=1e-5
        )


@pytest.mark.one_backend
def test_search_space_names_and_conditions():
    hp = keras_tuner.HyperParameters()
    tuning.EntropyHyperModel(tiny_cnn, seeds=[0, 1, 2], **SPACES).build(hp)
    names = {p.name for p in hp.space}
    assert names == {
        "seed",
        "conv_entropy",
        "conv_lam",
        "conv_placement",
        "conv_stabilized",
        "dense_lam",
        "dense_placement",
    }
    dense_placement = [p for p in hp.space if p.name == "dense_placement"][0]
    assert dense_placement.conditions[0].values == [0.01, 0.1]  # not for the baseline 0
    paper = keras_tuner.HyperParameters()
    tuning.EntropySearch().declare(paper, "dense")
    assert [p for p in paper.space if p.name == "dense_lam"][0].values == list(tuning.PAPER_LAMS)
    assert 0.0 in tuning.PAPER_LAMS
    assert tuning.hp_names("conv")["lam"] == "conv_lam"


@pytest.mark.one_backend
def test_form_is_a_choice_conditional_on_the_penalty_and_a_fixed_non_paper_form_is_recorded():
    hp = keras_tuner.HyperParameters()
    choice = tuning.EntropySearch(lam=[0.0, 0.1], form=["paper", "normalized"]).declare(hp, "dense")
    (form,) = [p for p in hp.space if p.name == tuning.hp_names("dense")["form"]]
    assert form.name == "dense_form" and type(form).__name__ == "Choice"
    assert form.values == ["paper", "normalized"]
    assert form.conditions[0].values == [0.1]  # not for the baseline 0
    assert choice == {"lam": 0.0, "placement": None, "where": None, "stabilized": None, "form": None}
    hp.values["dense_lam"] = 0.1
    hp.values["dense_form"] = "normalized"
    assert (
        tuning.EntropySearch(lam=[0.0, 0.1], form=["paper", "normalized"]).declare(hp, "dense")["form"] == "normalized"
    )
    fixed = keras_tuner.HyperParameters()
    assert tuning.EntropySearch(lam=0.1, form="volume").declare(fixed, "conv")["form"] == "volume"
    assert fixed.values == {"conv_form": "volume"}  # exported trials say which form ran
    paper = keras_tuner.HyperParameters()
    assert tuning.EntropySearch(lam=0.1).declare(paper, "conv")["form"] == "paper"
    assert paper.values == {}  # the paper's form declares nothing: earlier searches resume unchanged


def test_build_gives_the_regularizers_the_chosen_form():
    hypermodel = tuning.EntropyHyperModel(
        tiny_cnn,
        conv=tuning.EntropySearch(lam=0.1, placement="all", form=["paper", "volume"], grid=(4, 4)),
        dense=tuning.EntropySearch(lam=0.01, placement="first", form="normalized"),
    )
    hp = keras_tuner.HyperParameters()
    hypermodel.build(hp)
    hp.values["conv_form"] = "volume"
    model = hypermodel.build(hp)
    regularizers = {
        layer.name: layer.kernel_regularizer
        for layer in model.layers
        if getattr(layer, "kernel_regularizer", None) is not None
    }
    assert {name: r.form for name, r in regularizers.items()} == {
        "conv_a": "volume",
        "conv_b": "volume",
        "dense_a": "normalized",
    }
    assert regularizers["conv_a"].grid == (4, 4)
    assert len(model.losses) == 3 and all(np.isfinite(float(to_numpy(v))) for v in model.losses)


@pytest.mark.one_backend
def test_search_records_and_exports_the_form(tmp_path):
    space = tuning.EntropySearch(lam=0.1, placement="first", form=["volume", "normalized"])
    hypermodel = RecordingHyperModel(tiny_cnn, seeds=0, dense=space)
    tuner = keras_tuner.GridSearch(hypermodel, objective="val_loss", directory=str(tmp_path), project_name="forms")
    x, y = data(16)
    tuner.search(x, y, validation_data=(x, y), epochs=1, batch_size=16, verbose=0)
    assert sorted(r.form for seen in hypermodel.seen for r in seen["regularizers"].values()) == ["normalized", "volume"]
    records = tuning.trial_records(tuner)
    assert sorted(r["config"]["dense_form"] for r in records) == ["normalized", "volume"]
    for trial in tuner.oracle.trials.values():
        with open(os.path.join(tuner.get_trial_dir(trial.trial_id), tuning.TRIAL_RECORD_FILE)) as f:
            penalties = json.load(f)["penalties"]
        assert penalties["dense"]["form"] == trial.hyperparameters.values["dense_form"]


def test_placement_by_layer_names():
    space = tuning.EntropySearch(lam=0.1, placement={"second": ["dense_b"], "both": [0, 1]})
    hypermodel = tuning.EntropyHyperModel(tiny_cnn, dense=space)
    hp = keras_tuner.HyperParameters()
    hypermodel.build(hp)
    hp.values["dense_placement"] = "second"
    model = hypermodel.build(hp)
    assert [layer.name for layer in model.layers if getattr(layer, "kernel_regularizer", None) is not None] == [
        "dense_b"
    ]


@pytest.mark.one_backend
def test_argument_validation():
    with pytest.raises(ValueError, match="lam"):
        tuning.EntropySearch(lam="grid")
    with pytest.raises(TypeError, match="lam"):
        tuning.EntropySearch(lam=None)
    with pytest.raises(ValueError, match="placement"):
        tuning.EntropySearch(placement="everywhere")
    with pytest.raises(ValueError, match="placement"):
        tuning.EntropySearch(placement=["first", "middle"])
    with pytest.raises(ValueError, match="stabilized"):
        tuning.EntropySearch(stabilized=[True, True])
    with pytest.raises(TypeError, match="stabilized"):
        tuning.EntropySearch(stabilized="yes")
    with pytest.raises(ValueError, match="form"):
        tuning.EntropySearch(form="log_volume")
    with pytest.raises(ValueError, match="form"):
        tuning.EntropySearch(form=["paper", "paper"])
    with pytest.raises(ValueError, match="form"):
        tuning.EntropySearch(form=[])
    with pytest.raises(ValueError, match="grid"):
        tuning.EntropySearch(grid=(0, 4))
    with pytest.raises(ValueError, match="low"):
        tuning.log_uniform(1.0, 0.1)
    with pytest.raises(ValueError, match="low"):
        tuning.log_uniform(0.0, 1.0)
    with pytest.raises(TypeError, match="build"):
        tuning.EntropyHyperModel(3)
    with pytest.raises(TypeError, match="conv"):
        tuning.EntropyHyperModel(tiny_cnn, conv=0.1)
    with pytest.raises(ValueError, match="seeds"):
        tuning.EntropyHyperModel(tiny_cnn, seeds=[1, 1])
    with pytest.raises(TypeError, match="seeds"):
        tuning.EntropyHyperModel(tiny_cnn, seeds="0")
    with pytest.raises(ValueError, match="direction"):
        tuning.objective("val_something")
    assert tuning.objective("val_iou").direction == "max"
    assert tuning.objective("val_mse").direction == "min"
    with pytest.raises(ValueError, match="heartbeat_interval"):
        tuning.run_search(object(), trial_timeout=1.0, heartbeat_interval=2.0)
    with pytest.raises(ValueError, match="kind"):
        tuning.hp_names("lstm")
    with pytest.raises(ValueError, match="workers"):
        LoopbackCluster(["python"], workers=0)
    with pytest.raises(TypeError, match="command"):
        LoopbackCluster("python x.py")
    with pytest.raises(ValueError, match="placement 'pre_skip'|selects no"):
        hypermodel = tuning.EntropyHyperModel(tiny_cnn, conv=tuning.EntropySearch(lam=0.1, placement="pre_skip"))
        hypermodel.build(keras_tuner.HyperParameters())


@pytest.mark.parametrize(
    "name",
    [
        "val_loss",
        "val_mse",
        "val_accuracy",
        "val_iou",
        "val_binary_io_u",
        "val_auc",
        "val_purity",
        "val_nmi",
        "val_mean_absolute_error",
    ],
)
@pytest.mark.one_backend
def test_objective_direction_is_the_sweeps_monitor_mode(name):
    # One definition of a metric's direction: the tuner's objective and the sweeps' early stopping agree.
    assert tuning.objective(name).direction == runs.monitor_mode(name)
    assert tuning.objective(name, direction="min").direction == "min"


@pytest.mark.one_backend
def test_keras_entropy_import_does_not_import_keras_tuner():
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3")
    code = "import sys, keras_entropy; print('keras_tuner' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"


# ---------------------------------------------------------------------------
# The example script.


def _example():
    import importlib.util

    spec = importlib.util.spec_from_file_location("tune_lambda", os.path.join(ROOT, "examples", "tune_lambda.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.one_backend
def test_example_help_and_quick_autoencoder_search(tmp_path, capsys):
    example = _example()
    with pytest.raises(SystemExit) as exit_info:
        example.main(["--help"])
    assert exit_info.value.code == 0
    assert "--data-dir" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        example.main(["--lam-range", "1", "0.1"])
    code = example.main(
        [
            "--model",
            "autoencoder",
            "--quick",
            "--max-trials",
            "2",
            "--epochs",
            "1",
            "--train-size",
            "128",
            "--val-size",
            "64",
            "--latent-dim",
            "8",
            "--batch-size",
            "64",
            "--forms",
            "paper",
            "normalized",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-2].startswith("best trial hyperparameters:")
    assert lines[-1].startswith("best trial score: val_loss = ")
    records = sweeps.ResultsFile(tmp_path / "out" / "results.jsonl").records()
    assert len(records) == 2 and all(r["config"]["model"] == "autoencoder" for r in records)
    for r in records:  # the searched form, in the trials where the penalty is on
        assert r["config"].get("dense_form") in ((None,) if r["config"]["dense_lam"] == 0 else ("paper", "normalized"))
        # The example's own `build(hp)` names its hyperparameters as `tuning.hp_names` does: the export
        # turns the baseline into lam 0 and placement "none".
        assert r["config"]["dense_placement"] in (("none",) if r["config"]["dense_lam"] == 0 else ("first", "all"))
        assert "dense_entropy" not in r["config"] and r["history"]["val_loss"]
