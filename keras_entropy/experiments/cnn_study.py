"""The CNN study's model and run: the paper's Table 1 CNN with one penalty, tuned (issue 12, study 2).

examples/cnn_study.py compares, per architecture (1-3 blocks of 3x3
convolution, leaky ReLU and 2x2 max pooling, at a width), the same five
configurations as the dense autoencoder study (`analysis.PENALTIES`): no
penalty, `ConvEntropy` in each of its three forms, and Keras's
`OrthogonalRegularizer` as a peer, on the first convolution or on all of
them. The script builds its CNN itself, the penalty a kernel regularizer
of its convolutions (the peer for convolutions is
`keras_entropy.experiments.peers.KernelOrthogonal`, Keras's
`OrthogonalRegularizer` on the kernel as a matrix). This module holds
what a user would not write by hand:

- `study_record`: a final run's history as a sweep record's fields, the
  test accuracy after the last epoch, the paper's stopping rule replayed;
- `StudyPlan`: the study's plan per architecture (grids, the search of one
  configuration with `keras_entropy.tuning.grid_search`, the trials on
  disk, the chosen configurations, the final runs), resumable;
  `write_report`: its summary.md, trials.csv and figure from the records.

`study_cnn` and `study_cnn_run` are the same model and run in one call
(the paper's `classification.small_cnn` with one configuration's penalty).

Records are those of `keras_entropy.experiments.sweeps`; their config has
`arch` (`"<depth>x<width>"`), `depth`, `width`, `penalty`, `lam`,
`placement`, `learning_rate`. The evidence computed from them is
`keras_entropy.experiments.analysis` with `analysis.ACCURACY`.
"""

import math

import keras

from keras_entropy import validation
from keras_entropy.experiments import analysis, figures, script_setup, study
from keras_entropy.experiments.analysis import ACCURACY, BASELINE, PEER, PENALTIES
from keras_entropy.experiments.classification import small_cnn
from keras_entropy.experiments.paper import NO_PLACEMENT
from keras_entropy.experiments.peers import KernelOrthogonal
from keras_entropy.validation import FORMS

#: Where a penalty goes: the first convolution (the paper's [1]) or all of them.
PLACEMENTS = ("first", "all")
#: The paper's stopping rule is replayed on these (the first: the run's own).
MONITORS = ("val_accuracy", "val_loss")


def arch_name(depth, width):
    """`"2x32"`: 2 blocks of 32 filters.

    >>> arch_name(3, 16)
    '3x16'
    """
    return f"{int(depth)}x{int(width)}"


def _convolutions(model, placement):
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    return convs[:1] if placement == "first" else convs


