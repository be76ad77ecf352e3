"""Does a penalty help? A penalty against no penalty and a peer, from per-epoch records.

The dense autoencoder study (examples/dense_autoencoder_study.py, issue 12)
compares, per latent width, five configurations (`PENALTIES`): no penalty,
`DenseEntropy` in each of its three forms, and Keras's own
`OrthogonalRegularizer` as a peer, each on the encoder or the decoder
kernel, at hyperparameters chosen on a validation split. This module holds
the study's model and run (`study_autoencoder`, `study_run`: every epoch's
train, validation and test MSE, no early stopping during training), the
choice of hyperparameters from search trials (`chosen_hyperparameters`),
and the evidence, computed from the records alone:

- `evidence_rows`: per (width, configuration) the per-seed samples of the
  best and final validation MSE, the final test MSE, the epochs to reach
  the baseline's final validation MSE and fixed thresholds ("never"
  counted as one epoch past the last), and the stopping epochs of the
  paper's rule (patience on val MSE and on val loss) replayed afterwards;
- `evidence_table`, `tests_table`: those as Markdown, with 95% t-intervals
  and one-tailed Welch tests against no penalty and against the peer.

The short answer computed from these rows is `keras_entropy.experiments.verdict`;
the convergence figures are `keras_entropy.experiments.curves`.

Records are those of `keras_entropy.experiments.sweeps` (`config` with
`latent_dim`, `penalty`, `learning_rate`, `lam`, `placement`, `epochs`;
`history` with `val_mse`, `val_loss`, `test_mse`; `stopping`). Every
function over records is pure. Keras, numpy, scipy, matplotlib and the
report helpers are imported lazily, so that a script's --help starts none.
"""

import math

from keras_entropy import validation
from keras_entropy.experiments import stats

#: The configurations: no penalty, the three forms of `DenseEntropy`, and the peer.
BASELINE = "none"
PEER = "orthogonal"
FORMS = ("paper", "volume", "normalized")
PENALTIES = (BASELINE, *FORMS, PEER)
#: The kernels a penalty can go on; the baseline's placement is `NO_PLACEMENT`.
PLACEMENTS = ("encoder", "decoder")
NO_PLACEMENT = "none"
#: The paper's stopping rule, replayed on each monitor after training.
MONITORS = ("val_mse", "val_loss")
ALPHA = 0.05


# ---------------------------------------------------------------------------
# The model and one run.


def orthogonal_mode(kernel_shape):
    """The `OrthogonalRegularizer` mode a Dense kernel `(n_in, n_out)` can satisfy.

    "columns" (its `n_out` columns, of length `n_in`) when `n_in >= n_out`,
    else "rows": more vectors than dimensions cannot all be orthogonal.

    >>> orthogonal_mode((784, 100)), orthogonal_mode((100, 784))
    ('columns', 'rows')
    """
    n_in, n_out = kernel_shape
    return "columns" if n_in >= n_out else "rows"


def penalty_regularizer(penalty, lam, kernel_shape):
    """The kernel regularizer of a configuration (None for no penalty or `lam` 0)."""
    validation.validate_choice(penalty, "penalty", PENALTIES)
    if penalty == BASELINE or lam == 0:
        return None
    import keras

    if penalty == PEER:
        return keras.regularizers.OrthogonalRegularizer(float(lam), mode=orthogonal_mode(kernel_shape))
    from keras_entropy.regularizers import DenseEntropy

    return DenseEntropy(float(lam), form=penalty)  # stabilized, as DenseEntropy's default


