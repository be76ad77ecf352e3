"""The dense autoencoder study's machinery: data, one run's record, the search plan and the report.

examples/dense_autoencoder_study.py builds the paper's 784 -> width -> 784
sigmoid autoencoder itself, with `DenseEntropy(lam, form=...)` or Keras's
`OrthogonalRegularizer` as a kernel regularizer, in the configurations of
`keras_entropy.experiments.analysis` (`analysis.PENALTIES`: no penalty, the
three forms of `DenseEntropy`, the peer), each on one kernel
(`analysis.PLACEMENTS`). This module holds what a user would not write by
hand:

- `TestMSE`, `study_record`: the test MSE after every epoch, and a run's
  history as a sweep record's fields, the paper's stopping rule replayed
  (`keras_entropy.experiments.runs.run_record`);
- `StudyPlan`: the study's grids, the trials on disk, the search of one
  configuration (`keras_entropy.tuning.grid_search`, resumable), the
  chosen configurations and the final runs' configs;
- `write_report`: summary.md, trials.csv and the figures from the records
  (the evidence and the verdict of `keras_entropy.experiments.analysis`).

`study_autoencoder` and `study_run` are the same model and run in one call
(examples/compare_penalties.py, the README's first command);
`penalty_regularizer` is a configuration's kernel regularizer (the peer's
mode from `keras_entropy.experiments.peers.orthogonal_mode`).
Keras and numpy are imported lazily.
"""

import math
import os

from keras_entropy import validation
from keras_entropy.experiments import analysis, figures, script_setup, study
from keras_entropy.experiments.analysis import (
    BASELINE,
    MONITORS,
    PEER,
    PENALTIES,
    PLACEMENTS,
    chosen_hyperparameters,
    markdown_table,
    trial_score,
)
from keras_entropy.experiments.autoencoder import dense_autoencoder
from keras_entropy.experiments.paper import NO_PLACEMENT
from keras_entropy.experiments.runs import run_record


def penalty_regularizer(penalty, lam, kernel_shape):
    """The kernel regularizer of a configuration (None for no penalty or `lam` 0)."""
    validation.validate_choice(penalty, "penalty", PENALTIES)
    if penalty == BASELINE or lam == 0:
        return None
    import keras

    if penalty == PEER:
        from keras_entropy.experiments.peers import orthogonal_mode

        return keras.regularizers.OrthogonalRegularizer(float(lam), mode=orthogonal_mode(kernel_shape))
    from keras_entropy.regularizers import DenseEntropy

    return DenseEntropy(float(lam), form=penalty)  # stabilized, as DenseEntropy's default


def study_autoencoder(input_dim, latent_dim, penalty=BASELINE, lam=0.0, placement="encoder", learning_rate=1e-3):
    """The paper's dense autoencoder (`autoencoder.dense_autoencoder`) with one penalised kernel, compiled (MSE, Adam).

    `placement`: "encoder" (the 784 x width kernel) or "decoder"; metric `mse`
    (the reconstruction error alone: `loss` and `val_loss` add the penalty).
    """
    import keras

    input_dim = validation.validate_positive_int(input_dim, "input_dim")
    latent_dim = validation.validate_positive_int(latent_dim, "latent_dim")
    validation.validate_choice(placement, "placement", (*PLACEMENTS, NO_PLACEMENT))
    shapes = {"encoder": (input_dim, latent_dim), "decoder": (latent_dim, input_dim)}
    regularizers = {
        name: penalty_regularizer(penalty, lam, shape) if name == placement else None for name, shape in shapes.items()
    }
    model = dense_autoencoder(
        input_dim,
        latent_dim,
        encoder_regularizer=regularizers["encoder"],
        decoder_regularizer=regularizers["decoder"],
    )
    model.compile(
        keras.optimizers.Adam(float(learning_rate)), "mse", metrics=[keras.metrics.MeanSquaredError(name="mse")]
    )
    return model


def test_mse_callback(x_test):
    """A Keras callback that appends the reconstruction MSE of `x_test` to its `values` after every epoch."""
    import keras
    import numpy as np

    values = []

    def on_epoch_end(epoch, logs=None):
        error = callback.model.predict(x_test, batch_size=1024, verbose=0) - x_test
        values.append(float(np.mean(np.square(error, dtype="float64"))))

    callback = keras.callbacks.LambdaCallback(on_epoch_end=on_epoch_end)
    callback.values = values
    return callback


def study_record(history, test_mse, patience):
    """A final run's sweep record fields: its history with `test_mse`, the paper's rule replayed on `MONITORS`."""

    return run_record({**history, "test_mse": list(test_mse)}, MONITORS, int(patience))


