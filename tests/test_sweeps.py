"""keras_entropy.experiments.sweeps: keys, results file, grids, progress lines, resume, SIGKILL."""

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest

from keras_entropy.experiments import sweeps

pytestmark = pytest.mark.one_backend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_run_key_is_stable_and_distinguishes_config_and_seed():
    key = sweeps.run_key({"lam": 0.1, "latent_dim": 20}, 3)
    assert key == sweeps.run_key({"latent_dim": 20, "lam": 0.1}, 3)
    assert key == sweeps.run_key({"latent_dim": np.int64(20), "lam": np.float64(0.1)}, 3)
    assert key != sweeps.run_key({"lam": 0.1, "latent_dim": 20}, 4)
    assert key != sweeps.run_key({"lam": 0.2, "latent_dim": 20}, 3)
    with pytest.raises(TypeError, match="config="):
        sweeps.run_key([1], 0)
    with pytest.raises(TypeError, match="seed=1.5"):
        sweeps.run_key({}, 1.5)


def test_expand_grid_and_plan_runs():
    configs = sweeps.expand_grid({"latent_dim": [20, 60, 100], "lam": [0.0, 0.1]}, fixed={"dataset": "mnist"})
    assert len(configs) == 6 and configs[1] == {"dataset": "mnist", "latent_dim": 20, "lam": 0.1}
    runs = sweeps.plan_runs(configs, 3, seed=10)
    assert len(runs) == 18 and len({r["key"] for r in runs}) == 18
    assert [r["seed"] for r in runs[:7]] == [10] * 6 + [11]  # replication by replication
    for config in configs:
        seeds = sorted(r["seed"] for r in runs if r["config"] == config)
        assert seeds == [10, 11, 12]
    with pytest.raises(ValueError, match="replications=0"):
        sweeps.plan_runs(configs, 0)
    with pytest.raises(ValueError, match="duplicate"):
        sweeps.plan_runs(configs + configs[:1], 1)
    with pytest.raises(ValueError, match="Axis 'lam'"):
        sweeps.expand_grid({"lam": []})
    with pytest.raises(ValueError, match="both in"):
        sweeps.expand_grid({"lam": [0]}, fixed={"lam": 1})


def test_results_file_roundtrip_torn_line_and_duplicates(tmp_path):
    path = tmp_path / "sub" / "results.jsonl"
    results = sweeps.ResultsFile(path)
    assert results.records() == [] and len(results) == 0
    first = sweeps.make_record({"lam": 0.0}, 0, history={"val_loss": [1.0, float("nan")]}, metrics={"x": 1})
    results.append(first)
    assert results.records()[0]["history"]["val_loss"] == [1.0, None]  # strict JSON
    # A killed writer leaves half a line; it is ignored, then cut off by the next append.
    with open(path, "ab") as f:
        f.write(b'{"key": "torn", "config": {"lam"')
    assert [r["key"] for r in results.records()] == [first["key"]]
    second = sweeps.make_record({"lam": 0.1}, 0)
    results.append(second)
    lines = path.read_bytes().splitlines()
    assert len(lines) == 2 and all(json.loads(line)["key"] in {first["key"], second["key"]} for line in lines)
    # A duplicated key (e.g. two writers) is read once; garbage lines are skipped.
    with open(path, "ab") as f:
        f.write((json.dumps(first) + "\n").encode() + b"not json\n[1, 2]\n")
    assert [r["key"] for r in results.records()] == [first["key"], second["key"]]
    with pytest.raises(ValueError, match="key"):
        results.append({"config": {}})


def test_run_sweep_appends_each_run_and_skips_finished(tmp_path):
    calls = []

    def train(config, seed):
        calls.append((config["lam"], seed))
        return {"history": {"val_loss": [1.0, 0.5]}, "metrics": {"val_mse": config["lam"] + seed}, "epochs_trained": 2}

    configs = sweeps.expand_grid({"lam": [0.0, 0.1]})
    path = tmp_path / "results.jsonl"
    summary = sweeps.run_sweep(train, configs, 2, path, progress=False, log=None)
    assert summary == {"total": 4, "skipped": 0, "ran": 4} and len(calls) == 4
    records = sweeps.ResultsFile(path).records()
    assert [(r["config"]["lam"], r["seed"]) for r in records] == calls
    for record in records:
        assert record["metrics"]["val_mse"] == record["config"]["lam"] + record["seed"]
        assert record["epochs_trained"] == 2 and record["wall_time_s"] >= 0
        assert record["backend"] == keras.backend.backend() and record["devices"]
        assert record["format"] == sweeps.RECORD_FORMAT and record["replication"] in (0, 1)
    summary = sweeps.run_sweep(train, configs, 3, path, progress=False, log=None)
    assert summary == {"total": 6, "skipped": 4, "ran": 2} and len(calls) == 6
    assert len(sweeps.ResultsFile(path)) == 6


