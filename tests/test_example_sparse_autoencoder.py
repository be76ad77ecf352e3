"""examples/sparse_autoencoder.py (--quick) and keras_entropy.experiments.sparse_coding."""

import json
import os

import numpy as np
import pytest

from helpers import load_example, run_example
from keras_entropy.experiments import sparse_coding

pytestmark = pytest.mark.one_backend

EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "sparse_autoencoder.py")


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


def test_example_defaults_are_the_papers_settings():
    from keras_entropy.experiments import paper

    example = load_example("sparse_autoencoder")
    assert {k: v for k, v in example.DEFAULTS.items() if k in paper.SPARSE_AUTOENCODER_PAPER} == (
        paper.SPARSE_AUTOENCODER_PAPER
    )
    args = example.parse_args(["--quick", "--epochs", "4"])
    assert (args.epochs, args.hidden_units, args.rho, args.train_size) == (4, 64, 0.05, 2000)


def test_sparsity_metrics_of_a_known_encoder(tmp_path):
    import keras

    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(3, activation="sigmoid", kernel_initializer="zeros", name="encoder"),
            keras.layers.Dense(4, activation="sigmoid", kernel_initializer="zeros", name="decoder"),
        ]
    )
    x = np.full((5, 4), 0.25, dtype="float32")
    metrics = sparse_coding.sparsity_metrics(model, x, rho=0.05)
    # Zero weights: every unit's activation is sigmoid(0) = 0.5, every reconstruction pixel 0.5.
    assert metrics["mean_activation"] == metrics["median_unit_activation"] == 0.5
    assert metrics["frac_units_near_rho"] == 0.0 and metrics["val_mse"] == pytest.approx(0.0625)
    kl = 0.05 * np.log(0.05 / 0.5) + 0.95 * np.log(0.95 / 0.5)
    assert metrics["kl_to_rho"] == pytest.approx(3 * kl)
    grid = sparse_coding.save_encoder_features(model, tmp_path / "f.png", title="zeros")
    assert grid.shape == (2 * 3 - 1, 2 * 3 - 1) and (tmp_path / "f.png").stat().st_size > 0  # 2x2 tiles of 4 pixels


def test_bad_arguments_are_refused_before_keras_starts(capsys):
    example = load_example("sparse_autoencoder")
    for argv, message in (
        (["--rho", "1.5"], "--rho: must be in (0, 1), got 1.5"),
        (["--hidden-units", "0"], "--hidden-units: must be at least 1, got 0"),
        (["--betas", "0", "-1"], "--betas: must be at least 0, got -1.0"),
    ):
        with pytest.raises(SystemExit) as exit:
            example.parse_args(argv)
        assert exit.value.code == 2
        assert capsys.readouterr().err.splitlines()[-1].endswith(message)


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
