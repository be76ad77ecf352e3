"""examples/sparse_autoencoder.py (--quick) and keras_entropy.experiments.sparse_coding."""

import json

import numpy as np
import pytest
from test_example_cli import run_example

from keras_entropy.experiments import sparse_coding

pytestmark = pytest.mark.one_backend


def test_feature_grid_shape_and_tiles():
    weights = np.arange(784 * 10, dtype="float32").reshape(784, 10)
    grid = sparse_coding.feature_grid(weights)  # 4 columns, 3 rows
    assert grid.shape == (3 * 29 - 1, 4 * 29 - 1)
    assert grid.min() == 0.0 and grid.max() == 1.0
    # Tile 5 (row 1, column 1) is column 5 reshaped to 28x28 and min-max scaled.
    tile = grid[29:57, 29:57]
    expected = weights[:, 5].reshape(28, 28)
    np.testing.assert_allclose(tile, (expected - expected.min()) / (expected.max() - expected.min()), atol=1e-6)
    assert np.all(grid[28, :] == 0.0) and np.all(grid[:, 28] == 0.0)  # padding
    assert sparse_coding.feature_grid(weights, columns=10, padding=0).shape == (28, 280)
    assert sparse_coding.feature_grid(np.ones((6, 3)), tile_shape=(2, 3), columns=3).shape == (2, 11)


def test_feature_grid_validates():
    with pytest.raises(ValueError, match="tile_shape"):
        sparse_coding.feature_grid(np.ones((10, 3)))
    with pytest.raises(ValueError, match="weights"):
        sparse_coding.feature_grid(np.ones(784))
    with pytest.raises(ValueError, match="padding"):
        sparse_coding.feature_grid(np.ones((784, 2)), padding=-1)


def test_builder_validates_and_places_the_penalty():
    with pytest.raises(ValueError, match="rho"):
        sparse_coding.sparse_autoencoder(rho=1.5)
    with pytest.raises(ValueError, match="hidden_units"):
        sparse_coding.sparse_autoencoder(hidden_units=0)
    model = sparse_coding.sparse_autoencoder(784, 16, rho=0.05, beta=3.0)
    assert type(model.get_layer("encoder").activity_regularizer).__name__ == "KLSparsity"
    assert sparse_coding.sparse_autoencoder(784, 16, beta=0.0).get_layer("encoder").activity_regularizer is None


def test_quick_run_reports_sparsity(tmp_path, backend):
    out = tmp_path / "run"
    proc = run_example("sparse_autoencoder", ["--quick", "--out", str(out)], backend)
    assert f"backend: {backend}" in proc.stdout and "embedded MNIST subset" in proc.stdout
    lines = proc.stdout.splitlines()  # quiet by default: one line per run
    assert len(lines) < 60, proc.stdout
    assert [line[:20] for line in lines if line.startswith("[")] == ["[1/2] beta=0 seed=0:", "[2/2] beta=3 seed=0:"]

    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    by_beta = {r["config"]["beta"]: r["metrics"] for r in records}
    assert sorted(by_beta) == [0.0, 3.0]
    for r in records:
        assert r["config"]["rho"] == 0.05 and r["backend"] == backend
        assert len(r["history"]["loss"]) == r["config"]["epochs"]
    sparse, dense = by_beta[3.0], by_beta[0.0]
    # The penalty pulls the mean activation towards rho = 0.05; without it, it stays far above.
    assert sparse["mean_activation"] < 0.2 < dense["mean_activation"]
    assert sparse["kl_to_rho"] < dense["kl_to_rho"]
    for m in (sparse, dense):
        assert 0.0 < m["val_mse"] < 0.1  # pixels in [0, 1]; predicting the mean image gives ~0.067+

    import matplotlib.image

    for beta in ("0", "3"):
        image = matplotlib.image.imread(out / f"features_beta{beta}.png")
        assert image.ndim == 3 and min(image.shape[:2]) > 200
    summary = (out / "summary.md").read_text()
    assert "embedded MNIST subset" in summary and "rho = 0.05" in summary
    rows = [line for line in summary.splitlines() if line.startswith("| 0 ") or line.startswith("| 3 ")]
    assert len(rows) == 2
    row3 = [c.strip() for c in rows[1].split("|")[1:-1]]
    assert float(row3[2]) == pytest.approx(sparse["mean_activation"], abs=1e-4)
    assert float(row3[4]) == pytest.approx(sparse["val_mse"], abs=1e-4)
    assert "features_beta3.png" in row3[5]
