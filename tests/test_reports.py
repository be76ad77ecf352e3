"""keras_entropy.experiments.analysis on synthetic results, and examples/dense_autoencoder.py --quick."""

import json
import os

import numpy as np
import pytest

from helpers import load_example
from keras_entropy.experiments import analysis, figures, stats, survival, sweeps

pytestmark = pytest.mark.one_backend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PNG = b"\x89PNG\r\n\x1a\n"


def synthetic_results(path, rng):
    """Runs whose MSE and stopping epochs follow a known pattern."""
    results = sweeps.ResultsFile(path)
    truth = {}
    for width in (20, 60):
        for lam, mse, stop in ((0.0, 0.003, 40), (0.01, 0.003, 30), (1.0, 0.010, 9)):
            for seed in range(5):
                m = mse * (1 + 0.02 * rng.standard_normal())
                s = stop + int(rng.integers(-1, 2))
                epochs = s + 3
                history = {
                    "val_mse": [1.0] * (s - 1) + [m] + [m * 0.9] * 3,
                    "val_loss": [1.0] * (s - 1) + [m + lam] + [m + lam] * 3,
                }
                stopping = {
                    "val_loss": {"epoch": s, "best_epoch": s - 7, "stopped": True},
                    "val_mse": {"epoch": epochs, "best_epoch": epochs, "stopped": lam != 0.01},
                }
                results.append(
                    sweeps.make_record(
                        {"latent_dim": width, "lam": lam, "dataset": "synthetic"},
                        seed,
                        history=history,
                        metrics={"val_mse": m},
                        wall_time_s=1.0,
                        stopping=stopping,
                        epochs_trained=epochs,
                        backend="tensorflow",
                        devices=["CPU:0"],
                    )
                )
                truth.setdefault((width, lam), []).append((m, s))
    return truth


def test_results_frame_reads_metrics_at_each_stopping_epoch(tmp_path, rng):
    path = tmp_path / "results.jsonl"
    truth = synthetic_results(path, rng)
    frame = analysis.results_frame(path)
    assert len(frame) == 30
    row = frame[(frame.latent_dim == 20) & (frame.lam == 1.0) & (frame.seed == 2)].iloc[0]
    m, s = truth[(20, 1.0)][2]
    assert row["stop_val_loss"] == s and row["val_mse@val_loss"] == pytest.approx(m)
    assert row["val_mse@val_mse"] == pytest.approx(m * 0.9) and row["stop_val_mse"] == s + 3
    assert not frame[frame.lam == 0.01]["stopped_val_mse"].any()
    keys = list(frame.key[:4])
    assert len(analysis.results_frame(path, keys=keys)) == 4


