"""examples/cnn_study.py (--quick, resume, --report-only), keras_entropy.experiments.cnn_study, and the
accuracy side of keras_entropy.experiments.analysis / verdict on records with known numbers."""

import json
import os

import keras
import numpy as np
import pytest

from helpers import load_example, run_example, run_example_here
from keras_entropy import ConvEntropy
from keras_entropy.experiments import analysis, cnn_study, figures, peers

pytestmark = pytest.mark.one_backend


def record(arch, penalty, val_accuracy, test_accuracy, seed=0):
    """A final run's record: validation accuracy per epoch, test accuracy after the last."""
    return {
        "key": f"{arch}-{penalty}-{seed}",
        "seed": seed,
        "config": {
            "arch": arch,
            "penalty": penalty,
            "learning_rate": 1e-3,
            "lam": 0.0 if penalty == "none" else 0.01,
            "placement": "none" if penalty == "none" else "first",
        },
        "history": {
            "val_accuracy": list(val_accuracy),
            "val_loss": [1 - v for v in val_accuracy],
            "test_accuracy": [None] * (len(val_accuracy) - 1) + [test_accuracy],
        },
        "stopping": {
            m: {"epoch": len(val_accuracy), "best_epoch": len(val_accuracy), "stopped": False}
            for m in cnn_study.MONITORS
        },
    }


def known_records():
    """Architecture 1x8: the baseline's best validation accuracies 0.90, 0.91, 0.92 (mean 0.91).

    'normalized' reaches 0.91 at epoch 2 and ends higher; 'paper' never reaches it and ends lower.
    """
    base = [record("1x8", "none", [0.80, 0.85, 0.90 + 0.01 * s], 0.90 + 0.01 * s, seed=s) for s in range(3)]
    fast = [record("1x8", "normalized", [0.85, 0.92 + 0.01 * s, 0.95], 0.95 + 0.005 * s, seed=s) for s in range(3)]
    slow = [record("1x8", "paper", [0.70, 0.80, 0.85 + 0.01 * s], 0.85 + 0.01 * s, seed=s) for s in range(3)]
    return slow + base + fast


def test_evidence_counts_epochs_to_the_baselines_best_accuracy():
    rows = {r["penalty"]: r for r in analysis.evidence_rows(known_records(), (), measure=analysis.ACCURACY)}
    assert list(rows) == ["none", "paper", "normalized"]
    base, fast, slow = rows["none"], rows["normalized"], rows["paper"]
    assert base["baseline_final"] == pytest.approx(0.91) and base["group"] == "1x8"  # the median best
    assert fast["epochs_to"]["reach_baseline"] == {"times": [2, 2, 2], "reached": [True] * 3}
    assert slow["epochs_to"]["reach_baseline"] == {"times": [3, 3, 3], "reached": [False] * 3}
    # the baseline's own runs: below their median best (never, censored at epoch 3), at it, above it
    assert base["epochs_to"]["reach_baseline"] == {"times": [3, 3, 3], "reached": [False, True, True]}
    assert fast["samples"]["best_val_accuracy"] == pytest.approx([0.95, 0.95, 0.95])
    assert fast["samples"]["final_test_accuracy"] == pytest.approx([0.95, 0.955, 0.96])
    table = analysis.evidence_table(list(rows.values()), (), measure=analysis.ACCURACY).splitlines()
    assert table[0].startswith("| architecture | config |")
    assert "epochs to baseline's median best val_accuracy" in table[0]
    assert "| 95.50 [94.26, 96.74] % |" in table[4]  # normalized's final test accuracy, in percent
    p_table = analysis.tests_table(list(rows.values()), analysis.ACCURACY).splitlines()
    line = next(x for x in p_table if "| normalized | final test accuracy | none |" in x)
    assert line.split(" | ")[4] == "0.00323 (adj 0.0129*)"  # higher final test accuracy than none, 8 p-values
    assert analysis.first_epoch_reaching([0.5, 0.9], 0.9, higher_is_better=True) == 2
    assert analysis.first_epoch_reaching([0.5, 0.9], 0.95, higher_is_better=True) is None


