"""The paper-replication report's statistics on known records: censored stopping epochs, Benjamini-Hochberg families."""

import pytest

from helpers import bh_by_hand
from keras_entropy.experiments import analysis, figures, stats, survival, sweeps

pytestmark = pytest.mark.one_backend


def test_bh_by_hand_matches_a_worked_example():
    # sorted 0.01, 0.03, 0.04, 0.2 -> 0.04, 0.06, 0.0533, 0.2 -> cumulative min from the top: 0.04, 0.0533, 0.0533, 0.2
    assert bh_by_hand([0.04, 0.01, 0.2, 0.03]) == pytest.approx([0.16 / 3, 0.04, 0.2, 0.16 / 3])
    assert stats.adjust_pvalues([0.04, 0.01, 0.2, 0.03]) == pytest.approx(bh_by_hand([0.04, 0.01, 0.2, 0.03]))


def _record(lam, seed, stop, stopped, mse, width=100, cap=60):
    history = {"val_mse": [1.0] * (stop - 1) + [mse] + [mse] * (cap - stop), "val_loss": [1.0] * cap}
    return sweeps.make_record(
        {"latent_dim": width, "lam": lam, "dataset": "synthetic"},
        seed,
        history=history,
        metrics={"val_mse": mse},
        wall_time_s=1.0,
        stopping={
            "val_loss": {"epoch": cap, "best_epoch": cap, "stopped": False},
            "val_mse": {"epoch": stop, "best_epoch": max(stop - 7, 1), "stopped": stopped},
        },
        epochs_trained=cap,
        backend="tensorflow",
        devices=["CPU:0"],
    )


def _cells(line):
    return [c.strip() for c in line.split("|")[1:-1]]


def _censored_records(n=3):
    """lam = 0: `n` runs never stop (censored at 60); lam = 0.01: `n` runs stop at 28; lam = 1e-4: 30-50, 1 capped."""
    records = []
    for seed in range(n):
        records.append(_record(0.0, seed, 60, False, 0.0010 + 0.0001 * seed))
        records.append(_record(0.01, seed, 28, True, 0.0040 + 0.0001 * seed))
        stop = (30, 50, 60)[seed % 3]
        records.append(_record(1e-4, seed, stop, stop < 60, 0.0015 + 0.0001 * seed))
    return records


def test_censored_stops_get_the_logrank_test_where_the_old_ttest_claimed_p_0(tmp_path):
    records = _censored_records(3)
    base, early = [60.0] * 3, [28.0] * 3
    # The old report: a one-tailed Welch t-test on the stopping epochs, the cap counted as observed: p = 0 (***).
    old = stats.improvement_test(base, early, higher_is_better=False)
    assert old["pvalue"] == 0.0 and old["stars"] == "***"
    # The log-rank test knows the baseline's 60 is only "later than 60": with 3 runs against 3 its exact p is 1/20.
    new = survival.logrank(early, [True] * 3, base, [False] * 3, alternative="sooner")
    assert new["exact"] and new["pvalue"] == pytest.approx(0.05)
    summary = analysis.write_sweep_report(records, tmp_path / "report", monitors=("val_mse",))
    text = summary.markdown
    (row,) = [line for line in text.splitlines() if line.startswith("| 100 | 0.01 | stop epoch (val_mse) |")]
    cells = _cells(row)
    assert cells[3:6] == ["not reached (cap 3/3)", "28 [28, 28]", "exact log-rank z"]
    assert cells[7].startswith("0.05 (adj ") and not cells[7].endswith("*)")  # not significant, raw or adjusted
    # The main table: no mean over censored epochs; the Kaplan-Meier median with its interval.
    (main,) = [line for line in summary.table.splitlines() if line.startswith("| 100 | 0.0001 |")]
    km = survival.median_epoch([30, 50, 60], [True, True, False])
    assert km == (50, 30, None)
    assert _cells(main)[4] == "50 [30, not reached] (cap 1/3)"
    assert "46.7" not in main  # the old mean of 30, 50 and the cap 60
    # Pairwise: the old t-test table marked 0 vs 0.01 "+" (60 > 28, zero spread); the log-rank one does not.
    assert stats.pairwise_significance({"0": base, "0.01": early}).loc["0", "0.01"] == "+"
    marks, pvalues = analysis.pairwise_tests({"0": (base, [False] * 3), "0.01": (early, [True] * 3)}, censored=True)
    assert marks.loc["0", "0.01"] == "" and pvalues[("0", "0.01")][0] == pytest.approx(0.1)


def test_more_runs_make_the_same_early_stop_significant(tmp_path):
    # 5 runs against 5: the exact one-sided p is 1/252, and the pairwise table marks it (+: the baseline stops later).
    summary = analysis.write_sweep_report(_censored_records(5), tmp_path / "report", monitors=("val_mse",))
    (row,) = [
        line for line in summary.markdown.splitlines() if line.startswith("| 100 | 0.01 | stop epoch (val_mse) |")
    ]
    assert _cells(row)[7].startswith("0.00397 (adj ")
    marks, pvalues = analysis.pairwise_tests(
        {"0": ([60.0] * 5, [False] * 5), "0.01": ([28.0] * 5, [True] * 5)}, censored=True
    )
    assert marks.loc["0", "0.01"] == "+" and marks.loc["0.01", "0"] == "-"
    assert pvalues[("0.01", "0")][0] == pytest.approx(2 / 252)