def test_write_report_numbers_tables_and_plots(tmp_path, rng):
    path = tmp_path / "results.jsonl"
    truth = synthetic_results(path, rng)
    out = tmp_path / "report"
    summary = analysis.write_sweep_report(path, out, title="Synthetic", note="made up", command="python x.py")
    for name in (
        "val_mse_vs_latent_dim.png",
        "stopping_epoch_vs_latent_dim.png",
        "significance_latent_dim_20.png",
        "significance_latent_dim_60.png",
        "summary.md",
    ):
        assert str(out / name) in summary.files
        data = (out / name).read_bytes()
        assert len(data) > 1000
        if name.endswith(".png"):
            assert data.startswith(PNG)
    text = (out / "summary.md").read_text()
    assert text == summary.markdown and summary.table in text
    assert "> **Note:** made up" in text and "python x.py" in text
    # The main table holds the mean and CI of each cell.
    mse, stop = zip(*truth[(60, 1.0)])
    mean, low, high = stats.t_confidence_interval(mse)
    row = [line for line in summary.table.splitlines() if line.startswith("| 60 | 1 |")][0]
    assert analysis._fmt(mean) in row and analysis._fmt(low) in row and analysis._fmt(high) in row
    # Stopping epochs (all observed here): the Kaplan-Meier median and its interval, not a mean.
    assert survival.format_median(survival.median_epoch(stop, [True] * len(stop))) in row
    assert analysis._fmt(float(np.mean(stop)), 3) + " [" not in row
    censored_row = [line for line in summary.table.splitlines() if line.startswith("| 20 | 0.01 |")][0]
    assert censored_row.split("|")[-3].strip() == "5"
    # Pairwise table: lambda = 1 has higher MSE and stops earlier than lambda = 0 (marks and raw/adjusted p).
    marks = [[c.strip()[:1] for c in line.split("|")[2:-1]] for line in _rows(text, "| 1 | ")]
    assert ["+", "+", ""] in marks  # MSE row of lambda = 1 vs 0, 0.01
    assert ["-", "-", ""] in marks  # stopping-epoch row of lambda = 1
    assert all("(adj " in c for line in _rows(text, "| 1 | ") for c in line.split("|")[2:4])
    # One-tailed tests against lambda = 0: stopping epoch improves with stars, MSE does not.
    test_rows = [line for line in text.splitlines() if line.startswith("| 20 | 1 | stop epoch (val_loss)")]
    # 5 runs against 5, every lambda = 1 run stops first: the exact one-sided p is 1/252 (its floor).
    assert test_rows and "exact log-rank" in test_rows[0] and "| 0.00397 (adj " in test_rows[0]
    assert test_rows[0].rstrip(" |").endswith("**)")
    mse_rows = [line for line in text.splitlines() if line.startswith("| 20 | 1 | val_mse @ stop")]
    assert mse_rows and "Welch t" in mse_rows[0] and not mse_rows[0].rstrip(" |").endswith("*)")


def _rows(table, prefix):
    return [line for line in table.splitlines() if line.startswith(prefix)]


def test_summary_marks_runs_capped_by_max_epochs(tmp_path, rng):
    path = tmp_path / "results.jsonl"
    synthetic_results(path, rng)
    records = sweeps.load_records(path)
    # One lambda = 1 run at width 60 also hits the cap on val_loss (stopping epoch = its last epoch).
    capped = [r for r in records if r["config"]["latent_dim"] == 60 and r["config"]["lam"] == 1.0][0]
    capped["stopping"]["val_loss"] = {"epoch": capped["epochs_trained"], "best_epoch": 3, "stopped": False}
    summary = analysis.write_sweep_report(records, tmp_path / "report")
    header = [c.strip() for c in summary.table.splitlines()[0].strip("|").split("|")]
    loss_col, mse_col = header.index("stop epoch (val_loss)"), header.index("stop epoch (val_mse)")
    for width in (20, 60):
        for lam in ("0", "0.01", "1"):
            (row,) = _rows(summary.table, f"| {width} | {lam} |")
            cells = [c.strip() for c in row.strip().strip("|").split("|")]
            # lambda = 0.01: val_mse never stopped in its 5 runs; elsewhere every run stopped.
            assert cells[mse_col].endswith(" (cap 5/5)") == (lam == "0.01")
            assert ("cap" in cells[mse_col]) == (lam == "0.01")
            assert ("cap" in cells[loss_col]) == (width == 60 and lam == "1")
            if width == 60 and lam == "1":
                assert cells[loss_col].endswith(" (cap 1/5)")
            for i, cell in enumerate(cells):
                if i not in (loss_col, mse_col):
                    assert "cap" not in cell
    text = summary.markdown
    assert analysis.CAP_NOTE.split(" (")[0] in text and "`(cap k/n)`" in text
    # One-tailed tests: the capped side is marked, the other is not.
    (test_row,) = _rows(text, "| 20 | 0.01 | stop epoch (val_mse) |")
    base, treat = [c.strip() for c in test_row.strip("| ").split("|")][3:5]
    assert "cap" not in base and treat.endswith("(cap 5/5)")
    (test_row,) = _rows(text, "| 20 | 1 | stop epoch (val_mse) |")
    assert "cap" not in test_row
    assert "stop epoch (val_mse) (row vs column; exact log-rank tests), 5/15 runs capped:" in text