def test_verdict_is_higher_is_better_for_accuracy():
    rows = analysis.verdict_rows(known_records(), analysis.ACCURACY)
    by = {r["penalty"]: r for r in rows}
    assert by["normalized"]["p"]["better"] < 0.01 and by["paper"]["p"]["worse"] < 0.01
    assert analysis.quality(by["paper"])[0] == "worse" and analysis.quality(by["normalized"])[0] == "better"
    assert by["normalized"]["p"]["sooner"] == pytest.approx(0.05)  # 3 against 3: the smallest exact p
    assert analysis.speed(by["normalized"])[0] == "same"
    assert by["normalized"]["difference"][0] == pytest.approx(0.045)  # +4.5 points
    (sentence,) = analysis.verdict_sentences(rows, measure=analysis.ACCURACY)
    assert sentence.startswith(
        "Architecture 1x8 (3 baseline runs): normalized reached a significantly higher final "
        "test_accuracy than no penalty"
    )
    assert "the highest mean was normalized (95.50%, +4.50 points against 91.00% without penalty)" in sentence
    assert "; paper ended with a significantly lower final test_accuracy;" in sentence
    table = analysis.verdict_table(rows, analysis.ACCURACY).splitlines()
    assert table[0].startswith("| config |") and "| p higher vs none | p lower vs none |" in table[0]
    assert "| +4.50 [+2.42, +6.58] points |" in table[4]
    assert analysis.overall_sentence(rows, measure=analysis.ACCURACY) == (
        "Over 1 architecture (2 penalised configurations, each against no penalty in its architecture): 1 ended "
        "with a significantly higher final test_accuracy (normalized in 1x8), 1 with a significantly lower one "
        "(paper in 1x8), and 0 reached the baseline's median best val_accuracy significantly sooner (one-tailed, "
        "Benjamini-Hochberg adjusted over the 8 p-values of the table, p < 0.05)."
    )
    sentence = analysis.comparison_sentence(rows, measure=analysis.ACCURACY)
    assert sentence.startswith("Against no penalty (final test_accuracy 91.00%")
    assert "paper never got there and ended worse" in sentence


def test_chosen_hyperparameters_take_the_highest_accuracy():
    def trial(penalty, lr, score):
        return {
            "config": {"arch": "2x8", "penalty": penalty, "learning_rate": lr, "lam": 0.01, "placement": "all"},
            "history": {"val_accuracy": [0.5, score]},
            "tuner": {},
        }

    chosen = analysis.chosen_hyperparameters(
        [trial("volume", 1e-3, 0.9), trial("volume", 3e-3, 0.95), trial("volume", 1e-2, 0.93)], analysis.ACCURACY
    )
    assert chosen["2x8", "volume"]["learning_rate"] == 3e-3 and chosen["2x8", "volume"]["score"] == 0.95


def test_groups_sort_by_width_then_depth_and_plot_in_rows(tmp_path):
    records = [
        record(arch, "none", [0.5, 0.6], 0.6, seed=s) for arch in ("2x32", "1x16", "3x16", "1x32") for s in range(2)
    ]
    assert [g for g, _ in analysis.cells(records, analysis.ACCURACY)] == ["1x16", "3x16", "1x32", "2x32"]
    path = figures.plot_curves(
        records,
        str(tmp_path / "c.png"),
        "val_accuracy",
        "validation accuracy (%)",
        log=False,
        measure=analysis.ACCURACY,
        scale=100,
    )
    assert os.path.getsize(path) > 10_000


def test_kernel_orthogonal_is_keras_orthogonal_on_the_kernel_as_a_matrix():
    tensor = keras.ops.convert_to_tensor  # Keras's regularizer takes tensors, not NumPy arrays, in mode "columns"
    kernel = np.random.default_rng(0).normal(size=(3, 3, 2, 4)).astype("float32")
    reg = peers.KernelOrthogonal(0.1)
    expected = keras.regularizers.OrthogonalRegularizer(0.1, mode="columns")(tensor(kernel.reshape(18, 4)))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(reg(tensor(kernel))), keras.ops.convert_to_numpy(expected), rtol=1e-5
    )
    wide = np.random.default_rng(1).normal(size=(3, 3, 1, 16)).astype("float32")  # 9 rows < 16 columns
    expected = keras.regularizers.OrthogonalRegularizer(0.1, mode="rows")(tensor(wide.reshape(9, 16)))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(reg(tensor(wide))), keras.ops.convert_to_numpy(expected), rtol=1e-5
    )
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(reg))
    assert isinstance(again, peers.KernelOrthogonal) and again.factor == 0.1
    with pytest.raises(ValueError, match="factor"):
        peers.KernelOrthogonal(-1.0)


def test_study_cnn_places_each_penalty():
    model = cnn_study.study_cnn((12, 12, 1), 2, 4, "normalized", 0.01, "all", 3e-3)
    assert all(isinstance(model.get_layer(f"conv{i}").kernel_regularizer, ConvEntropy) for i in (1, 2))
    assert model.get_layer("conv1").kernel_regularizer.get_config()["form"] == "normalized"
    peer = cnn_study.study_cnn((12, 12, 1), 2, 4, "orthogonal", 0.1, "first")
    assert isinstance(peer.get_layer("conv1").kernel_regularizer, peers.KernelOrthogonal)
    assert peer.get_layer("conv2").kernel_regularizer is None and len(peer.losses) == 1
    assert not cnn_study.study_cnn((12, 12, 1), 1, 4).losses
    with pytest.raises(ValueError, match="placement"):
        cnn_study.study_cnn((12, 12, 1), 1, 4, "volume", 0.1, "decoder")


