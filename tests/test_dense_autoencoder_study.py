"""examples/dense_autoencoder_study.py (--quick, resume, --report-only, --cpu-minutes) and
keras_entropy.experiments.analysis on records with known numbers."""

import json
import math
import os

import numpy as np
import pytest

from helpers import load_example, record, run_example, run_example_here
from keras_entropy.experiments import analysis, autoencoder_study, figures, peers

pytestmark = pytest.mark.one_backend


def known_records():
    """Width 10: the baseline ends at 0.5 (mean over seeds); 'fast' gets there at epoch 2, 'slow' never."""
    base = [record(10, "none", [0.9, 0.7, 0.6, 0.52 + 0.02 * s], seed=s) for s in range(3)]
    # final means: 0.54 (baseline: 0.52, 0.54, 0.56), 0.3 (normalized), 0.8 (paper)
    fast = [record(10, "normalized", [0.8, 0.5 - 0.01 * s, 0.4, 0.3 + 0.01 * (s - 1)], seed=s) for s in range(3)]
    slow = [record(10, "paper", [0.9, 0.85, 0.82, 0.8 + 0.01 * (s - 1)], seed=s) for s in range(3)]
    return base + slow + fast


def test_first_epoch_and_modes():
    assert analysis.first_epoch_at_or_below([0.3, None, 0.1, 0.05], 0.1) == 3
    assert analysis.first_epoch_at_or_below([0.3, 0.2], 0.1) is None
    assert peers.orthogonal_mode((784, 100)) == "columns"
    assert peers.orthogonal_mode((100, 784)) == "rows"
    assert peers.orthogonal_mode((100, 100)) == "columns"


def test_cells_are_ordered_by_width_then_penalty():
    records = [
        record(260, "orthogonal", [1.0]),
        record(100, "orthogonal", [1.0]),
        record(100, "none", [1.0]),
        record(100, "volume", [1.0]),
    ]
    assert list(analysis.cells(records)) == [(100, "none"), (100, "volume"), (100, "orthogonal"), (260, "orthogonal")]


def test_evidence_rows_count_epochs_nevers_and_censoring():
    records = known_records()
    rows = {row["penalty"]: row for row in analysis.evidence_rows(records, thresholds=(0.6, 0.1))}
    assert [r["penalty"] for r in analysis.evidence_rows(records)] == ["none", "paper", "normalized"]
    base, slow, fast = rows["none"], rows["paper"], rows["normalized"]
    assert base["baseline_final"] == pytest.approx(0.54)  # the median of 0.52, 0.54, 0.56
    # epochs to the baseline's median final val MSE (0.54), censored at the last epoch (4) when never reached
    assert fast["epochs_to"]["reach_baseline"] == {"times": [2, 2, 2], "reached": [True] * 3}
    assert slow["epochs_to"]["reach_baseline"] == {"times": [4, 4, 4], "reached": [False] * 3}
    assert base["epochs_to"]["reach_baseline"] == {"times": [4, 4, 4], "reached": [True, True, False]}
    assert fast["never"]["reach_baseline"] == 0 and slow["never"]["reach_baseline"] == 3
    assert base["never"]["reach_baseline"] == 1
    assert base["epochs_to"]["reach_0.6"]["times"] == [3, 3, 3] and base["never"]["reach_0.1"] == 3
    assert fast["samples"]["best_val_mse"] == pytest.approx([0.29, 0.3, 0.31])
    assert fast["samples"]["final_test_mse"] == pytest.approx([0.29, 0.3, 0.31])
    assert "reach_baseline" not in fast["samples"]  # no mean can be taken of censored epochs
    assert base["epochs_to"]["stop_val_mse"] == {"times": [4, 4, 4], "reached": [False] * 3}
    assert base["never"]["stop_val_loss"] == 3
    assert analysis.reach_cell(slow, "reach_baseline") == "not reached (3/3 never)"
    assert analysis.reach_cell(base, "reach_baseline") == "4 [4, not reached] (1/3 never)"
    assert analysis.reach_cell(fast, "reach_baseline") == "2 [2, 2]"
    assert analysis.describe_config(fast) == "lr 0.001, lam 0.01, encoder"
    assert analysis.describe_config(base) == "lr 0.001"