def _stopping_plot(frame):
    return figures.band_figure(
        frame,
        x="latent_dim",
        group="lam",
        monitors=["val_loss", "val_mse"],
        column_of=lambda m: f"stop_{m}",
        ylabel="stopping epoch",
        suptitle="Synthetic: stopping epoch (Kaplan-Meier median, 95% interval)",
        annotate_caps=True,
        kaplan_meier=True,
    )


def _assert_suptitle_clear(fig):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    top = fig._suptitle.get_window_extent(renderer)
    assert fig._suptitle.get_text() and top.width > 0
    for ax in fig.axes:
        assert ax.get_title()
        assert not top.overlaps(ax.title.get_window_extent(renderer)), ax.get_title()
        assert not top.overlaps(ax.get_tightbbox(renderer)), ax.get_title()
    for i, a in enumerate(fig.axes):
        for b in fig.axes[i + 1 :]:
            assert not a.get_tightbbox(renderer).overlaps(b.get_tightbbox(renderer))


def test_stopping_epoch_plot_marks_capped_runs(tmp_path, rng):
    import matplotlib.pyplot as plt

    path = tmp_path / "results.jsonl"
    synthetic_results(path, rng)
    fig = _stopping_plot(analysis.results_frame(path))
    try:
        loss_ax, mse_ax = fig.axes
        assert [t.get_text() for t in loss_ax.texts] == []
        assert sorted(t.get_text() for t in mse_ax.texts) == ["lam=0.01: cap 5/5"] * 2
        # Open squares at the two capped points, a dashed line at the cap epochs.
        squares = [line for line in mse_ax.lines if line.get_marker() == "s"]
        assert len(squares) == 2 and all(line.get_markerfacecolor() == "none" for line in squares)
        assert not [line for line in loss_ax.lines if line.get_marker() == "s"]
        labels = [t.get_text() for t in fig.legends[0].get_texts()]
        assert labels[:3] == ["lam=0", "lam=0.01", "lam=1"]
        assert any(label.startswith("cap = stopped by --max-epochs") for label in labels)
        assert "--max-epochs (cap)" in labels
        _assert_suptitle_clear(fig)
    finally:
        plt.close(fig)
    # Nothing capped: no squares, no cap legend entries.
    records = sweeps.load_records(path)
    for r in records:
        r["stopping"]["val_mse"]["stopped"] = True
    fig = _stopping_plot(analysis.results_frame(records))
    try:
        assert not any(line.get_marker() == "s" for ax in fig.axes for line in ax.lines)
        assert not any(ax.texts for ax in fig.axes)
        assert not [t for t in fig.legends[0].get_texts() if "cap" in t.get_text()]
    finally:
        plt.close(fig)


