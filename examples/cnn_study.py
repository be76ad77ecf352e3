"""Does an entropy penalty help a small CNN on MNIST? A tuned comparison (issue 12, study 2).

The paper's Table 1 layout (section 5.3): 1-3 blocks of (3x3 convolution,
leaky ReLU, 2x2 max pooling) and a softmax classifier, at two widths;
cross-entropy, Adam, batch 128. Per architecture five configurations: no
penalty, ConvEntropy in the paper's, the volume and the normalized form
(MATH.md sections 8-10), and Keras's OrthogonalRegularizer on the kernel
as a matrix as a peer. A KerasTuner grid search on a validation split (the
last --val-size training images) chooses each one's learning rate and, for
the penalties, the strength and the placement (the first convolution, as
the paper's [1], or all of them), by the highest validation accuracy within
--trial-epochs epochs. Each configuration then trains at its chosen
hyperparameters for --epochs epochs with --seeds seeds, without early
stopping; the test accuracy is measured after the last epoch and used only
for the report.

    python examples/cnn_study.py --quick          # seconds, on the embedded MNIST subset
    python examples/cnn_study.py --data-dir ~/data/mnist --cpu-minutes 60
    python examples/cnn_study.py --data-dir ~/data/mnist --report-only

Architectures run one after another (the narrow width first), each searched
and then trained; every finished trial and run is on disk at once (tuner/,
trials.jsonl, results.jsonl in --out): the same command resumes without
repeating any; with --cpu-minutes no trial or run starts once the process
has used that much CPU time. summary.md, trials.csv and the figure are
rewritten from the records after each architecture, and by --report-only.
"""

import os
import sys

os.environ["KERAS_ENTROPY_DEFER_IMPORTS"] = "1"  # --help answers before Keras starts (script_setup unsets it)
from keras_entropy.experiments import arguments, evidence, script_setup, study, verdict  # noqa: E402
from keras_entropy.experiments.arguments import Setting  # noqa: E402

#: The study's settings: option, help, --quick value; DEFAULTS otherwise.
SETTINGS = {
    "depths": Setting("convolution blocks (default 1 2 3)", nargs="+", minimum=1, quick=[1]),
    "widths": Setting("filters per convolution (default 16 32; the paper: 32 64 128)", nargs="+", minimum=1, quick=[4]),
    "penalties": Setting(
        "configurations (default: all of none paper volume normalized orthogonal)",
        str,
        nargs="+",
        choices=list(evidence.PENALTIES),
        metavar="PENALTY",
    ),
    "learning_rates": Setting(
        "Adam learning rates searched for every configuration (default 1e-3 3e-3)", float, nargs="+", quick=[1e-2]
    ),
    "lams": Setting("ConvEntropy strengths searched (default 1e-3 1e-2)", float, nargs="+", quick=[1e-2]),
    "factors": Setting("orthogonal factors searched (default 1e-2 1e-1)", float, nargs="+", quick=[1e-2]),
    "trial_epochs": Setting("epochs of each search trial (default 4)", minimum=1, quick=1),
    "epochs": Setting("epochs of each final run, no early stopping (default 10)", minimum=2, quick=2),
    "seeds": Setting("final runs per configuration, seeds --seed, --seed + 1, ... (default 5)", minimum=2, quick=2),
    "patience": Setting("patience of the paper's stopping rule, replayed on the histories (default 3)", minimum=1),
    "thresholds": Setting(
        "validation accuracies whose epochs to reach are reported (default 0.9 0.95)", float, nargs="+"
    ),
    "batch_size": Setting("default 128", minimum=1),
    "val_size": arguments.size_setting("validation = the last N training images (default 3000)", quick=200),
    "train_size": arguments.size_setting("use the first N of the other training images (default 5000)", quick=400),
    "test_size": arguments.size_setting("use the first N test images (default: all)", quick=200),
    "search_seed": Setting(
        "seed of every search trial's weights (default 1000, apart from the final runs')", minimum=0
    ),
}
DEFAULTS = {
    "depths": [1, 2, 3],
    "widths": [16, 32],
    "penalties": list(evidence.PENALTIES),
    "learning_rates": [1e-3, 3e-3],
    "lams": [1e-3, 1e-2],
    "factors": [1e-2, 1e-1],
    "trial_epochs": 4,
    "epochs": 10,
    "seeds": 5,
    "patience": 3,
    "thresholds": [0.9, 0.95],
    "batch_size": 128,
    "val_size": 3000,
    "train_size": 5000,
    "search_seed": 1000,
}


