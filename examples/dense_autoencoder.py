"""Dense autoencoders with the dense entropy loss (paper section 5.2, Figures 3-6).

One dense sigmoid hidden layer of width 20, 60, ..., 260, a sigmoid
reconstruction layer, Adam and MSE, `DenseEntropy(lam)` on the first kernel,
for a grid of lambdas including 0, 10 replications each; early stopping
after 7 epochs without improvement. Each run records both the total
validation loss (MSE + penalty, Keras's default monitor) and the validation
MSE per epoch, and trains until both have stopped, so the report gives the
stopping epoch under each monitor. --form picks the penalty's form (the
paper's by default; volume and normalized: MATH.md sections 8-10); --forms
runs several side by side, with one shared lambda = 0 baseline and one
report per form.

    python examples/dense_autoencoder.py --quick              # minutes on a CPU
    python examples/dense_autoencoder.py --data-dir ~/data/mnist   # the four MNIST IDX .gz files
    python examples/dense_autoencoder.py --dataset cifar10    # via tensorflow-datasets
    python examples/dense_autoencoder.py --quick --forms paper volume normalized

Results (results.jsonl), plots and summary.md go to --out. Re-running the
same command skips finished runs; --report-only rewrites the report from the
results file without training.
"""

import os
import sys

os.environ["KERAS_ENTROPY_DEFER_IMPORTS"] = "1"  # --help answers before Keras starts (script_setup unsets it)
from keras_entropy.experiments import arguments, paper, script_setup  # noqa: E402
from keras_entropy.experiments.arguments import Setting  # noqa: E402

#: The sweep's settings: option, help, --quick value (the paper's: paper.DENSE_AUTOENCODER_PAPER).
SETTINGS = {
    "latent_dims": Setting("latent widths (paper: 20 60 ... 260)", nargs="+", minimum=1, quick=[20, 140, 260]),
    **arguments.sweep_settings(
        paper.DENSE_AUTOENCODER_PAPER,
        quick={
            "lams": [0.0, 1e-3, 1e-1],
            "replications": 3,
            "max_epochs": 15,
            "patience": 3,
            "train_size": 3000,
            "val_size": 500,
        },
    ),
    "forms": arguments.forms_setting(
        "penalty forms to run side by side (instead of --form): one shared lam=0 "
        "baseline, results and a report per form"
    ),
}


def parse_args(argv=None):
    parser = arguments.parser_for(__doc__)
    arguments.add_common_arguments(
        parser, ["mnist", "cifar10"], "mnist", settings=SETTINGS, run_name="dense_autoencoder_DATASET"
    )
    parser.add_argument(
        "--monitor",
        choices=["val_loss", "val_mse"],
        default="val_loss",
        help="the run's early-stopping monitor (the other one is recorded too)",
    )
    parser.add_argument(
        "--stop-when",
        choices=["all", "first"],
        default="all",
        help="'all': train until both monitors stopped (default); 'first': stop on --monitor",
    )
    return arguments.at_most_one(parser, parser.parse_args(argv), "form", "forms")


def main(argv=None):
    args = parse_args(argv)
    script_setup.prepare(args, [args.dataset])  # checks --data-dir, starts Keras quietly
    from keras_entropy.experiments import autoencoder

    settings = arguments.settings_for(args, paper.DENSE_AUTOENCODER_PAPER, SETTINGS)
    run = script_setup.start(args, f"dense_autoencoder_{args.dataset}")
    arrays, configs = autoencoder.dense_autoencoder_sweep(
        run.data, settings, args.dataset, args.monitor, args.stop_when
    )
    run.sweep(
        lambda config, seed: autoencoder.dense_autoencoder_run(config, seed, arrays, verbose=args.verbose),
        configs,
        settings["replications"],
        show=("val_mse", "val_loss"),
        skip=args.report_only,
    )
    summary = autoencoder.write_dense_autoencoder_report(run, args.dataset, script_setup.command_line(__file__, argv))
    run.report(run.path("summary.md"), summary.table)
    return 0


if __name__ == "__main__":
    sys.exit(script_setup.run(main))
