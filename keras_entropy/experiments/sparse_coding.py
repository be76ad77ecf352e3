"""Ng's sparse autoencoder with the KL sparsity penalty (seed 003; MATH.md section 7).

`examples/sparse_autoencoder.py` builds the model: one sigmoid hidden layer
with `KLSparsity(rho, beta)` as its activity regularizer, a sigmoid
reconstruction layer, and Ng's objective

    J = 1/2 * mean_batch ||x - x_hat||^2 + (lambda/2) * sum W^2 + beta * sum_j KL(rho || rho_hat_j)

(`half_squared_error` is the first term: half the per-example squared error
summed over pixels, so that `beta` weighs the penalty against it as in Ng's
notes; `lambda` is an L2 weight decay on both kernels). The learned features
are the encoder's weight columns, shown as image tiles by `feature_grid`.

This module holds what the example does not write by hand: the loss
`half_squared_error`, a trained model's scores (`sparsity_metrics`), its
features as an image (`feature_grid`, `save_feature_grid`,
`save_encoder_features`), and the example's sweep and summary.md
(`sparse_autoencoder_sweep`, `write_sparse_autoencoder_report`).
"""

import math
import os

import keras
import numpy as np

from keras_entropy import validation


@keras.saving.register_keras_serializable(package="keras_entropy")
def half_squared_error(y_true, y_pred):
    """`0.5 * sum_features (y_true - y_pred)^2` per example (Ng's reconstruction term)."""
    y_true = keras.ops.cast(y_true, "float32")
    y_pred = keras.ops.cast(y_pred, "float32")
    return 0.5 * keras.ops.sum(keras.ops.square(y_true - y_pred), axis=-1)


def feature_grid(weights, tile_shape=(28, 28), columns=None, padding=1, normalize=True):
    """Tile the columns of an encoder kernel as images in one grayscale grid.

    Args:
        weights: `(prod(tile_shape), units)` kernel; column `j` is the
            input pattern that drives hidden unit `j` most (up to scale).
        tile_shape: `(height, width)` of a tile.
        columns: tiles per row (default: `ceil(sqrt(units))`).
        padding: pixels between tiles (filled with the background 0).
        normalize: rescale every tile to [0, 1] on its own (min-max).

    Returns:
        float32 array of shape `(rows * (h + padding) - padding,
        columns * (w + padding) - padding)` with values in [0, 1] when
        `normalize` is True.
    """
    weights = np.asarray(weights, dtype="float64")
    if weights.ndim != 2:
        raise ValueError(f"Argument `weights` must be a 2-D kernel. Received: weights of shape {weights.shape}")
    if not isinstance(tile_shape, (tuple, list)) or len(tile_shape) != 2:
        raise ValueError(f"Argument `tile_shape` must be two positive ints. Received: tile_shape={tile_shape!r}")
    h, w = (validation.validate_positive_int(d, "tile_shape") for d in tile_shape)
    if weights.shape[0] != h * w:
        raise ValueError(
            f"Argument `tile_shape` {tuple(tile_shape)} needs {h * w} weight rows. "
            f"Received: weights of shape {weights.shape}"
        )
    padding = validation.validate_int(padding, "padding", minimum=0)
    units = weights.shape[1]
    if units == 0:
        raise ValueError("Argument `weights` must have at least one column.")
    if columns is None:
        columns = int(math.ceil(math.sqrt(units)))
    columns = validation.validate_positive_int(columns, "columns")
    rows = int(math.ceil(units / columns))
    grid = np.zeros((rows * (h + padding) - padding, columns * (w + padding) - padding), dtype="float32")
    for j in range(units):
        tile = weights[:, j].reshape(h, w)
        if normalize:
            low, high = tile.min(), tile.max()
            tile = (tile - low) / (high - low) if high > low else np.zeros_like(tile)
        r, c = divmod(j, columns)
        grid[r * (h + padding) : r * (h + padding) + h, c * (w + padding) : c * (w + padding) + w] = tile
    return grid


def save_feature_grid(weights, path, tile_shape=(28, 28), columns=None, title=None):
    """Write `feature_grid(weights, ...)` as an image (e.g. PNG); returns the grid."""
    from matplotlib.figure import Figure

    grid = feature_grid(weights, tile_shape, columns)
    height, width = grid.shape
    scale = 6.0 / max(height, width)
    fig = Figure(
        figsize=(max(width * scale, 2.0), max(height * scale, 2.0) + (0.4 if title else 0.0)), layout="constrained"
    )
    ax = fig.subplots()
    ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    fig.savefig(path, dpi=150)
    return grid