def study_autoencoder(input_dim, latent_dim, penalty=BASELINE, lam=0.0, placement="encoder", learning_rate=1e-3):
    """The paper's dense autoencoder (sigmoid, MSE, Adam) with one penalised kernel, compiled.

    `placement`: "encoder" (the 784 x width kernel) or "decoder"; metric `mse`
    (the reconstruction error alone: `loss` and `val_loss` add the penalty).
    """
    import keras

    input_dim = validation.validate_positive_int(input_dim, "input_dim")
    latent_dim = validation.validate_positive_int(latent_dim, "latent_dim")
    validation.validate_choice(placement, "placement", (*PLACEMENTS, NO_PLACEMENT))
    shapes = {"encoder": (input_dim, latent_dim), "decoder": (latent_dim, input_dim)}
    regularizers = {name: penalty_regularizer(penalty, lam, shape) if name == placement else None
                    for name, shape in shapes.items()}
    model = keras.Sequential([
        keras.Input((input_dim,)),
        keras.layers.Dense(latent_dim, activation="sigmoid", kernel_regularizer=regularizers["encoder"],
                           name="encoder"),
        keras.layers.Dense(input_dim, activation="sigmoid", kernel_regularizer=regularizers["decoder"],
                           name="decoder"),
    ], name=f"dense_autoencoder_{latent_dim}")
    model.compile(keras.optimizers.Adam(float(learning_rate)), "mse",
                  metrics=[keras.metrics.MeanSquaredError(name="mse")])
    return model


def split_images(data, val_size, train_size=None, test_size=None):
    """`(x_train, x_val, x_test)` as float vectors in [0, 1]: validation = the last `val_size` training images.

    `train_size`/`test_size`: keep the first N of the rest / of the test images (None: all).
    """
    from keras_entropy.experiments.autoencoder import flatten_images

    val_size = validation.validate_positive_int(val_size, "val_size")
    if val_size >= len(data.x_train):
        raise ValueError(f"`val_size` must leave training images: {val_size} of {len(data.x_train)}.")
    rest = len(data.x_train) - val_size
    x_train = flatten_images(data.x_train[: min(rest, train_size or rest)])
    return x_train, flatten_images(data.x_train[rest:]), flatten_images(data.x_test[:test_size])


def study_run(config, seed, data, verbose=0):
    """Train one configuration for `config["epochs"]` epochs (no early stopping); a sweep record's fields.

    The history holds `loss`, `mse` (train), `val_loss`, `val_mse` and
    `test_mse` (the reconstruction MSE of the test images after each
    epoch); the stopping epochs of the paper's rule (`config["patience"]`
    on `MONITORS`) are replayed on it (`keras_entropy.experiments.runs.run_record`).

    Args:
        config: `latent_dim`, `penalty`, `lam`, `placement`, `learning_rate`,
            `epochs`, `batch_size`, `patience`.
        data: `(x_train, x_val, x_test)` (see `split_images`).
    """
    import keras
    import numpy as np

    from keras_entropy.experiments.runs import run_record

    x_train, x_val, x_test = data
    keras.utils.set_random_seed(int(seed))
    model = study_autoencoder(x_train.shape[1], config["latent_dim"], config["penalty"], config["lam"],
                              config["placement"], config["learning_rate"])
    test_mse = []

    def on_epoch_end(epoch, logs=None):
        error = model.predict(x_test, batch_size=1024, verbose=0) - x_test
        test_mse.append(float(np.mean(np.square(error, dtype="float64"))))

    history = model.fit(x_train, x_train, validation_data=(x_val, x_val), epochs=int(config["epochs"]),
                        batch_size=int(config["batch_size"]), verbose=verbose,
                        callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=on_epoch_end)]).history
    keras.backend.clear_session()
    return run_record({**history, "test_mse": test_mse}, MONITORS, int(config["patience"]))


# ---------------------------------------------------------------------------
# The choice of hyperparameters from search trials.


def trial_score(record):
    """A trial's score: the lowest val MSE within its epochs (the tuner's, else from its history)."""
    score = (record.get("tuner") or {}).get("score")
    if score is None:
        values = [v for v in record["history"].get("val_mse", []) if v is not None]
        score = min(values) if values else math.nan
    return float(score)


