"""Ng's sparse autoencoder on MNIST with the KL sparsity penalty (seed 003).

784 -> 196 sigmoid hidden units -> 784 sigmoid outputs, trained on Ng's
objective: half the squared reconstruction error, L2 weight decay
(lambda = 3e-3) and `KLSparsity(rho=0.05, beta=3)` on the hidden activations,
against the same network without the penalty (beta = 0). Reports, per beta,
the mean hidden activation (vs the target rho), the reconstruction MSE per
pixel on the test images, and saves the learned features (the encoder's
weight columns as 28x28 tiles) as PNG grids.

    python examples/sparse_autoencoder.py --quick        # under a minute on a CPU
    python examples/sparse_autoencoder.py --data-dir ~/data/mnist   # the four MNIST IDX .gz files

Results (results.jsonl), features_beta*.png and summary.md go to --out.
Re-running the same command skips finished runs.
"""

import os
import sys

os.environ["KERAS_ENTROPY_DEFER_IMPORTS"] = "1"  # --help answers before Keras starts (script_setup unsets it)
from keras_entropy.experiments import arguments, paper, script_setup  # noqa: E402
from keras_entropy.experiments.arguments import Setting  # noqa: E402

#: The sweep's settings: option, help, --quick value (the paper's: paper.SPARSE_AUTOENCODER_PAPER).
SETTINGS = {
    "betas": Setting("sparsity strengths, 0 = no penalty (default 0 3)", float, nargs="+"),
    "rho": Setting("target mean activation (default 0.05)", float),
    "hidden_units": Setting("hidden units (default 196)", minimum=1, quick=64),
    "weight_decay": Setting("lambda of (lambda/2) sum W^2 (default 3e-3)", float),
    "epochs": Setting("default 50", minimum=1, quick=10),
    "batch_size": Setting("default 256", minimum=1, quick=100),
    "learning_rate": Setting("Adam learning rate (default 1e-3)", float, quick=5e-3),
    "replications": arguments.replications_setting("beta", 3, quick=1, default="default"),
    "train_size": arguments.size_setting(arguments.TRAIN_SIZE_HELP, quick=2000),
    "val_size": arguments.size_setting("evaluate on the first N test images (default: all)", quick=500),
}


def parse_args(argv=None):
    parser = arguments.parser_for(__doc__)
    arguments.add_common_arguments(
        parser,
        ["mnist"],
        "mnist",
        settings=SETTINGS,
        run_name="sparse_autoencoder",
        writes="feature PNGs",
        report_only=False,
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    script_setup.prepare(args, [args.dataset])  # checks --data-dir, starts Keras quietly
    from keras_entropy.experiments import sparse_coding

    settings = arguments.settings_for(args, paper.SPARSE_AUTOENCODER_PAPER, SETTINGS)
    run = script_setup.start(args, "sparse_autoencoder")
    arrays, configs = sparse_coding.sparse_autoencoder_sweep(run.data, settings, args.dataset)

    def train(config, seed):  # the feature grid of the first replication
        path = run.path(sparse_coding.features_file(config["beta"])) if seed == args.seed else None
        return sparse_coding.sparse_autoencoder_run(config, seed, arrays, features_path=path, verbose=args.verbose)

    records = run.sweep(train, configs, settings["replications"], show=("mean_activation", "val_mse"))
    lines, summary = sparse_coding.write_sparse_autoencoder_report(
        run, records, configs, settings, args.dataset, script_setup.command_line(__file__, argv)
    )
    run.report(summary, lines, "feature grids")
    return 0


if __name__ == "__main__":
    sys.exit(script_setup.run(main))
