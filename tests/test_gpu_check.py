"""benchmarks/gpu_check.py keeps working without a GPU: its small mode on the CPU, its order, time guard,
resume, and its refusal to write a CPU run's figures as a GPU's (issue 27)."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from helpers import ROOT

pytestmark = pytest.mark.one_backend

SCRIPT = os.path.join(ROOT, "benchmarks", "gpu_check.py")


def load_gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def gpu_check(*args):
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    return subprocess.run(
        [sys.executable, SCRIPT, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


def read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_units_come_in_the_issues_order():
    check = load_gpu_check()
    units = check.plan(["jax", "torch"], check.SECTIONS, example_names=["quickstart"])
    keys = [key for _, key, _, _ in units]
    assert keys[:4] == ["probe/jax", "probe/torch", "ops/jax", "ops/torch"]
    assert keys[4:10] == [
        f"ratios/{model}/{mode}" for model in ("autoencoder", "cnn", "resnet50") for mode in ("jax-jit", "torch-eager")
    ]
    assert keys[10] == "first_command/jax"
    assert keys[11:17] == [
        "ratios/vgg16/jax-jit",
        "ratios/vgg16/torch-eager",
        "ratios/unet/jax-jit",
        "ratios/unet/torch-eager",
        "ratios/autoencoder/torch-compiled",
        "ratios/cnn/torch-compiled",
    ]
    assert keys[17:] == ["examples/quickstart/jax", "examples/quickstart/torch"]
    only = check.plan(["torch"], ["ratios"], models=["cnn"])
    assert [key for _, key, _, _ in only] == ["probe/torch", "ratios/cnn/torch-eager"]


def test_a_unit_past_its_time_is_stopped():
    check = load_gpu_check()
    unit = ("ops", "ops/sleep", "torch", ["-c", "import time; print('started', flush=True); time.sleep(60)"])
    record = check.run_unit(unit, dict(os.environ), "/nonexistent", seconds_left=3)
    assert record["status"] == "timed out" and record["seconds"] < 30 and "started" in record["tail"]


def test_small_mode_on_the_cpu_resumes_and_is_never_a_gpu_result(tmp_path):
    out = tmp_path / "check"
    args = ["--small", "--backends", "torch", "--sections", "ops", "ratios", "--models", "cnn"]
    proc = gpu_check(*args, "--out", str(out))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    records = read(out / "gpu_check.jsonl")
    outcomes = {r["key"]: r["status"] for r in records if "status" in r}
    assert outcomes == {"probe/torch": "ok", "ops/torch": "ok", "ratios/cnn/torch-eager": "ok"}
    ops = [r for r in records if "op" in r]
    assert len(ops) == 3 * 6  # 3 small kernels x 3 forms x exact/stabilized
    assert all(r["ok"] and r["grad_finite"] and r["device"] == "cpu" and not r["accelerator"] for r in ops)
    ratios = {r["penalty"]: r for r in records if "ratio" in r}
    assert set(ratios) == {"none", "paper", "volume", "normalized"} and ratios["none"]["ratio"] == 1.0
    report = (out / "gpu.md").read_text()
    assert "**not GPU figures**" in report.splitlines()[2]
    assert "| torch | `ConvEntropy(form='volume', stabilized=True)` | 3x3x2x4 | 0 | True | yes |" in report
    assert "| cnn | torch, eager | 2 |" in report

    # Resume: the done units are skipped; the time guard starts nothing it cannot give 20 s.
    again = tmp_path / "again"
    proc = gpu_check(
        *args,
        "--sections",
        "ops",
        "ratios",
        "examples",
        "--examples",
        "quickstart",
        "--out",
        str(again),
        "--resume",
        str(out / "gpu_check.jsonl"),
        "--time-limit",
        "5",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "=== " not in proc.stdout and "time limit" in proc.stdout
    assert len(read(again / "gpu_check.jsonl")) == len(records) + 1  # carried over, plus this run's line
    assert "Not reached: `examples/quickstart/torch`." in (again / "gpu.md").read_text()

    # A CPU run's figures never go into docs/results, neither from a run nor from --report.
    target = os.path.join(ROOT, "docs", "results")
    before = os.path.exists(os.path.join(target, "gpu.md"))
    refused = gpu_check("--report", str(out / "gpu_check.jsonl"), "--out", target)
    assert refused.returncode == 2 and "no GPU figures" in refused.stderr
    refused = gpu_check(*args, "--out", target)
    assert refused.returncode == 2 and "--report" in refused.stderr
    assert os.path.exists(os.path.join(target, "gpu.md")) == before
    assert gpu_check("--report", str(out / "gpu_check.jsonl"), "--out", str(tmp_path)).returncode == 0