def sparsity_metrics(model, x_val, rho, encoder="encoder"):
    """The scores of a trained sparse autoencoder on `x_val`: a sweep record's `metrics`.

    Args:
        model: the trained autoencoder, its hidden layer a sigmoid `Dense`
            named `encoder`.
        x_val: float32 `(N, features)` inputs in [0, 1].
        rho: the target mean activation.

    Returns:
        dict with `val_mse` (mean squared error per pixel on `x_val`),
        `mean_activation` (mean over units of `rho_hat_j`, each unit's mean
        sigmoid activation on `x_val`, computed in float64),
        `median_unit_activation`, `frac_units_near_rho` (units with
        `rho_hat_j` within a factor 2 of `rho`) and `kl_to_rho` (the
        unweighted KL sum).
    """
    rho = float(rho)
    reconstruction = np.asarray(model.predict(x_val, batch_size=1024, verbose=0), dtype="float64")
    hidden = model.get_layer(encoder)
    z = np.asarray(x_val, dtype="float64") @ np.asarray(keras.ops.convert_to_numpy(hidden.kernel), "float64")
    z += np.asarray(keras.ops.convert_to_numpy(hidden.bias), dtype="float64")
    rho_hat = (1.0 / (1.0 + np.exp(-z))).mean(axis=0)
    clipped = np.clip(rho_hat, 1e-6, 1 - 1e-6)
    kl = rho * np.log(rho / clipped) + (1 - rho) * np.log((1 - rho) / (1 - clipped))
    return {
        "val_mse": float(np.mean((reconstruction - x_val) ** 2)),
        "mean_activation": float(rho_hat.mean()),
        "median_unit_activation": float(np.median(rho_hat)),
        "frac_units_near_rho": float(np.mean((rho_hat > rho / 2) & (rho_hat < 2 * rho))),
        "kl_to_rho": float(kl.sum()),
    }


def save_encoder_features(model, path, title=None, encoder="encoder"):
    """Save the columns of the `encoder` layer's kernel as square tiles (a row of pixels if not square)."""
    kernel = np.asarray(keras.ops.convert_to_numpy(model.get_layer(encoder).kernel))
    side = int(round(math.sqrt(kernel.shape[0])))
    tile = (side, side) if side * side == kernel.shape[0] else (1, kernel.shape[0])
    return save_feature_grid(kernel, path, tile_shape=tile, title=title)


def sparse_autoencoder_sweep(data, settings, dataset):
    """`(arrays, configs)` of the sparse autoencoder sweep: `(x_train, x_val)` and one config per beta."""
    from keras_entropy.experiments.autoencoder import flat_sweep_data
    from keras_entropy.experiments.sweeps import expand_grid

    x_train, x_val, fixed = flat_sweep_data(
        data,
        settings,
        "sparse_autoencoder",
        dataset,
        settings,
        ("hidden_units", "rho", "weight_decay", "epochs", "batch_size", "learning_rate"),
    )
    configs = expand_grid({"beta": [float(b) for b in settings["betas"]]}, fixed=fixed)
    return (x_train, x_val), configs


def features_file(beta):
    """File name of the feature grid of a beta: `features_beta<beta>.png`."""
    return f"features_beta{beta:g}.png"


def write_sparse_autoencoder_report(run, records, configs, settings, dataset, command):
    """summary.md of the sparse autoencoder sweep; returns `(lines, summary_path)`."""
    from keras_entropy.experiments import script_setup
    from keras_entropy.experiments.analysis import markdown_table, run_header
    from keras_entropy.experiments.stats import format_interval, t_confidence_interval

    def interval(runs, metric, digits=4):
        return format_interval(t_confidence_interval([r["metrics"][metric] for r in runs]), digits)

    first = configs[0] if configs else {"train_size": 0, "val_size": 0}
    lines = run_header(run, f"Sparse autoencoder (KL sparsity) on {dataset}", command) + [
        f"784 -> {settings['hidden_units']} sigmoid -> 784 sigmoid; loss 0.5 * squared error summed over "
        f"pixels + L2 weight decay (lambda={settings['weight_decay']}) + KLSparsity(rho={settings['rho']}, "
        f"beta); Adam({settings['learning_rate']}), {settings['epochs']} epochs, batch {settings['batch_size']}; "
        f"{first['train_size']} training images, metrics on {first['val_size']} test images.",
        "",
        "Mean and 95% t-confidence interval over replications:",
        "",
    ]
    rows = []
    for config in configs:
        runs = [r for r in records if r["config"]["beta"] == config["beta"]]
        if not runs:
            continue
        image = features_file(config["beta"])
        figure = f"![beta {config['beta']:g}]({image})" if os.path.exists(run.path(image)) else "-"
        rows.append(
            [
                f"{config['beta']:g}",
                len(runs),
                interval(runs, "mean_activation"),
                interval(runs, "frac_units_near_rho", 2),
                interval(runs, "val_mse"),
                figure,
            ]
        )
    header = [
        "beta",
        "runs",
        f"mean hidden activation (rho = {settings['rho']})",
        "units with rho_hat within 2x of rho",
        "reconstruction MSE per pixel",
        "features",
    ]
    lines += markdown_table(header, rows).splitlines()
    lines += [
        "",
        "beta = 0 is the same autoencoder without the sparsity penalty. Each features_beta*.png shows "
        "the encoder weight columns of the first replication as 28x28 tiles (each tile min-max scaled).",
        "",
    ]
    return lines, script_setup.write_summary(run.out, lines)


__all__ = [
    "feature_grid",
    "features_file",
    "half_squared_error",
    "save_encoder_features",
    "save_feature_grid",
    "sparse_autoencoder_sweep",
    "sparsity_metrics",
    "write_sparse_autoencoder_report",
]