def test_the_target_is_the_baselines_median_one_diverged_seed_does_not_move_it():
    diverged = known_records() + [record(10, "none", [0.9, 0.9, 0.9, 5.0], seed=3)]
    assert analysis.baseline_target(known_records(), 10) == pytest.approx(0.54)
    assert analysis.baseline_target(diverged, 10) == pytest.approx(0.55)  # the mean would be 1.655


def test_tables_and_tests():
    records = known_records()
    rows = analysis.evidence_rows(records)
    table = analysis.evidence_table(rows).splitlines()
    assert len(table) == 2 + 3 and table[0].startswith("| width | config | hyperparameters | n |")
    assert "not reached (3/3 never)" in table[3]  # paper never reaches 0.54
    assert "| not reached (cap 3/3) |" in table[2]  # the stopping rule never fired: censored at the cap
    fast = next(r for r in rows if r["penalty"] == "normalized")
    test = analysis.improvement(rows, fast, "none", "final_test_mse")
    assert test["pvalue"] < 0.001 and test["difference"] == pytest.approx(0.3 - 0.54)
    assert analysis.improvement(rows, fast, "orthogonal", "final_test_mse") is None  # no peer runs
    p_table = analysis.tests_table(rows).splitlines()
    # 2 penalised configurations x 3 quantities against no penalty (no peer ran)
    assert p_table[0] == "| width | config | quantity | against | p better (sooner) | p worse (later) |"
    assert len(p_table) == 2 + 6
    line = next(x for x in p_table if "| normalized | final test mse |" in x)
    assert line.split(" | ")[4].endswith("***)")  # normalized: lower final test MSE, adjusted over 12 p-values


def test_verdict_rows_table_and_sentence():
    verdicts = analysis.verdict_rows(known_records())
    by = {r["penalty"]: r for r in verdicts}
    assert by["none"]["p"]["better"] is None and by["normalized"]["p"]["better"] < 0.001
    assert by["paper"]["p"]["better"] > 0.99 and by["paper"]["p"]["worse"] < 0.01
    assert by["normalized"]["final"][0] == pytest.approx(0.3)
    assert by["normalized"]["reach_cell"] == "2 [2, 2]" and by["paper"]["reach_cell"] == "not reached (3/3 never)"
    table = analysis.verdict_table(verdicts).splitlines()
    assert len(table) == 5 and table[0].startswith("| config | hyperparameters | n |")
    assert table[0].endswith("| p sooner vs none | p later vs none |") and "orthogonal" not in table[0]
    # With the peer: whether an entropy form beat it.
    peer = [record(10, "orthogonal", [0.8, 0.6, 0.5, 0.45 + 0.01 * s], seed=s) for s in range(3)]
    (sentence,) = analysis.verdict_sentences(analysis.verdict_rows(known_records() + peer))
    assert "; normalized had a significantly lower final test_mse than the orthogonal peer (one-tailed" in sentence
    (sentence,) = analysis.verdict_sentences(verdicts)
    assert sentence.startswith("Width 10 (3 baseline runs): normalized reached a significantly lower final")
    assert "the lowest mean was normalized (3.000e-01, -44.4% against 5.400e-01" in sentence
    assert "; paper ended with a significantly higher final test_mse;" in sentence
    # 3 runs against 3: no exact log-rank p-value is below 1/20, so "sooner" cannot be significant.
    assert by["normalized"]["p"]["sooner"] == pytest.approx(0.05)
    assert "; no penalised configuration reached the baseline's median final test_mse significantly sooner" in sentence
    assert sentence.endswith("(one-tailed, Benjamini-Hochberg adjusted over the 8 p-values of the table, p < 0.05).")
    # A penalty that is no better: said so.
    plain = [r for r in known_records() if r["config"]["penalty"] != "normalized"]
    (sentence,) = analysis.verdict_sentences(analysis.verdict_rows(plain))
    assert "no penalised configuration reached a significantly lower" in sentence
    assert "no penalty had the lowest mean" in sentence
    assert analysis.verdict_sentences(
        analysis.verdict_rows([r for r in plain if r["config"]["penalty"] == "paper"])
    ) == ["Width 10: no baseline runs yet, so nothing can be said."]