def parse_args(argv=None):
    parser = arguments.parser_for(__doc__)
    arguments.add_common_arguments(
        parser,
        ["mnist"],
        "mnist",
        settings=SETTINGS,
        run_name="cnn_study",
        writes="tuner/, trials.jsonl, trials.csv, figures",
        mixed_precision=False,
    )
    study.add_budget_argument(parser)
    return parser.parse_args(argv)


def hypermodel_for(plan, depth, width, penalty):
    """The KerasTuner hypermodel of one configuration: learning rate; strength and placement for a penalty."""
    from keras_entropy import tuning
    from keras_entropy.experiments.cnn_study import arch_name, study_cnn

    settings, shape, placements = plan.settings, tuple(plan.run.arrays[0][0].shape[1:]), plan.placements(depth)

    def build(hp):
        learning_rate = hp.Choice("learning_rate", settings["learning_rates"])
        if penalty != evidence.PEER:  # the entropy penalties are placed by EntropySearch
            return study_cnn(shape, depth, width, learning_rate=learning_rate)
        factor = hp.Choice("factor", settings["factors"])
        placement = hp.Choice("placement", placements) if len(placements) > 1 else placements[0]
        return study_cnn(shape, depth, width, evidence.PEER, factor, placement, learning_rate)

    conv = (
        None
        if penalty in (evidence.BASELINE, evidence.PEER)
        else tuning.EntropySearch(
            lam=settings["lams"], placement=placements if len(placements) > 1 else placements[0], form=penalty
        )
    )
    return tuning.EntropyHyperModel(
        build, conv=conv, seeds=settings["search_seed"], name=f"{penalty}_{arch_name(depth, width)}"
    )


def search(plan, depth, width, penalty):
    """Grid-search one configuration (resuming); export its trials. False: the CPU budget ran out."""
    from keras_entropy import tuning
    from keras_entropy.experiments.cnn_study import NO_PLACEMENT, arch_name

    settings, arch = plan.settings, arch_name(depth, width)
    fixed = {"arch": arch, "depth": depth, "width": width, "penalty": penalty, "trial_epochs": settings["trial_epochs"]}
    if penalty == evidence.BASELINE:
        fixed.update(lam=0.0, placement=NO_PLACEMENT)
    elif len(plan.placements(depth)) == 1:
        fixed["placement"] = plan.placements(depth)[0]
    if penalty in evidence.FORMS and len(settings["lams"]) == 1:  # a single lam is no hyperparameter
        fixed["lam"] = settings["lams"][0]
    (x, y), validation_data, _ = plan.run.arrays
    return tuning.grid_search(
        hypermodel_for(plan, depth, width, penalty),
        tuning.objective("val_accuracy"),
        plan.run.path("tuner"),
        f"{arch}_{penalty}",
        dict(
            x=x,
            y=y,
            validation_data=validation_data,
            epochs=settings["trial_epochs"],
            batch_size=settings["batch_size"],
        ),
        deadline_s=plan.deadline_s,
        export_to=plan.run.path("trials.jsonl"),
        fixed=fixed,
        drop=("conv_form",),
        rename={"conv_lam": "lam", "conv_placement": "placement", "factor": "lam"},
        seed=settings["search_seed"],
        label=f"{arch}, {penalty}",
    )


def main(argv=None):
    args = parse_args(argv)
    script_setup.prepare(args, [args.dataset])  # checks --data-dir, starts Keras quietly
    from keras_entropy.experiments import cnn_study

    settings = arguments.settings_for(args, DEFAULTS, SETTINGS)
    run = script_setup.start(args, "cnn_study")
    run.arrays = cnn_study.split_labelled(run.data, settings["val_size"], settings["train_size"], settings["test_size"])
    plan = cnn_study.StudyPlan(run, settings, study.deadline(args.cpu_minutes))
    command = study.study_command(__file__, argv)
    try:
        for depth, width in plan.archs() if not args.report_only else []:
            for penalty in settings["penalties"]:
                if not search(plan, depth, width, penalty):
                    raise study.TimeUp
            run.sweep(
                plan.train_final(args.verbose),
                plan.final_configs(depth, width),
                settings["seeds"],
                show=("val_accuracy", "final_test_accuracy"),
            )
            cnn_study.write_report(plan, command)
    except study.TimeUp:
        print(study.TIME_UP_MESSAGE, flush=True)
    summary, verdicts = cnn_study.write_report(plan, command)
    study.finish(
        run,
        summary,
        verdict.verdict_table(verdicts, evidence.ACCURACY) if verdicts else None,
        verdict.verdict_sentences(verdicts, measure=evidence.ACCURACY),
    )
    return 0


if __name__ == "__main__":
    sys.exit(script_setup.run(main))
