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
from keras_entropy.experiments import analysis, figures, script_setup, study, sweeps
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


class StudyPlan:
    """The plan of examples/cnn_study.py from its settings: grids, trials on disk, final runs; resumable.

    Args:
        run: the script's `script_setup.Run`, with `arrays` (see `study_cnn_run`).
        settings: the script's settings (`depths`, `widths`, `penalties`,
            `learning_rates`, `lams`, `factors`, `trial_epochs`, `epochs`,
            `seeds`, `patience`, `thresholds`, `batch_size`, `search_seed`).
        deadline_s: the CPU-time budget's end (`study.deadline`).
    """

    def __init__(self, run, settings, deadline_s=math.inf):
        self.run, self.settings, self.deadline_s = run, settings, deadline_s

    def archs(self):
        """`(depth, width)` in the order they run: the narrow width first, shallow first."""
        return [(d, w) for w in self.settings["widths"] for d in self.settings["depths"]]

    def placements(self, depth):
        """Where a penalty can go: "first", and "all" when there is more than one convolution."""
        return list(PLACEMENTS) if depth > 1 else ["first"]

    def grid_size(self, depth, penalty):
        size = len(self.settings["learning_rates"])
        if penalty == BASELINE:
            return size
        return size * len(self.placements(depth)) * len(self.settings["factors" if penalty == PEER else "lams"])

    def grid_arguments(self, depth, width, penalty):
        """The keyword arguments of `keras_entropy.tuning.grid_search` for one configuration.

        The script calls `tuning.grid_search(hypermodel, tuning.objective("val_accuracy"),
        **plan.grid_arguments(depth, width, penalty))`: its KerasTuner
        project under tuner/ (resumed where it stopped), the trials exported
        to trials.jsonl, the CPU budget. `hypermodel`'s hyperparameters are
        `learning_rate`; for an entropy penalty `conv_lam` and
        `conv_placement` (exported as `lam` and `placement`), for the peer
        `factor` and `placement` (when `placements(depth)` offers more than one).
        """
        settings, arch = self.settings, arch_name(depth, width)
        fixed = {
            "arch": arch,
            "depth": depth,
            "width": width,
            "penalty": penalty,
            "trial_epochs": settings["trial_epochs"],
        }
        if penalty == BASELINE:
            fixed.update(lam=0.0, placement=NO_PLACEMENT)
        elif len(self.placements(depth)) == 1:
            fixed["placement"] = self.placements(depth)[0]
        if penalty in FORMS and len(settings["lams"]) == 1:  # a single lam is no hyperparameter
            fixed["lam"] = settings["lams"][0]
        (x, y), validation_data, _ = self.run.arrays
        return dict(
            directory=self.run.path("tuner"),
            project=f"{arch}_{penalty}",
            fit=dict(
                x=x,
                y=y,
                validation_data=validation_data,
                epochs=settings["trial_epochs"],
                batch_size=settings["batch_size"],
            ),
            deadline_s=self.deadline_s,
            export_to=self.run.path("trials.jsonl"),
            fixed=fixed,
            drop=("conv_form",),
            rename={"conv_lam": "lam", "conv_placement": "placement", "factor": "lam"},
            seed=settings["search_seed"],
            label=f"{arch}, {penalty}",
        )

    def trials(self):
        """The exported trials of this search space (its architectures, penalties, grids and trial epochs)."""
        settings = self.settings

        def in_space(config):
            grid = (
                [0.0] if config["penalty"] == BASELINE else settings["factors" if config["penalty"] == PEER else "lams"]
            )
            return (
                (config["depth"], config["width"]) in self.archs()
                and config["penalty"] in settings["penalties"]
                and config["trial_epochs"] == settings["trial_epochs"]
                and config.get("lam", 0.0) in grid
                and config["learning_rate"] in settings["learning_rates"]
            )

        return [r for r in sweeps.load_records(self.run.path("trials.jsonl")) if in_space(r["config"])]

    def final_configs(self, depth=None, width=None, trials=None):
        """The final runs' configs: each configuration with a complete search, at its chosen hyperparameters."""
        trials = self.trials() if trials is None else trials
        chosen, run, settings = analysis.chosen_hyperparameters(trials, ACCURACY), self.run, self.settings
        (x_train, _), (x_val, _), (x_test, _) = run.arrays
        fixed = {
            "experiment": "cnn_study",
            "dataset": run.data.name,
            "data_source": "embedded" if run.data.is_embedded else "full",
            "train_size": len(x_train),
            "val_size": len(x_val),
            "test_size": len(x_test),
            **{k: settings[k] for k in ("epochs", "batch_size", "patience")},
        }
        counts = {}
        for r in trials:
            counts[r["config"]["arch"], r["config"]["penalty"]] = (
                counts.get((r["config"]["arch"], r["config"]["penalty"]), 0) + 1
            )
        archs = [(depth, width)] if depth is not None else self.archs()
        return [
            {
                **fixed,
                "arch": arch_name(d, w),
                "depth": d,
                "width": w,
                "penalty": p,
                **{k: chosen[arch_name(d, w), p][k] for k in ("learning_rate", "lam", "placement")},
            }
            for d, w in archs
            for p in settings["penalties"]
            if (arch_name(d, w), p) in chosen and counts[arch_name(d, w), p] >= self.grid_size(d, p)
        ]

    def budgeted(self, train):
        """`train(config, seed)` that starts no run once the CPU budget is used up (`study.TimeUp`)."""

        def budgeted_train(config, seed):
            if study.time_is_up(self.deadline_s):
                raise study.TimeUp
            return train(config, seed)

        return budgeted_train

    def train_final(self, verbose=0):
        """The sweep's training function with `study_cnn_run`, budgeted (see `budgeted`)."""
        return self.budgeted(lambda config, seed: study_cnn_run(config, seed, self.run.arrays, verbose=verbose))


def write_report(plan, command):
    """summary.md, trials.csv and the figure from the records; returns `(summary path, verdict rows)`."""

    run, settings, trials = plan.run, plan.settings, plan.trials()
    configs = plan.final_configs(trials=trials)
    keys = {p["key"] for p in sweeps.plan_runs(configs, settings["seeds"], run.args.seed)} if configs else set()
    records = sweeps.load_records(run.results_path, keys)
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
    lines = _summary_lines(plan, trials, configs, records, verdicts, len(keys), command, figure_paths)
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
    archs = plan.archs()
    n_trials = sum(plan.grid_size(d, p) for d, _ in archs for p in settings["penalties"])
    n_runs = len(archs) * len(settings["penalties"]) * settings["seeds"]
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