def test_significance_figure_labels_both_axes_and_clears_the_suptitle(tmp_path, rng):
    import matplotlib.pyplot as plt

    path = tmp_path / "results.jsonl"
    synthetic_results(path, rng)
    frame = analysis.results_frame(path)
    quantities = [
        ("val_mse @ stop(val_loss)", "val_mse@val_loss"),
        ("stop epoch (val_loss)", "stop_val_loss"),
        ("stop epoch (val_mse)", "stop_val_mse"),
    ]
    fig = figures.significance_figure(
        frame,
        x="latent_dim",
        value=20,
        group="lam",
        quantities=quantities,
        alpha=0.05,
        title="Synthetic with a long title",
        monitor_of={"stop epoch (val_loss)": "val_loss", "stop epoch (val_mse)": "val_mse"},
    )
    try:
        names = ["0", "0.01", "1"]
        assert len(fig.axes) == 3
        fig.canvas.draw()
        at = frame[frame.latent_dim == 20]
        for ax, (label, column) in zip(fig.axes, quantities):
            assert [t.get_text() for t in ax.get_xticklabels()] == names
            assert [t.get_text() for t in ax.get_yticklabels()] == names
            assert ax.get_xlabel() == "lam (column)" and ax.get_ylabel() == "lam (row)"
            assert ax.get_title().startswith(label)
            # The cell marks are the pairwise table's, placed at (column, row).
            monitor = {"stop_val_loss": "val_loss", "stop_val_mse": "val_mse"}.get(column)
            samples = {
                n: analysis.stop_sample(at[at.lam == float(n)], monitor)
                if monitor
                else list(at[at.lam == float(n)][column])
                for n in names
            }
            pairs, _ = analysis.pairwise_tests(samples, censored=monitor is not None, alpha=0.05)
            marks = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
            expected = {
                (r, c): pairs.loc[i, j] for r, i in enumerate(names) for c, j in enumerate(names) if pairs.loc[i, j]
            }
            assert marks == expected and expected  # every panel has some significant pair
        assert fig.axes[0].get_title() == "val_mse @ stop(val_loss) (Welch t)"
        assert fig.axes[2].get_title() == "stop epoch (val_mse) (exact log-rank)\n5/15 runs capped"
        assert "Benjamini-Hochberg adjusted" in fig._suptitle.get_text()
        assert "cap = stopped by --max-epochs" in fig._suptitle.get_text()
        _assert_suptitle_clear(fig)
    finally:
        plt.close(fig)


def test_report_figures_of_the_real_mnist_results_are_readable():
    """The committed real-data report: caps marked, significance grids labelled, titles clear."""
    import matplotlib.pyplot as plt

    results = os.path.join(ROOT, "docs", "results", "dense_autoencoder_mnist", "results.jsonl")
    frame = analysis.results_frame(results)
    fig = figures.significance_figure(
        frame,
        x="latent_dim",
        value=260,
        group="lam",
        quantities=[("val_mse @ stop(val_loss)", "val_mse@val_loss"), ("stop epoch (val_mse)", "stop_val_mse")],
        title="Dense autoencoder on mnist",
        monitor_of={"stop epoch (val_mse)": "val_mse"},
    )
    try:
        for ax in fig.axes:
            assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "0.0001", "0.01"]
            assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "0.0001", "0.01"]
        _assert_suptitle_clear(fig)
    finally:
        plt.close(fig)
    fig = _stopping_plot(frame)
    try:
        # val_loss never fired (18/18 capped); val_mse fired only at width 260, lambda 1e-2.
        assert len(fig.axes[0].texts) == 6 and len(fig.axes[1].texts) == 5
        assert "lam=0.01: cap 3/3" not in [t.get_text() for t in fig.axes[1].texts if t.xy[0] == 260]
        _assert_suptitle_clear(fig)
    finally:
        plt.close(fig)
    text = open(os.path.join(os.path.dirname(results), "summary.md")).read()
    assert "| 260 | 0.01 | 3 | 5.379e-03 [5.326e-03, 5.431e-03] | not reached (cap 3/3) | 28 [28, 28] |" in text
    # The one early stop (28 in 3 runs against 3 runs capped at 60): exact log-rank p = 1/20, not < 0.05.
    assert "| 260 | 0.01 | stop epoch (val_mse) | not reached (cap 3/3) | 28 [28, 28] | exact log-rank z |" in text
    assert "| 0.05 (adj 0.25) |" in text


def test_write_report_errors(tmp_path):
    with pytest.raises(ValueError, match="No runs"):
        analysis.write_sweep_report(tmp_path / "none.jsonl", tmp_path)
    path = tmp_path / "r.jsonl"
    sweeps.ResultsFile(path).append(sweeps.make_record({"lam": 0.0}, 0, stopping={}))
    with pytest.raises(ValueError, match="latent_dim"):
        analysis.write_sweep_report(path, tmp_path)