def study_run(config, seed, data, verbose=0):
    """Train one configuration for `config["epochs"]` epochs (no early stopping); a sweep record's fields.

    The history holds `loss`, `mse` (train), `val_loss`, `val_mse` and
    `test_mse` (the reconstruction MSE of the test images after each
    epoch: `test_mse_callback`); the stopping epochs of the paper's rule
    (`config["patience"]` on `MONITORS`) are replayed on it (`study_record`).

    Args:
        config: `latent_dim`, `penalty`, `lam`, `placement`, `learning_rate`,
            `epochs`, `batch_size`, `patience`.
        data: `(x_train, x_val, x_test)` (`Dataset.split`, then `autoencoder.flatten_images`).
    """
    import keras

    x_train, x_val, x_test = data
    keras.utils.set_random_seed(int(seed))
    model = study_autoencoder(
        x_train.shape[1],
        config["latent_dim"],
        config["penalty"],
        config["lam"],
        config["placement"],
        config["learning_rate"],
    )
    test_mse = test_mse_callback(x_test)
    history = model.fit(
        x_train,
        x_train,
        validation_data=(x_val, x_val),
        epochs=int(config["epochs"]),
        batch_size=int(config["batch_size"]),
        verbose=verbose,
        callbacks=[test_mse],
    ).history
    keras.backend.clear_session()
    return study_record(history, test_mse.values, config["patience"])


# ---------------------------------------------------------------------------
# The study: searches, final runs, report.


class StudyPlan(study.StudyPlan):
    """The plan of examples/dense_autoencoder_study.py (see `study.StudyPlan`): a cell is a width.

    Resumable: the searches resume their KerasTuner projects, the final
    runs the sweep's results file.

    Args:
        run: the script's `script_setup.Run`, with `arrays`: the training,
            validation and test images as vectors in [0, 1] (`Dataset.split`,
            then `autoencoder.flatten_images`).
        settings: the script's settings (`widths`, `penalties`,
            `learning_rates`, `lams`, `factors`, `trial_epochs`, `epochs`,
            `seeds`, `patience`, `thresholds`, `batch_size`, `search_seed`).
        deadline_s: the CPU-time budget's end (`budget.deadline`).
    """

    experiment = "dense_autoencoder_study"
    measure = analysis.MSE

    def cells(self):
        """The widths, in the order they run."""
        return list(self.settings["widths"])

    def cell_config(self, width):
        return {"latent_dim": width}

    def placements(self, width):
        """The encoder's kernel or the decoder's."""
        return list(PLACEMENTS)

    def cell_names(self, width):
        return f"width_{width}", f"width {width}"

    def search_data(self):
        x_train, x_val, _ = self.run.arrays
        return dict(x=x_train, y=x_train, validation_data=(x_val, x_val))


def write_report(plan, command):
    """summary.md, trials.csv and the figures from the records; returns `(summary path, verdict rows)`."""

    run, trials = plan.run, plan.trials()
    configs, planned, records = plan.final_records(trials)
    analysis.write_trials_csv(run.path("trials.csv"), trials, configs)
    figure_paths = []
    if records:
        for metric, label in (("val_mse", "validation MSE"), ("test_mse", "test MSE")):
            figure_paths.append(
                figures.plot_curves(
                    records,
                    run.path(f"{metric}_curves.png"),
                    metric,
                    label,
                    title=f"Dense autoencoder on MNIST: {label} per epoch",
                )
            )
    verdicts = analysis.verdict_rows(records) if records else []
    lines = _summary_lines(plan, trials, configs, records, verdicts, planned, command, figure_paths)
    return script_setup.write_summary(run.out, lines), verdicts


def _chosen_table(trials, configs, records):
    """Markdown: the chosen hyperparameters per configuration, with the best trial score per kernel."""

    rows = []
    for c in configs:
        mine = [
            r for r in trials if (r["config"]["latent_dim"], r["config"]["penalty"]) == (c["latent_dim"], c["penalty"])
        ]
        best = {
            p: min((trial_score(r) for r in mine if r["config"]["placement"] == p), default=math.nan)
            for p in (*PLACEMENTS, NO_PLACEMENT)
        }
        runs = [r for r in records if r["config"] == c]
        per_epoch = sum(r["wall_time_s"] / len(r["history"]["val_mse"]) for r in runs) / len(runs) if runs else math.nan
        rows.append(
            [c["latent_dim"], c["penalty"], f"{c['learning_rate']:g}", f"{c['lam']:g}", c["placement"], len(mine)]
            + [f"{best[p]:.4e}" if math.isfinite(best[p]) else "-" for p in (NO_PLACEMENT, *PLACEMENTS)]
            + [f"{per_epoch:.2f}" if math.isfinite(per_epoch) else "-"]
        )
    return markdown_table(
        [
            "width",
            "config",
            "learning rate",
            "lam / factor",
            "kernel",
            "trials",
            "best trial (no penalty)",
            "best trial on encoder",
            "best trial on decoder",
            "s / epoch (final runs)",
        ],
        rows,
    )


