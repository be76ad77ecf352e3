"""Does an entropy penalty help? No penalty, the paper's form, the normalized form and the peer, side by side.

The README's first command. The 784 -> 100 -> 784 sigmoid autoencoder
trains in four configurations, each at the learning rate, strength and
kernel that the dense-autoencoder study chose for it on a validation split
of the full MNIST (docs/results/dense_autoencoder_study; never on the
images reported here): no penalty, DenseEntropy in the paper's form,
DenseEntropy in the normalized form (MATH.md section 10), and Keras's
OrthogonalRegularizer. Same model, same epochs, --seeds seeds each, no
early stopping. It ends with the verdict: final test MSE with its 95% CI,
epochs to reach no penalty's median final test MSE (Kaplan-Meier median),
one-tailed p-values (Welch, exact log-rank) Benjamini-Hochberg adjusted,
and one sentence computed from them; summary.md and the curves (PNG) go to
--out.

    python examples/compare_penalties.py                  # the MNIST subset shipped in the package, 3-4 min
    python examples/compare_penalties.py --data-dir ~/data/mnist --train-size 50000   # the full MNIST
    python examples/compare_penalties.py --seeds 5        # 20 runs: enough for the exact test of "sooner"
    python examples/compare_penalties.py --quick          # seconds: a smoke test

Re-running the same command skips finished runs; --report-only rewrites the
report from results.jsonl.
"""

import os
import sys

os.environ["KERAS_ENTROPY_DEFER_IMPORTS"] = "1"  # --help answers before Keras starts (script_setup unsets it)
from keras_entropy.experiments import arguments, script_setup  # noqa: E402
from keras_entropy.experiments.arguments import Setting  # noqa: E402

SETTINGS = {
    "epochs": Setting("epochs of every run, no early stopping (default 40)", minimum=1, quick=3),
    "seeds": Setting("runs per configuration, seeds --seed, --seed + 1, ... (default 3)", minimum=2, quick=2),
    "batch_size": Setting("default 256", minimum=1),
    "val_size": arguments.size_setting("validation = the last N training images (default 1000)", quick=200),
    "train_size": arguments.size_setting("use the first N of the other training images (default: all)", quick=500),
    "test_size": arguments.size_setting("use the first N test images (default: all)", quick=200),
}
DEFAULTS = {"epochs": 40, "seeds": 3, "batch_size": 256, "val_size": 1000}
TITLE = "Does an entropy penalty help a dense autoencoder?"


def parse_args(argv=None):
    parser = arguments.parser_for(__doc__)
    arguments.add_common_arguments(
        parser,
        ["mnist"],
        "mnist",
        settings=SETTINGS,
        run_name="compare_penalties",
        writes="test_mse_curves.png",
        mixed_precision=False,
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    script_setup.prepare(args, [args.dataset])  # checks --data-dir, starts Keras quietly
    from keras_entropy.experiments import autoencoder_study, comparison, curves, verdict

    settings = {
        **arguments.settings_for(args, DEFAULTS, SETTINGS),
        "seed": args.seed,
        "penalties": list(comparison.TUNED),
    }
    run = script_setup.start_embedded(args, "compare_penalties")
    arrays = autoencoder_study.split_images(
        run.data, settings["val_size"], settings["train_size"], settings["test_size"]
    )
    configs = comparison.configs(
        settings["epochs"],
        settings["batch_size"],
        data_source=run.source,
        train_size=len(arrays[0]),
        val_size=len(arrays[1]),
        test_size=len(arrays[2]),
    )
    records = run.sweep(
        lambda config, seed: autoencoder_study.study_run(config, seed, arrays, verbose=args.verbose),
        configs,
        settings["seeds"],
        show=("test_mse",),
        skip=args.report_only,
    )
    rows = verdict.verdict_rows(records)
    sentence, table = verdict.comparison_sentence(rows), verdict.verdict_table(rows)
    advice = verdict.next_step(rows)
    figure = curves.plot_curves(
        records,
        run.path("test_mse_curves.png"),
        "test_mse",
        "test MSE",
        title="784 -> 100 -> 784 autoencoder: test MSE per epoch",
    )
    lines = comparison.summary_lines(
        TITLE,
        script_setup.command_line(__file__, argv),
        run.data.describe(),
        settings,
        f"{sentence}\n\n{advice}",
        table,
        os.path.basename(figure),
        run.note,
    )
    summary = script_setup.write_summary(run.out, lines)
    run.report(summary, table, writes=figure)
    print(f"\n{sentence}\n\n{advice}")
    return 0


if __name__ == "__main__":
    sys.exit(script_setup.run(main))