@pytest.fixture
def no_tfds_copy(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    folder = tmp_path / "tfds_home"
    folder.mkdir()
    monkeypatch.setattr(tfds.core.constants, "DATA_DIR", str(folder))


def test_dense_autoencoder_quick_on_embedded_data(tmp_path, no_tfds_copy, capsys):
    example = load_example("dense_autoencoder")
    out = tmp_path / "out"
    argv = [
        "--quick",
        "--latent-dims",
        "4",
        "8",
        "--lams",
        "0",
        "0.5",
        "--replications",
        "2",
        "--max-epochs",
        "3",
        "--patience",
        "1",
        "--train-size",
        "256",
        "--val-size",
        "64",
        "--verbose",
        "0",
        "--out",
        str(out),
    ]
    assert example.main(argv) == 0
    printed = capsys.readouterr().out
    assert "backend: " in printed and "devices: " in printed
    assert "embedded MNIST subset" in printed and "NOTE:" in printed
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(records) == 8 and len({r["key"] for r in records}) == 8
    cells = sorted((r["config"]["latent_dim"], r["config"]["lam"], r["seed"]) for r in records)
    assert cells == sorted((w, lam, s) for w in (4, 8) for lam in (0.0, 0.5) for s in (0, 1))
    for r in records:
        c, h = r["config"], r["history"]
        assert c["data_source"] == "embedded" and c["train_size"] == 256 and c["val_size"] == 64
        assert c["patience"] == 1 and c["max_epochs"] == 3 and c["monitor"] == "val_loss"
        assert 1 <= r["epochs_trained"] <= 3 and all(len(v) == r["epochs_trained"] for v in h.values())
        assert set(r["stopping"]) == {"val_loss", "val_mse"}
        assert r["metrics"]["val_mse"] == h["val_mse"][r["stopping_epoch"] - 1]
        assert all(0 < v < 1 for v in h["val_mse"])
        if c["lam"] > 0:
            assert all(vl > vm for vl, vm in zip(h["val_loss"], h["val_mse"]))
        else:
            assert h["val_loss"] == pytest.approx(h["val_mse"], rel=1e-5)
    summary = (out / "summary.md").read_text()
    assert "embedded MNIST subset" in summary and summary.count("| 8 | 0.5 | 2 |") == 1
    assert summary.strip().splitlines()[0] == "# Dense autoencoder on mnist (embedded subset, --quick)"
    for png in ("val_mse_vs_latent_dim.png", "stopping_epoch_vs_latent_dim.png", "significance_latent_dim_4.png"):
        assert (out / png).read_bytes().startswith(PNG)
    assert "| latent_dim | lam | n |" in printed  # ends with the report's table
    # Same command again: nothing re-trained, nothing duplicated; --report-only rewrites the report.
    before = (out / "results.jsonl").read_bytes()
    assert example.main(argv) == 0
    assert (out / "results.jsonl").read_bytes() == before
    (out / "summary.md").unlink()
    assert example.main(argv + ["--report-only"]) == 0
    rewritten = (out / "summary.md").read_text()
    assert rewritten == summary  # the command shown is the one that made the records, without --report-only


def test_dense_autoencoder_full_mode_never_substitutes(tmp_path, no_tfds_copy, capsys):
    from keras_entropy.experiments.datasets import DatasetNotFoundError

    example = load_example("dense_autoencoder")
    with pytest.raises(DatasetNotFoundError, match="mnist"):
        example.experiment(example.parse_args(["--data-dir", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]))
    with pytest.raises(DatasetNotFoundError, match="tfds_home"):
        example.experiment(example.parse_args(["--no-download", "--out", str(tmp_path / "o")]))
    # As a command: one line naming the flag, exit status 2.
    assert example.main(["--no-download", "--out", str(tmp_path / "o")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "error: mnist is not in tensorflow-datasets' data directory" in line and "--no-download" in line
    assert not (tmp_path / "o" / "results.jsonl").exists()


def test_dense_autoencoder_defaults_are_the_papers_settings(capsys):
    from keras_entropy.experiments import paper

    example = load_example("dense_autoencoder")
    assert {k: v for k, v in example.DEFAULTS.items() if k in paper.DENSE_AUTOENCODER_PAPER} == {
        k: v for k, v in paper.DENSE_AUTOENCODER_PAPER.items() if k in example.DEFAULTS
    }
    args = example.parse_args(["--quick", "--patience", "0"])
    assert (args.patience, args.max_epochs, args.batch_size, args.lams) == (0, 15, 128, [0.0, 1e-3, 1e-1])
    with pytest.raises(SystemExit):
        example.parse_args(["--latent-dims", "8", "0"])
    assert capsys.readouterr().err.splitlines()[-1].endswith("--latent-dims: must be at least 1, got 0")


def test_dense_autoencoder_mixed_precision(tmp_path, no_tfds_copy, capsys):
    example = load_example("dense_autoencoder")
    out = tmp_path / "mp"
    assert (
        example.main(
            [
                "--quick",
                "--mixed-precision",
                "--latent-dims",
                "4",
                "--lams",
                "0.1",
                "--replications",
                "1",
                "--max-epochs",
                "2",
                "--train-size",
                "128",
                "--val-size",
                "32",
                "--verbose",
                "0",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "dtype policy: mixed_float16" in capsys.readouterr().out
    (record,) = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert record["config"]["dtype_policy"] == "mixed_float16"
    assert all(np.isfinite(v) and v > 0 for v in record["history"]["val_loss"] + record["history"]["val_mse"])


def test_dense_autoencoder_forms_side_by_side(tmp_path, no_tfds_copy, capsys):
    example = load_example("dense_autoencoder")
    out = tmp_path / "forms"
    argv = [
        "--quick",
        "--forms",
        "paper",
        "normalized",
        "--latent-dims",
        "4",
        "--lams",
        "0",
        "0.5",
        "--replications",
        "1",
        "--max-epochs",
        "2",
        "--patience",
        "1",
        "--train-size",
        "128",
        "--val-size",
        "32",
        "--verbose",
        "0",
        "--out",
        str(out),
    ]
    assert example.main(argv) == 0
    printed = capsys.readouterr().out
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    # One shared baseline (no penalty, no form), then lam=0.5 once per form; the paper's form is the
    # config without `form` (so results written before the forms existed resume).
    assert sorted((r["config"]["lam"], r["config"].get("form", "-")) for r in records) == [
        (0.0, "-"),
        (0.5, "-"),
        (0.5, "normalized"),
    ]
    normalized = next(r for r in records if r["config"].get("form") == "normalized")
    paper = next(r for r in records if r["config"]["lam"] == 0.5 and "form" not in r["config"])
    assert normalized["history"]["val_loss"] != paper["history"]["val_loss"]
    summary = (out / "summary.md").read_text()
    assert summary.index("## form = paper") < summary.index("## form = normalized")
    assert "![form_normalized/val_mse_vs_latent_dim.png](form_normalized/val_mse_vs_latent_dim.png)" in summary
    for form in ("paper", "normalized"):
        folder = out / f"form_{form}"
        assert (folder / "val_mse_vs_latent_dim.png").read_bytes().startswith(PNG)
        report = (folder / "summary.md").read_text()
        assert report.splitlines()[0] == f"# Dense autoencoder on mnist (embedded subset, --quick), form={form}"
        assert f"form={form}" in next(line for line in report.splitlines() if line.startswith("Fixed settings"))
        assert report.count("| 4 | 0 | 1 |") == 1 and report.count("| 4 | 0.5 | 1 |") == 1
    assert "form=paper:" in printed and "form=normalized:" in printed
    # Resumes: nothing re-trained.
    before = (out / "results.jsonl").read_bytes()
    assert example.main(argv) == 0
    assert (out / "results.jsonl").read_bytes() == before
    with pytest.raises(SystemExit):
        example.main(["--form", "volume", "--forms", "paper", "volume"])
    assert "error: --form and --forms: give one of them" in capsys.readouterr().err