def _summary_lines(plan, trials, configs, records, verdicts, planned, command, figure_paths):

    run, settings = plan.run, plan.settings
    n_trials, n_runs = plan.trial_count(), plan.run_count()
    info = sorted({f"{r.get('backend')} on {', '.join(r.get('devices') or ['?'])}" for r in records + trials})
    x_train, x_val, x_test = run.arrays
    lines = script_setup.summary_header("Does an entropy penalty help a dense autoencoder on MNIST?", run.note, command)
    lines += [
        "The study runs in portions: the same command resumes it (--cpu-minutes bounds the CPU time of each "
        "invocation), so the command above may have run several times."
        + (
            " `OPENBLAS_NUM_THREADS=1`: on the JAX backend the penalties' Cholesky and QR run through the "
            "OpenBLAS that scipy bundles, whose idle threads spin; on a shared CPU that made each penalised "
            "step several times slower (only the speed changes)."
            if os.environ.get("OPENBLAS_NUM_THREADS") == "1"
            else ""
        ),
        "",
        f"**Status:** {len(records)} of {n_runs} final runs done ({planned} planned so far: {len(configs)} "
        "configurations have a finished search); "
        f"{len(trials)} of {n_trials} search trials done. "
        f"Backend/devices: {', '.join(info) or 'none yet'}.",
        "",
        "## Setup",
        "",
        f"- Data: {_data(run.data)}. Training: the first {len(x_train)} training images; validation: "
        f"the last {len(x_val)} training images (hyperparameters are chosen on these alone); test: "
        f"{len(x_test)} test images, used only for this report.",
        f"- Model: {x_train.shape[1]} -> width -> {x_train.shape[1]}, sigmoid both layers, MSE, Adam, batch "
        f"{settings['batch_size']}; widths {', '.join(map(str, settings['widths']))}. Configurations: "
        "`none` (no penalty), `paper` / `volume` / `normalized` (`DenseEntropy(lam, form=...)`, stabilized), "
        "`orthogonal` (`keras.regularizers.OrthogonalRegularizer(factor)`, mode `columns` on the encoder "
        "kernel and `rows` on the decoder kernel, the vectors that can be orthogonal); each penalty is a "
        "kernel regularizer on one kernel.",
        f"- Search (a KerasTuner grid search, one project per width and configuration in `tuner/`, every "
        f"trial exported to `trials.jsonl` and `trials.csv`): learning rate "
        f"{_grid(settings['learning_rates'])} for every configuration, the baseline included; DenseEntropy lam "
        f"{_grid(settings['lams'])}; orthogonal factor {_grid(settings['factors'])}; kernel encoder or decoder "
        f"for each penalty. Each trial trains {settings['trial_epochs']} epochs (fewer than the final runs, "
        f"to fit the compute budget) from the weights of seed {settings['search_seed']}; its score is the "
        "lowest validation MSE within those epochs (the MSE alone, not `val_loss`, which includes the "
        "penalty); the lowest score wins.",
        f"- Final runs: each configuration at its chosen hyperparameters, seeds {run.args.seed} .. "
        f"{run.args.seed + settings['seeds'] - 1}, {settings['epochs']} epochs each, no early stopping; per "
        "epoch the records hold train MSE (`mse`, Keras's mean over the epoch's batches), validation MSE and "
        "loss, and test MSE. The paper's "
        f"stopping rule (patience {settings['patience']}) is replayed afterwards on val MSE and on val loss.",
        "",
        "## Chosen hyperparameters",
        "",
        "Best trial = the lowest validation MSE within a trial's epochs, per kernel.",
        "",
        _chosen_table(trials, configs, records),
        "",
    ]
    if not records:
        return lines + ["No final runs yet.", ""]
    return lines + analysis.study_results_lines(
        records, verdicts, settings, sentences=search_against_final(settings, trials, verdicts), figures=figure_paths
    )


def search_against_final(settings, trials, verdicts):
    """Per width: what beat no penalty within the trials' epochs, and which of those lost after the final runs."""

    chosen, sentences = chosen_hyperparameters(trials), []
    for width in sorted({r["group"] for r in verdicts}):
        final = {r["penalty"]: r["final"][0] for r in verdicts if r["group"] == width}
        if (width, BASELINE) not in chosen or BASELINE not in final:
            continue
        early = [
            p
            for p in final
            if p != BASELINE and (width, p) in chosen and chosen[width, p]["score"] < chosen[width, BASELINE]["score"]
        ]
        late = [p for p in early if final[p] > final[BASELINE]]
        sentences.append(
            f"Width {width}: within the search's {settings['trial_epochs']} epochs, "
            + (", ".join(early) or "no penalty")
            + " had a lower best validation MSE than no penalty"
            + (
                f"; after {settings['epochs']} epochs {', '.join(late)} had a higher mean final test MSE than no "
                "penalty: the short trials favoured what helps early"
                if late
                else ""
            )
            + "."
        )
    return sentences


def _data(data):
    source = {"embedded": "the embedded MNIST subset", "local": "the four MNIST IDX files of --data-dir"}
    return f"{data.name}, {len(data.x_train)} training and {len(data.x_test)} test images from " + source.get(
        data.source, "tensorflow-datasets"
    )


def _grid(values):
    return ", ".join(f"{v:g}" for v in values)


__all__ = [
    "StudyPlan",
    "penalty_regularizer",
    "search_against_final",
    "study_autoencoder",
    "study_record",
    "study_run",
    "test_mse_callback",
    "write_report",
]