def test_chosen_hyperparameters_take_the_lowest_score():
    def trial(penalty, lr, lam, placement, score, history=None):
        return {
            "config": {"latent_dim": 10, "penalty": penalty, "learning_rate": lr, "lam": lam, "placement": placement},
            "history": {"val_mse": history or []},
            "tuner": {"score": score},
        }

    trials = [
        trial("none", 1e-3, 0.0, "none", 0.2),
        trial("none", 1e-2, 0.0, "none", 0.1),
        trial("volume", 1e-3, 0.01, "decoder", 0.3),
        trial("volume", 1e-2, 0.1, "encoder", 0.3),
        trial("volume", 3e-3, 0.1, "encoder", None, history=[0.5, 0.25, 0.4]),
    ]
    chosen = analysis.chosen_hyperparameters(trials)
    assert chosen[10, "none"] == {"learning_rate": 1e-2, "lam": 0.0, "placement": "none", "score": 0.1}
    assert chosen[10, "volume"]["learning_rate"] == 3e-3 and chosen[10, "volume"]["score"] == 0.25
    assert analysis.trial_score(trials[2]) == 0.3


def test_plot_curves_writes_one_panel_per_width(tmp_path):
    records = known_records() + [record(20, "none", [0.5, 0.4], seed=s) for s in range(2)]
    path = figures.plot_curves(records, str(tmp_path / "curves.png"))
    assert os.path.getsize(path) > 10_000
    epochs, means, lows, highs = figures.epoch_bands(records[:3], "val_mse")
    assert epochs == [1, 2, 3, 4] and means[:3] == pytest.approx([0.9, 0.7, 0.6])
    assert lows[3] < means[3] < highs[3]


def test_models_place_each_penalty_on_one_kernel():
    import keras

    from keras_entropy import DenseEntropy

    model = autoencoder_study.study_autoencoder(784, 16, "normalized", 0.01, "decoder", 3e-3)
    assert model.get_layer("encoder").kernel_regularizer is None
    penalty = model.get_layer("decoder").kernel_regularizer
    assert isinstance(penalty, DenseEntropy) and penalty.get_config()["form"] == "normalized"
    peer = (
        autoencoder_study.study_autoencoder(784, 16, "orthogonal", 0.1, "decoder")
        .get_layer("decoder")
        .kernel_regularizer
    )
    assert isinstance(peer, keras.regularizers.OrthogonalRegularizer) and peer.mode == "rows"
    none = autoencoder_study.study_autoencoder(784, 16)
    assert not none.losses and float(keras.ops.convert_to_numpy(none.optimizer.learning_rate)) == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="penalty"):
        autoencoder_study.penalty_regularizer("l2", 0.1, (3, 2))