def chosen_hyperparameters(trial_records):
    """`{(latent_dim, penalty): best trial's config, with its "score"}`; ties go to the first trial.

    The configs of the trials name `learning_rate`, `lam` and `placement`
    (see examples/dense_autoencoder_study.py, which exports them so).
    """
    best = {}
    for record in trial_records:
        config, score = record["config"], trial_score(record)
        cell = (config["latent_dim"], config["penalty"])
        if not math.isnan(score) and (cell not in best or score < best[cell]["score"]):
            best[cell] = {"learning_rate": config["learning_rate"], "lam": config.get("lam", 0.0),
                          "placement": config.get("placement", NO_PLACEMENT), "score": score}
    return best


# ---------------------------------------------------------------------------
# Evidence from the final runs' records.


def cells(records):
    """`{(latent_dim, penalty): [records]}`, widths ascending, penalties in `PENALTIES` order."""
    grouped = {}
    for record in records:
        grouped.setdefault((record["config"]["latent_dim"], record["config"]["penalty"]), []).append(record)
    order = {p: i for i, p in enumerate(PENALTIES)}
    return {cell: grouped[cell] for cell in sorted(grouped, key=lambda c: (c[0], order.get(c[1], len(order))))}


def first_epoch_at_or_below(values, threshold):
    """The first epoch (from 1) whose value is <= `threshold`; None if none is.

    >>> first_epoch_at_or_below([0.3, 0.2, 0.1], 0.2), first_epoch_at_or_below([0.3], 0.1)
    (2, None)
    """
    for epoch, value in enumerate(values, 1):
        if value is not None and value <= threshold:
            return epoch
    return None


def final_value(record, metric):
    """The metric after the last epoch."""
    return record["history"][metric][-1]


def baseline_final(records, latent_dim, metric="val_mse"):
    """Mean over seeds of the baseline's final `metric` at `latent_dim` (nan without baseline runs)."""
    values = [final_value(r, metric) for r in records
              if r["config"]["latent_dim"] == latent_dim and r["config"]["penalty"] == BASELINE]
    return sum(values) / len(values) if values else math.nan


def _reach(group, metric, threshold):
    """Epochs to reach `threshold` per run, "never" counted as one epoch past the last; and the nevers."""
    epochs = [first_epoch_at_or_below(r["history"][metric], threshold) for r in group]
    cap = max(len(r["history"][metric]) for r in group) + 1
    return [cap if e is None else e for e in epochs], sum(e is None for e in epochs)


def evidence_rows(records, thresholds=(0.01, 0.006), metric="val_mse"):
    """One row per (width, configuration): its hyperparameters and per-seed samples.

    Row keys: `latent_dim`, `penalty`, `config` (learning_rate, lam,
    placement), `n`, `epochs`, `baseline_final` (the baseline's mean final
    `metric` at that width), `samples` (name -> list over seeds) and
    `never` (name -> runs that never reached it). Samples: `best_<metric>`,
    `final_<metric>`, `final_test_mse`, `reach_baseline` and
    `reach_<threshold>` (first epoch with `metric` <= it; never = epochs + 1),
    `stop_<monitor>` for `MONITORS` (censored at the last epoch: `censored`).
    """
    rows = []
    for (width, penalty), group in cells(records).items():
        target = baseline_final(records, width, metric)
        samples = {f"best_{metric}": [min(v for v in r["history"][metric] if v is not None) for r in group],
                   f"final_{metric}": [final_value(r, metric) for r in group],
                   "final_test_mse": [final_value(r, "test_mse") for r in group]}
        never, censored = {}, {}
        for name, threshold in [("reach_baseline", target)] + [(f"reach_{t:g}", t) for t in thresholds]:
            samples[name], never[name] = _reach(group, metric, threshold) if not math.isnan(threshold) \
                else ([], len(group))
        for monitor in MONITORS:
            samples[f"stop_{monitor}"] = [r["stopping"][monitor]["epoch"] for r in group]
            censored[f"stop_{monitor}"] = sum(not r["stopping"][monitor]["stopped"] for r in group)
        config = group[0]["config"]
        rows.append({"latent_dim": width, "penalty": penalty, "n": len(group), "baseline_final": target,
                     "epochs": max(len(r["history"][metric]) for r in group),
                     "config": {k: config.get(k) for k in ("learning_rate", "lam", "placement")},
                     "samples": samples, "never": never, "censored": censored})
    return rows