def study_cnn(input_shape, depth, width, penalty=BASELINE, lam=0.0, placement="first", learning_rate=1e-3, classes=10):
    """The paper's small CNN (`classification.small_cnn`) with one configuration's penalty, compiled.

    Args:
        input_shape: `(height, width, channels)`.
        depth, width: blocks and filters per convolution.
        penalty: one of `analysis.PENALTIES`: a `ConvEntropy` form
            (stabilized) or the `KernelOrthogonal` peer, strength `lam`.
        placement: "first" (the first convolution) or "all".
        learning_rate: Adam's.

    Sparse categorical cross-entropy, metric `accuracy` (`loss` and
    `val_loss` add the penalty).
    """
    validation.validate_choice(penalty, "penalty", PENALTIES)
    validation.validate_choice(placement, "placement", (*PLACEMENTS, NO_PLACEMENT))
    lam = validation.validate_non_negative(lam, "lam")
    if penalty in FORMS and lam:
        model = small_cnn(input_shape, depth, width, classes, lam, placement, form=penalty)
    else:
        model = small_cnn(input_shape, depth, width, classes)
    if penalty == PEER and lam:
        for layer in _convolutions(model, placement):  # as keras_entropy.place_penalties does
            layer.kernel_regularizer = KernelOrthogonal(lam)
            layer.kernel.regularizer = layer.kernel_regularizer
    model.compile(keras.optimizers.Adam(float(learning_rate)), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def study_cnn_run(config, seed, arrays, verbose=0):
    """Train one configuration for `config["epochs"]` epochs (no early stopping); a sweep record's fields.

    The history holds `loss`, `accuracy`, `val_loss`, `val_accuracy` per
    epoch and `test_accuracy`, measured after the last epoch only (None
    before it); the stopping epochs of the paper's rule
    (`config["patience"]` on `MONITORS`) are replayed on it.

    Args:
        config: `depth`, `width`, `penalty`, `lam`, `placement`,
            `learning_rate`, `epochs`, `batch_size`, `patience`.
        arrays: `((x_train, y_train), (x_val, y_val), (x_test, y_test))`:
            images in [0, 1] (`Dataset.split`, then `images.prepare_images`),
            labels int32.
    """
    (x_train, y_train), validation_data, (x_test, y_test) = arrays
    keras.utils.set_random_seed(int(seed))
    model = study_cnn(
        tuple(x_train.shape[1:]),
        config["depth"],
        config["width"],
        config["penalty"],
        config["lam"],
        config["placement"],
        config["learning_rate"],
    )
    history = model.fit(
        x_train,
        y_train,
        validation_data=validation_data,
        epochs=int(config["epochs"]),
        batch_size=int(config["batch_size"]),
        verbose=verbose,
    ).history
    test = model.evaluate(x_test, y_test, batch_size=1024, verbose=0, return_dict=True)["accuracy"]
    keras.backend.clear_session()
    return study_record(history, test, config["patience"])


def study_record(history, test_accuracy, patience):
    """A final run's sweep record fields from its Keras `history` and the test accuracy after its last epoch.

    `test_accuracy` joins the history (None before the last epoch) and the
    record's `metrics` (`final_test_accuracy`); the stopping epochs of the
    paper's rule (`patience` on `MONITORS`) are replayed on the history.
    """
    from keras_entropy.experiments.runs import run_record

    history = dict(history)
    epochs = len(history["val_accuracy"])
    history["test_accuracy"] = [None] * (epochs - 1) + [float(test_accuracy)]
    record = run_record(history, MONITORS, int(patience), modes={"val_accuracy": "max"})
    record["metrics"]["final_test_accuracy"] = float(test_accuracy)  # `metrics` are at the rule's stopping epoch
    return record


# ---------------------------------------------------------------------------
# The study: searches, final runs, report.


class StudyPlan(study.StudyPlan):
    """The plan of examples/cnn_study.py (see `study.StudyPlan`): a cell is an architecture `(depth, width)`.

    Resumable: the searches resume their KerasTuner projects, the final
    runs the sweep's results file.

    Args:
        run: the script's `script_setup.Run`, with `arrays` (see `study_cnn_run`).
        settings: the script's settings (`depths`, `widths`, `penalties`,
            `learning_rates`, `lams`, `factors`, `trial_epochs`, `epochs`,
            `seeds`, `patience`, `thresholds`, `batch_size`, `search_seed`).
        deadline_s: the CPU-time budget's end (`budget.deadline`).
    """

    experiment = "cnn_study"
    measure = ACCURACY
    kernel = "conv"

    def cells(self):
        """`(depth, width)` in the order they run: the narrow width first, shallow first."""
        return [(d, w) for w in self.settings["widths"] for d in self.settings["depths"]]

    def cell_config(self, cell):
        depth, width = cell
        return {"arch": arch_name(depth, width), "depth": depth, "width": width}

    def placements(self, cell):
        """Where a penalty can go: "first", and "all" when there is more than one convolution."""
        depth, _ = cell
        return list(PLACEMENTS) if depth > 1 else ["first"]

    def cell_names(self, cell):
        arch = arch_name(*cell)
        return arch, arch

    def search_data(self):
        (x, y), validation_data, _ = self.run.arrays
        return dict(x=x, y=y, validation_data=validation_data)

    def train_final(self, verbose=0):
        """The sweep's training function with `study_cnn_run`, budgeted (see `budgeted`)."""
        return self.budgeted(lambda config, seed: study_cnn_run(config, seed, self.run.arrays, verbose=verbose))


def write_report(plan, command):
    """summary.md, trials.csv and the figure from the records; returns `(summary path, verdict rows)`."""

    run, trials = plan.run, plan.trials()
    configs, planned, records = plan.final_records(trials)
    analysis.write_trials_csv(run.path("trials.csv"), trials, configs, ACCURACY)
    figure_paths = []
    if records:
        figure_paths.append(
            figures.plot_curves(
                records,
                run.path("val_accuracy_curves.png"),
                "val_accuracy",
                "validation accuracy (%)",
                log=False,
                title="Small CNN on MNIST: validation accuracy per epoch",
                measure=ACCURACY,
                scale=100,
            )
        )
    verdicts = analysis.verdict_rows(records, ACCURACY) if records else []
    lines = _summary_lines(plan, trials, configs, records, verdicts, planned, command, figure_paths)
    return script_setup.write_summary(run.out, lines), verdicts


def _chosen_table(trials, configs, records):

    rows = []
    for c in configs:
        mine = [r for r in trials if (r["config"]["arch"], r["config"]["penalty"]) == (c["arch"], c["penalty"])]
        best = {
            p: max((analysis.trial_score(r, ACCURACY) for r in mine if r["config"]["placement"] == p), default=math.nan)
            for p in (NO_PLACEMENT, *PLACEMENTS)
        }
        runs = [r for r in records if r["config"] == c]
        per_epoch = (
            sum(r["wall_time_s"] / len(r["history"]["val_accuracy"]) for r in runs) / len(runs) if runs else math.nan
        )
        rows.append(
            [c["arch"], c["penalty"], f"{c['learning_rate']:g}", f"{c['lam']:g}", c["placement"], len(mine)]
            + [f"{100 * best[p]:.2f}" if math.isfinite(best[p]) else "-" for p in (NO_PLACEMENT, *PLACEMENTS)]
            + [f"{per_epoch:.2f}" if math.isfinite(per_epoch) else "-"]
        )
    return analysis.markdown_table(
        [
            "architecture",
            "config",
            "learning rate",
            "lam / factor",
            "placement",
            "trials",
            "best trial % (no penalty)",
            "best trial % (first conv)",
            "best trial % (all convs)",
            "s / epoch (final runs)",
        ],
        rows,
    )


def _edge_note(configs, settings):
    """A sentence when chosen learning rates sit at the top of the grid (a larger one might have done better)."""
    top = max(settings["learning_rates"])
    edge = [c for c in configs if c["learning_rate"] == top]
    if not edge or len(settings["learning_rates"]) < 2:
        return ""
    bases = [c for c in configs if c["penalty"] == BASELINE]
    return (
        f" {len(edge)} of {len(configs)} configurations ({sum(c in edge for c in bases)} of {len(bases)} "
        f"baselines) chose the largest learning rate of the grid ({top:g}): a larger one might have served "
        "them better."
    )


def _grid(values):
    return ", ".join(f"{v:g}" for v in values)


def _summary_lines(plan, trials, configs, records, verdicts, planned, command, figure_paths):
    run, settings = plan.run, plan.settings
    n_trials, n_runs = plan.trial_count(), plan.run_count()
    info = sorted({f"{r.get('backend')} on {', '.join(r.get('devices') or ['?'])}" for r in records + trials})
    (x_train, _), (x_val, _), (x_test, _) = run.arrays
    data = run.data
    source = {"embedded": "the embedded MNIST subset", "local": "the four MNIST IDX files of --data-dir"}.get(
        data.source, "tensorflow-datasets"
    )
    lines = script_setup.summary_header("Does an entropy penalty help a small CNN on MNIST?", run.note, command)
    lines += [
        "The study runs in portions: the same command resumes it (--cpu-minutes bounds the CPU time of each "
        "invocation), so the command above may have run several times.",
        "",
        f"**Status:** {len(records)} of {n_runs} final runs done ({planned} planned so far: {len(configs)} "
        f"configurations have a finished search); {len(trials)} of {n_trials} search trials done. "
        f"Backend/devices: {', '.join(info) or 'none yet'}.",
        "",
    ]
    if verdicts:
        lines += [
            f"**Conclusion:** {analysis.overall_sentence(verdicts, measure=ACCURACY)} Per architecture: "
            "the verdict below.",
            "",
        ]
    lines += [
        "## Setup",
        "",
        f"- Data: {data.name}, {len(data.x_train)} training and {len(data.x_test)} test images from {source}. "
        f"Training: the first {len(x_train)} training images; validation: the last {len(x_val)} training "
        f"images (hyperparameters are chosen on these alone); test: {len(x_test)} test images, used only for "
        "this report. MNIST is an easier task than the paper's CIFAR-10, which cannot be fetched here; "
        "what holds on MNIST need not hold there.",
        f"- Model: the paper's Table 1 CNN (section 5.3): 1-3 blocks of (3x3 convolution, leaky ReLU, 2x2 max "
        f"pooling), a softmax classifier; named <blocks>x<filters>: depths {_grid(settings['depths'])}, widths "
        f"{_grid(settings['widths'])} filters (the paper: 32, 64, 128; narrower here to fit two CPU cores); "
        f"sparse categorical cross-entropy, Adam, batch {settings['batch_size']}. Configurations: `none`, "
        "`paper` / `volume` / `normalized` (`ConvEntropy(lam, form=...)`, stabilized, placed with "
        "`keras_entropy.place_penalties`), `orthogonal` (Keras's `OrthogonalRegularizer(factor)` on each "
        "kernel reshaped to (9 c_in, c_out), mode `rows` when it has fewer rows than columns: "
        "`keras_entropy.experiments.peers.KernelOrthogonal`).",
        f"- Search (a KerasTuner grid search, one project per architecture and configuration in `tuner/`, "
        f"every trial exported to `trials.jsonl` and `trials.csv`): learning rate "
        f"{_grid(settings['learning_rates'])} for every configuration, the baseline included; ConvEntropy lam "
        f"{_grid(settings['lams'])}; orthogonal factor {_grid(settings['factors'])}; placement the first "
        "convolution or all of them (one convolution: the first). Each trial trains "
        f"{settings['trial_epochs']} epochs from the weights of seed {settings['search_seed']}; its score is "
        "the highest validation accuracy within those epochs; the highest score wins.",
        f"- Final runs: each configuration at its chosen hyperparameters, seeds {run.args.seed} .. "
        f"{run.args.seed + settings['seeds'] - 1}, {settings['epochs']} epochs each, no early stopping; per "
        "epoch the records hold train and validation accuracy and loss; the test accuracy is measured after "
        "the last epoch.",
        "",
        "## Chosen hyperparameters",
        "",
        "Best trial = the highest validation accuracy within a trial's epochs, per placement."
        + _edge_note(configs, settings),
        "",
        _chosen_table(trials, configs, records),
        "",
    ]
    if not records:
        return lines + ["No final runs yet.", ""]
    return lines + analysis.study_results_lines(
        records, verdicts, settings, measure=ACCURACY, verdict_measure=ACCURACY, figures=figure_paths
    )


__all__ = [
    "MONITORS",
    "PLACEMENTS",
    "StudyPlan",
    "arch_name",
    "study_cnn",
    "study_cnn_run",
    "study_record",
    "write_report",
]
