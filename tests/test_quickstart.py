"""The README's quickstart example runs and prints both results side by side."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.one_backend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_quickstart_prints_both_runs(backend):
    env = dict(os.environ, KERAS_BACKEND=backend)
    proc = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "examples", "quickstart.py"),
            "--latent",
            "20",
            "--epochs",
            "2",
            "--lam",
            "0.5",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert f"backend {backend}" in out
    assert "lambda = 0" in out and "lambda = 0.5" in out
    rows = {
        line.split("  ")[0].strip(): line.split()[-2:]
        for line in out.splitlines()
        if line.startswith(("epochs run", "best val MSE"))
    }
    assert rows["epochs run"] == ["2", "2"]
    assert all(0 < float(v) < 0.2 for v in rows["best val MSE"])