def test_study_cnn_run_records_test_accuracy_after_the_last_epoch():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(size=(96, 12, 12, 1)).astype("float32"), rng.integers(0, 3, 96).astype("int32")
    config = {
        "depth": 1,
        "width": 4,
        "penalty": "volume",
        "lam": 1e-3,
        "placement": "first",
        "learning_rate": 1e-2,
        "epochs": 3,
        "batch_size": 32,
        "patience": 1,
    }
    out = cnn_study.study_cnn_run(config, 0, ((x[:64], y[:64]), (x[64:80], y[64:80]), (x[80:], y[80:])))
    history = out["history"]
    assert len(history["val_accuracy"]) == len(history["test_accuracy"]) == 3
    assert history["test_accuracy"][:2] == [None, None] and 0 <= history["test_accuracy"][2] <= 1
    assert set(out["stopping"]) == set(cnn_study.MONITORS)


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_quick_study_runs_resumes_and_reports(tmp_path, backend):
    out = tmp_path / "study"
    args = ["--quick", "--out", str(out)]
    proc = run_example("cnn_study", args, backend)
    lines = proc.stdout.splitlines()
    assert f"backend: {backend}" in proc.stdout and "embedded MNIST subset" in proc.stdout
    assert sum(line.startswith("search: 1x4,") for line in lines) == 5
    assert sum(" trial " in line and line.startswith("[") for line in lines) == 5  # one grid point each
    trials, results = read_jsonl(out / "trials.jsonl"), read_jsonl(out / "results.jsonl")
    assert len(trials) == 5 and len(results) == 10
    assert {r["config"]["penalty"] for r in results} == set(analysis.PENALTIES)
    for r in results:
        assert r["backend"] == backend and r["config"]["arch"] == "1x4" and r["seed"] in (0, 1)
        assert r["history"]["test_accuracy"][0] is None and 0 <= r["history"]["test_accuracy"][1] <= 1
    for t in trials:  # the search's objective: the highest val accuracy within the trial's epochs
        assert t["tuner"]["score"] == pytest.approx(max(t["history"]["val_accuracy"]))
        assert t["config"]["placement"] in ("none", "first") and "conv_form" not in t["config"]
    summary = (out / "summary.md").read_text()
    for text in (
        "**Conclusion:** Over 1 architecture (",
        "## Chosen hyperparameters",
        "## Verdict",
        "## Results",
        "10 of 10 final runs done",
        "5 of 5 search trials done",
        "![val_accuracy_curves.png]",
        "p higher vs orthogonal",
    ):
        assert text in summary
    assert (out / "val_accuracy_curves.png").stat().st_size > 10_000

    # Resume: nothing runs again, nothing is recorded twice; --report-only rewrites the same report
    # (both train nothing, so they run in this process).
    printed = run_example_here("cnn_study", args)
    assert "sweep: 10 runs, 10 already in" in printed and "] trial " not in printed
    assert len(read_jsonl(out / "trials.jsonl")) == 5 and len(read_jsonl(out / "results.jsonl")) == 10
    (out / "summary.md").unlink()
    printed = run_example_here("cnn_study", args + ["--report-only"])
    assert "search:" not in printed and "sweep:" not in printed
    assert (out / "summary.md").read_text() == summary


def test_the_scripts_cnn_is_the_searched_one():
    """The final runs' CNN (built in the script) carries the penalties the search placed (`study_cnn`)."""
    example = load_example("cnn_study")
    for penalty, lam, placement in (("volume", 0.01, "all"), ("orthogonal", 0.1, "first"), ("none", 0.0, "first")):
        mine = example.cnn(3, 4, penalty, lam, placement, 3e-3)
        theirs = cnn_study.study_cnn((28, 28, 1), 3, 4, penalty, lam, placement, 3e-3)
        assert [layer.name for layer in mine.layers] == [layer.name for layer in theirs.layers]
        assert mine.count_params() == theirs.count_params()
        for i in (1, 2, 3):
            a, b = (m.get_layer(f"conv{i}").kernel_regularizer for m in (mine, theirs))
            assert type(a) is type(b) and (a is None or a.get_config() == b.get_config()), (penalty, i)
        assert float(keras.ops.convert_to_numpy(mine.optimizer.learning_rate)) == pytest.approx(3e-3)
    assert example.cnn(2, 4, "normalized", 0.01, "all").get_layer("conv2").kernel_regularizer.output_shape == (11, 11)


def test_the_scripts_arguments_fill_quick_and_defaults(capsys):
    example = load_example("cnn_study")
    quick = example.parse_args(["--quick", "--epochs", "3"])
    assert quick.widths == [4] and quick.epochs == 3 and quick.test_size == 200 and quick.patience == 3
    full = example.parse_args([])
    assert full.depths == [1, 2, 3] and full.train_size == 5000 and full.test_size is None
    with pytest.raises(SystemExit) as exit_:
        example.parse_args(["--seeds", "1"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(" error: --seeds: must be at least 2, got 1")