def test_study_run_records_test_mse_each_epoch():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(96, 784)).astype("float32")
    config = {
        "latent_dim": 4,
        "penalty": "volume",
        "lam": 1e-3,
        "placement": "encoder",
        "learning_rate": 1e-2,
        "epochs": 3,
        "batch_size": 32,
        "patience": 1,
    }
    out = autoencoder_study.study_run(config, 0, (x[:64], x[64:80], x[80:]))
    history = out["history"]
    assert len(history["test_mse"]) == len(history["val_mse"]) == 3
    assert all(0 < v < 1 for v in history["test_mse"]) and history["val_loss"][0] > history["val_mse"][0]
    assert set(out["stopping"]) == set(analysis.MONITORS) and out["epochs_trained"] == 3


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_quick_study_runs_resumes_and_reports(tmp_path, backend):
    out = tmp_path / "study"
    args = ["--quick", "--out", str(out)]
    # A CPU budget that Keras's start-up already used (in this process: the runs that train
    # nothing run here, `run_example_here`): nothing starts, and it says how to go on.
    printed = run_example_here("dense_autoencoder_study", args + ["--cpu-minutes", "0.0001"])
    assert "--cpu-minutes reached" in printed and not (out / "results.jsonl").exists()
    assert "No final runs yet." in (out / "summary.md").read_text()

    proc = run_example("dense_autoencoder_study", args, backend)
    lines = proc.stdout.splitlines()
    assert f"backend: {backend}" in proc.stdout and "embedded MNIST subset" in proc.stdout
    assert len(lines) < 60, proc.stdout  # quiet: one line per trial and per run
    assert sum(line.startswith("search: width 8,") for line in lines) == 5
    assert sum(" trial " in line and line.startswith("[") for line in lines) == 9  # 1 + 2 x 4 grid points
    assert sum(line.startswith("[") and "/10] penalty=" in line for line in lines) == 10

    trials, results = read_jsonl(out / "trials.jsonl"), read_jsonl(out / "results.jsonl")
    assert len(trials) == 9 and len(results) == 10
    assert {r["config"]["penalty"] for r in results} == set(analysis.PENALTIES)
    for r in results:
        assert r["backend"] == backend and r["config"]["epochs"] == 3 and r["seed"] in (0, 1)
        assert len(r["history"]["test_mse"]) == len(r["history"]["mse"]) == 3
        assert {"val_mse", "val_loss"} <= set(r["stopping"])
    for t in trials:  # the search's objective: the lowest val MSE within the trial's epochs
        assert t["tuner"]["score"] == pytest.approx(min(t["history"]["val_mse"]))
        assert t["config"]["placement"] in ("none", "encoder", "decoder") and "dense_form" not in t["config"]
    assert not list(out.glob("tuner/*/trial_*/checkpoint.weights.h5"))
    assert len(list(out.glob("tuner/width_8_*/trial_*/trial.json"))) == 9
    summary = (out / "summary.md").read_text()
    for text in (
        "## Chosen hyperparameters",
        "## Verdict",
        "## Results",
        "10 of 10 final runs done",
        "9 of 9 search trials done",
        "![val_mse_curves.png]",
        "p lower vs orthogonal",
    ):
        assert text in summary
    assert (out / "val_mse_curves.png").stat().st_size > 10_000
    assert len((out / "trials.csv").read_text().splitlines()) == 10

    # Resume: nothing runs again, nothing is recorded twice.
    printed = run_example_here("dense_autoencoder_study", args)
    assert "sweep: 10 runs, 10 already in" in printed and "] trial " not in printed
    assert len(read_jsonl(out / "trials.jsonl")) == 9 and len(read_jsonl(out / "results.jsonl")) == 10

    # --report-only: the report from the records alone.
    (out / "summary.md").unlink()
    printed = run_example_here("dense_autoencoder_study", args + ["--report-only"])
    assert "search:" not in printed and "sweep:" not in printed
    assert (out / "summary.md").read_text() == summary
    assert math.isfinite(float(printed.split("| none | lr ")[1].split(" | ")[2].split()[0]))


def test_the_scripts_autoencoder_is_the_studied_one():
    """The script's model carries each configuration's penalty as `study_autoencoder` does."""
    import keras

    example = load_example("dense_autoencoder_study")
    for penalty, lam, kernel in (
        ("normalized", 0.01, "decoder"),
        ("orthogonal", 0.1, "encoder"),
        ("none", 0.0, "encoder"),
    ):
        mine = example.autoencoder(16, penalty, lam, kernel, 3e-3)
        theirs = autoencoder_study.study_autoencoder(784, 16, penalty, lam, kernel, 3e-3)
        for layer in ("encoder", "decoder"):
            a, b = (m.get_layer(layer).kernel_regularizer for m in (mine, theirs))
            assert type(a) is type(b) and (a is None or a.get_config() == b.get_config()), (penalty, layer)
        assert float(keras.ops.convert_to_numpy(mine.optimizer.learning_rate)) == pytest.approx(3e-3)
    peer = example.autoencoder(16, "orthogonal", 0.1, "decoder").get_layer("decoder").kernel_regularizer
    assert peer.mode == "rows"


def test_the_scripts_arguments_fill_quick_and_defaults(capsys):
    example = load_example("dense_autoencoder_study")
    quick = example.parse_args(["--quick", "--seeds", "3"])
    assert quick.widths == [8] and quick.seeds == 3 and quick.val_size == 200 and quick.patience == 7
    full = example.parse_args([])
    assert full.widths == [100, 260] and full.train_size is None and full.penalties == list(analysis.PENALTIES)
    with pytest.raises(SystemExit) as exit_:
        example.parse_args(["--cpu-minutes", "0"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(" error: --cpu-minutes: must be > 0, got 0")