def test_run_sweep_prints_one_line_per_finished_run(tmp_path):
    def train(config, seed):
        return {"metrics": {"val_mse": 0.25 + config["lam"], "best_val_mse": 0.1, "loss": 1.0}, "epochs_trained": 3}

    configs = sweeps.expand_grid({"lam": [0.0, 0.5], "latent_dim": [8]}, fixed={"dataset": "mnist"})
    path = tmp_path / "results.jsonl"
    lines = []
    sweeps.run_sweep(train, configs, 2, path, log=lines.append)  # progress on, but no terminal: plain lines
    assert lines[0] == f"sweep: 4 runs, 0 already in {path}, 4 to run"
    assert len(lines) == 5
    # Only what varies (lam, the seed) names a run; metrics other than val_* and best_* are left out.
    pattern = r"\[(\d)/4\] lam=(0|0\.5) seed=([01]): val_mse=(0\.25|0\.75), 3 epochs, \d+\.\d s( \(ETA .+\))?$"
    matches = [re.match(pattern, line) for line in lines[1:]]
    assert all(matches), lines
    assert [m.group(1) for m in matches] == ["1", "2", "3", "4"]
    assert [(m.group(2), m.group(3)) for m in matches] == [("0", "0"), ("0.5", "0"), ("0", "1"), ("0.5", "1")]
    assert all(m.group(5) for m in matches[:3]) and matches[3].group(5) is None  # ETA until the last one
    # show= picks the metrics; the count goes on from the runs already in the file.
    lines.clear()
    sweeps.run_sweep(train, configs, 3, path, log=lines.append, show=("loss",))
    assert lines[0].endswith("4 already in " + str(path) + ", 2 to run")
    assert re.match(r"\[5/6\] lam=0 seed=2: loss=1, 3 epochs, ", lines[1]) and lines[2].startswith("[6/6] ")
    lines.clear()
    sweeps.run_sweep(train, configs, 3, path, log=lines.append)
    assert lines == [f"sweep: 6 runs, 6 already in {path}, 0 to run"]


def test_progress_and_formats():
    lines = []
    with sweeps.Progress(None, log=lines.append) as progress:
        progress.start("a")
        progress.finish("a done")
    assert lines == ["[1] a done"]
    assert sweeps.format_duration(4.26) == "4.3 s"
    assert sweeps.format_duration(125) == "2:05" and sweeps.format_duration(3725) == "1:02:05"
    assert sweeps.format_value(0.123456) == "0.1235" and sweeps.format_value(3) == "3"
    assert sweeps.varying_keys([{"a": 1, "b": [1]}, {"a": 1, "b": [2], "c": 0}, {"c": 0}]) == ["b"]
    record = {"metrics": {"val_loss": 0.5, "best_val_loss": 0.4, "acc": 0.9}, "epochs_trained": 2, "wall_time_s": 61.0}
    assert sweeps.run_summary(record) == "val_loss=0.5, 2 epochs, 1:01"
    assert sweeps.run_summary(record, show=("acc", "missing")) == "acc=0.9, 2 epochs, 1:01"