def test_one_tailed_table_adjusts_its_pvalues_as_one_family(tmp_path):
    records = _censored_records(3)
    summary = analysis.write_sweep_report(records, tmp_path / "report", monitors=("val_mse",))
    rows = [_cells(line) for line in summary.markdown.split("## Does the entropy loss")[1].splitlines()[6:]]
    rows = [r for r in rows if r]
    assert [(r[1], r[2]) for r in rows] == [
        ("0.0001", "val_mse @ stop(val_mse)"),
        ("0.0001", "stop epoch (val_mse)"),
        ("0.01", "val_mse @ stop(val_mse)"),
        ("0.01", "stop epoch (val_mse)"),
    ]
    # The raw p-values, computed here from the records with scipy and the log-rank test.
    mse = {
        lam: [
            r["history"]["val_mse"][r["stopping"]["val_mse"]["epoch"] - 1] for r in records if r["config"]["lam"] == lam
        ]
        for lam in (0.0, 1e-4, 0.01)
    }
    stops = {
        lam: (
            [r["stopping"]["val_mse"]["epoch"] for r in records if r["config"]["lam"] == lam],
            [r["stopping"]["val_mse"]["stopped"] for r in records if r["config"]["lam"] == lam],
        )
        for lam in (0.0, 1e-4, 0.01)
    }
    from scipy import stats as scipy_stats

    raw = [
        scipy_stats.ttest_ind(mse[1e-4], mse[0.0], equal_var=False, alternative="less").pvalue,
        survival.logrank(*stops[1e-4], *stops[0.0], alternative="sooner")["pvalue"],
        scipy_stats.ttest_ind(mse[0.01], mse[0.0], equal_var=False, alternative="less").pvalue,
        survival.logrank(*stops[0.01], *stops[0.0], alternative="sooner")["pvalue"],
    ]
    adjusted = bh_by_hand(raw)
    for row, p, q in zip(rows, raw, adjusted):
        assert row[-1] == f"{p:.3g} (adj {stats.format_pvalue(q)})"
    # The family is the whole table: the 0.01 stop's adjusted p is bigger than its raw p.
    assert adjusted[3] > raw[3]


def test_pairwise_marks_are_decided_on_adjusted_pvalues():
    # a vs b: raw p = 0.033 < 0.05, but the table holds 3 tests: adjusted 0.099, no mark.
    samples = {"a": [0.0, 1.0, 2.0], "b": [2.6, 3.6, 4.6], "c": [1.3, 2.3, 3.3]}
    marks, pvalues = analysis.pairwise_tests(samples)
    raw = [pvalues[("a", "b")][0], pvalues[("a", "c")][0], pvalues[("b", "c")][0]]
    assert raw[0] < 0.05 and min(raw[1:]) > 0.05
    assert stats.pairwise_significance(samples).loc["a", "b"] == "-"  # the unadjusted table marked it
    adjusted = bh_by_hand(raw)
    assert [pvalues[pair][1] for pair in (("a", "b"), ("a", "c"), ("b", "c"))] == pytest.approx(adjusted)
    assert adjusted[0] > 0.05 and (marks == "").all().all()
    # The same pair alone is a family of one: marked.
    alone, _ = analysis.pairwise_tests({"a": samples["a"], "b": samples["b"]})
    assert alone.loc["a", "b"] == "-" and alone.loc["b", "a"] == "+"


def test_pairwise_markdown_shows_raw_and_adjusted_pvalues(tmp_path):
    summary = analysis.write_sweep_report(_censored_records(5), tmp_path / "report", monitors=("val_mse",))
    text = summary.markdown
    assert "Benjamini-Hochberg adjusted" in text
    block = text.split("stop epoch (val_mse) (row vs column; exact log-rank tests), 6/15 runs capped:")[1]
    row = [line for line in block.splitlines() if line.startswith("| 0 |")][0]
    cells = _cells(row)
    assert cells[1] == ""  # the diagonal
    # 0 vs 0.01: two-sided exact p = 2/252, adjusted with the table's two other pairs.
    # By hand: sorted 2/252, 2/252, 0.0476 -> (2/252) * 3/2 = 0.0119 for both, 0.0476 stays.
    assert bh_by_hand([2 / 252, 2 / 252, 0.0476])[0] == pytest.approx(0.0119, abs=5e-5)
    assert cells[3] == "+ 0.00794 (adj 0.0119*)"


def test_stopping_epoch_figure_draws_kaplan_meier_medians(tmp_path):
    import matplotlib.pyplot as plt

    frame = analysis.results_frame(_censored_records(3))
    fig = figures.band_figure(
        frame,
        x="latent_dim",
        group="lam",
        monitors=["val_mse"],
        column_of=lambda m: f"stop_{m}",
        ylabel="stopping epoch",
        suptitle="t",
        annotate_caps=True,
        kaplan_meier=True,
    )
    try:
        (ax,) = fig.axes
        lines = {line.get_label(): line for line in ax.lines if line.get_label().startswith("lam=")}
        # Medians: lam=0 not reached (drawn at the cap, 60), lam=1e-4 50 (not the mean 46.7), lam=0.01 28.
        assert [float(lines[f"lam={g}"].get_ydata()[0]) for g in ("0", "0.0001", "0.01")] == [60.0, 50.0, 28.0]
        # The band of lam=1e-4: 30 to "not reached", clipped at the cap.
        band = ax.collections[1].get_paths()[0].vertices[:, 1]
        assert min(band) == 30.0 and max(band) == 60.0
        triangles = [line for line in ax.lines if line.get_marker() == "^"]
        assert len(triangles) == 1 and list(triangles[0].get_ydata()) == [60.0]
        labels = [t.get_text() for t in fig.legends[0].get_texts()]
        assert "median not reached: drawn at the cap" in labels
    finally:
        plt.close(fig)