def describe_config(row):
    """`lr 0.003, lam 0.01, encoder` (`lr 0.001` for no penalty)."""
    config = row["config"]
    if row["penalty"] == BASELINE:
        return f"lr {config['learning_rate']:g}"
    return f"lr {config['learning_rate']:g}, lam {config['lam']:g}, {config['placement']}"


def _table(header, body):
    from keras_entropy.experiments.reports import markdown_table

    return markdown_table(header, body)


def _interval(values, digits):
    return stats.format_interval(stats.t_confidence_interval(values), digits) if values else "n/a"


def reach_cell(row, name, digits=1):
    """Epochs to reach: `mean [CI]`, `... (k/n never)`, or `never (n/n)`."""
    never, n = row["never"][name], row["n"]
    if never == n:
        return f"never ({n}/{n})"
    text = _interval(row["samples"][name], digits)
    return f">= {text} ({never}/{n} never)" if never else text


def _censored_cell(row, name, digits=1):
    count = row["censored"][name]
    return _interval(row["samples"][name], digits) + (f" (cap {count}/{row['n']})" if count else "")


def evidence_table(rows, thresholds=(0.01, 0.006), metric="val_mse"):
    """The main table (Markdown): one row per (width, configuration), 95% t-intervals over seeds."""
    header = ["width", "config", "hyperparameters", "n", f"epochs to baseline's final {metric}"]
    header += [f"epochs to {metric} <= {t:g}" for t in thresholds]
    header += [f"stop epoch ({m}, patience rule)" for m in MONITORS]
    header += [f"best {metric}", "final test MSE"]
    body = []
    for row in rows:
        body.append([row["latent_dim"], row["penalty"], describe_config(row), row["n"],
                     reach_cell(row, "reach_baseline")]
                    + [reach_cell(row, f"reach_{t:g}") for t in thresholds]
                    + [_censored_cell(row, f"stop_{m}") for m in MONITORS]
                    + [stats.format_mean_interval(row["samples"][f"best_{metric}"]),
                       stats.format_mean_interval(row["samples"]["final_test_mse"])])
    return _table(header, body)


#: The quantities `tests_table` tests (sample name, label); lower is better for each.
TESTED = (("best_val_mse", "best val MSE"), ("final_test_mse", "final test MSE"),
          ("reach_baseline", "epochs to baseline's final val MSE"))


def improvement(rows, row, against, name):
    """`stats.improvement_test` of `row` against the row of configuration `against` at its width (None: absent)."""
    reference = next((r for r in rows if r["latent_dim"] == row["latent_dim"] and r["penalty"] == against), None)
    if reference is None or reference is row:
        return None
    return stats.improvement_test(reference["samples"][name], row["samples"][name], higher_is_better=False)


def tests_table(rows):
    """One-tailed Welch p-values (Markdown): each configuration better (lower) than no penalty, than the peer."""
    header = ["width", "config"] + [f"{label}: p vs {against}" for _, label in TESTED for against in (BASELINE, PEER)]
    body = []
    for row in rows:
        cells_ = []
        for name, _ in TESTED:
            for against in (BASELINE, PEER):
                test = improvement(rows, row, against, name)
                cells_.append("-" if test is None else stats.format_pvalue(test["pvalue"]))
        body.append([row["latent_dim"], row["penalty"], *cells_])
    return _table(header, body)


__all__ = [
    "ALPHA", "BASELINE", "FORMS", "MONITORS", "NO_PLACEMENT", "PEER", "PENALTIES", "PLACEMENTS", "TESTED",
    "baseline_final", "cells", "chosen_hyperparameters", "describe_config", "evidence_rows",
    "evidence_table", "final_value", "first_epoch_at_or_below", "improvement", "orthogonal_mode",
    "penalty_regularizer", "reach_cell", "split_images", "study_autoencoder", "study_run",
    "tests_table", "trial_score",
]