SWEEP_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from keras_entropy.experiments import sweeps

    calls_path, results_path = sys.argv[1], sys.argv[2]

    def train(config, seed):
        with open(calls_path, "a") as f:
            f.write(f"{config['lam']} {seed}\\n")
        time.sleep(0.25)
        return {"history": {"val_loss": [1.0, 0.5, 0.4]}, "metrics": {"val_mse": 0.1 * seed},
                "epochs_trained": 3, "stopping": {"val_loss": {"epoch": 3, "best_epoch": 3, "stopped": False}}}

    configs = sweeps.expand_grid({"lam": [0.0, 0.01, 0.1]})
    sweeps.run_sweep(train, configs, 4, results_path, progress=False, log=None)
    """
)


def _wait_for(condition, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_sigkill_mid_sweep_then_resume_records_every_run_once(tmp_path):
    script = tmp_path / "sweep.py"
    script.write_text(SWEEP_SCRIPT)
    calls, results = tmp_path / "calls.txt", tmp_path / "results.jsonl"
    cmd = [sys.executable, str(script), str(calls), str(results)]
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Kill it while a run is in flight: two records written, a third run started.
        def in_flight():
            n_calls = len(calls.read_text().splitlines()) if calls.exists() else 0
            return len(sweeps.ResultsFile(results)) >= 2 and n_calls > len(sweeps.ResultsFile(results))

        assert _wait_for(in_flight, timeout=90), "the sweep did not start in time"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    done_before = len(sweeps.ResultsFile(results))
    assert 2 <= done_before < 12
    subprocess.run(cmd, env=env, timeout=120, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    lines = [line for line in results.read_bytes().split(b"\n") if line]
    records = [json.loads(line) for line in lines]  # every line is complete JSON
    keys = [r["key"] for r in records]
    expected = {r["key"] for r in sweeps.plan_runs(sweeps.expand_grid({"lam": [0.0, 0.01, 0.1]}), 4)}
    assert len(keys) == 12 and set(keys) == expected  # each configured run exactly once
    for record in records:
        assert record["history"]["val_loss"] == [1.0, 0.5, 0.4] and record["epochs_trained"] == 3
        assert record["metrics"]["val_mse"] == pytest.approx(0.1 * record["seed"])
        assert record["key"] == sweeps.run_key(record["config"], record["seed"])
    # Only the run in flight was lost and run again.
    n_calls = len(calls.read_text().splitlines())
    assert 12 <= n_calls <= 13


# ---------------------------------------------------------------------------
# Penalty forms: results written before the forms existed still resume.


def _tiny_data():
    from types import SimpleNamespace

    images = np.zeros((4, 28, 28), "uint8")
    return SimpleNamespace(
        x_train=images,
        x_test=images,
        y_train=np.zeros(4, "int64"),
        y_test=np.zeros(4, "int64"),
        is_embedded=True,
        name="mnist",
    )


def _old_dense_config(latent_dim, lam):
    """A dense autoencoder config exactly as written before the forms existed (no `form`)."""
    return {
        "experiment": "dense_autoencoder",
        "dataset": "mnist",
        "data_source": "embedded",
        "train_size": 4,
        "val_size": 4,
        "patience": 7,
        "max_epochs": 200,
        "batch_size": 128,
        "learning_rate": 1e-3,
        "monitor": "val_loss",
        "stop_when": "all",
        "dtype_policy": keras.config.dtype_policy().name,
        "latent_dim": latent_dim,
        "lam": lam,
    }


def test_paper_form_sweeps_keep_the_run_keys_of_earlier_results(tmp_path):
    from keras_entropy.experiments import autoencoder, classification

    settings = {"latent_dims": [4], "lams": [0.0, 0.1], "train_size": 4, "val_size": 4}
    old = [_old_dense_config(4, 0.0), _old_dense_config(4, 0.1)]
    results = sweeps.ResultsFile(tmp_path / "results.jsonl")
    for config in old:  # an earlier results file
        results.append(sweeps.make_record(config, 0, history={"val_loss": [1.0]}))
    for form_settings in ({}, {"form": "paper"}, {"forms": ["paper"]}, {"form": None, "forms": None}):
        _, configs = autoencoder.dense_autoencoder_sweep(_tiny_data(), {**settings, **form_settings}, "mnist")
        assert configs == old, form_settings
        calls = []
        summary = sweeps.run_sweep(lambda c, s: calls.append(c), configs, 1, results, log=None)
        assert summary == {"total": 2, "skipped": 2, "ran": 0} and calls == []
    # Another form: the shared baseline is still done; only the penalised run is new, and says its form.
    _, configs = autoencoder.dense_autoencoder_sweep(_tiny_data(), {**settings, "forms": ["paper", "volume"]}, "mnist")
    assert configs == old + [{**old[1], "form": "volume"}]
    calls = []
    assert sweeps.run_sweep(lambda c, s: calls.append(c) or {}, configs, 1, results, log=None)["ran"] == 1
    assert calls == [{**old[1], "form": "volume"}]
    assert [autoencoder.config_form(r["config"]) for r in results.records()] == ["paper", "paper", "volume"]
    # The small CNNs: paper-form configs as before; another form goes to the penalised runs only.
    cnn = {"depths": [1], "widths": [4], "lams": [0.0, 0.1], "placements": ["first"]}
    paper = classification.cnn_configs(cnn, {"dataset": "mnist", **autoencoder.form_entry("paper")})
    assert paper == [
        {"dataset": "mnist", "depth": 1, "width": 4, "placement": "none", "lam": 0.0},
        {"dataset": "mnist", "depth": 1, "width": 4, "placement": "first", "lam": 0.1},
    ]
    volume = classification.cnn_configs(cnn, {"dataset": "mnist", **autoencoder.form_entry("volume")})
    assert volume == [paper[0], {**paper[1], "form": "volume"}]


def test_form_helpers():
    from keras_entropy.experiments import autoencoder

    assert autoencoder.form_entry("paper") == {} and autoencoder.form_entry("normalized") == {"form": "normalized"}
    assert autoencoder.config_form({"lam": 0.1}) == "paper"
    assert autoencoder.config_form({"lam": 0.1, "form": "volume"}) == "volume"
    assert autoencoder.with_forms([{"lam": 0.0, "form": "volume"}, {"lam": 0.5}], ["normalized", "paper"]) == [
        {"lam": 0.0},
        {"lam": 0.5, "form": "normalized"},
        {"lam": 0.5},
    ]
    with pytest.raises(ValueError, match="form='area'"):
        autoencoder.form_entry("area")
