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

MNIST: tensorflow-datasets' `mnist` (prepared in ~/tensorflow_datasets or
$TFDS_DATA_DIR; downloaded there with --download, the default except with
--quick), or --data-dir DIR
with DIR any folder holding the four IDX files train-images-idx3-ubyte.gz,
train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and
t10k-labels-idx1-ubyte.gz. --quick without either uses the MNIST subset
embedded in the package, and says so.

Results (results.jsonl), features_beta*.png and summary.md go to --out.
Re-running the same command skips finished runs.
"""

import os
import sys


os.environ["KERAS_ENTROPY_DEFER_IMPORTS"] = "1"  # --help answers before Keras starts
from keras_entropy import script_setup  # noqa: E402

del os.environ["KERAS_ENTROPY_DEFER_IMPORTS"]  # only for this import, not for child processes

QUICK = {
    "train_size": 2000,
    "val_size": 500,
    "epochs": 10,
    "replications": 1,
    "hidden_units": 64,
    "batch_size": 100,
    "learning_rate": 5e-3,
}


def parse_args(argv=None):
    parser = script_setup.parser_for(__doc__)
    script_setup.add_common_arguments(
        parser, ["mnist"], "mnist", dataset_help="only MNIST (default)",
        data_dir_help="local copy: a folder with the MNIST IDX .gz files, or a tensorflow-datasets data directory",
        out_help="folder for results.jsonl, feature PNGs and summary.md (default: runs/sparse_autoencoder[_quick])",
        quick_help=f"tiny CPU run: {QUICK}; uses the embedded MNIST subset when no local "
        "or prepared tensorflow-datasets copy is found",
        replications_help="runs per beta, distinct seeds (default 3)",
        download_what="MNIST",
        report_only=False,
    )
    parser.add_argument("--betas", type=float, nargs="+", help="sparsity strengths, 0 = no penalty (default 0 3)")
    parser.add_argument("--rho", type=float, help="target mean activation (default 0.05)")
    parser.add_argument("--hidden-units", type=int, help="hidden units (default 196)")
    parser.add_argument("--weight-decay", type=float, help="lambda of (lambda/2) sum W^2 (default 3e-3)")
    parser.add_argument("--epochs", type=int, help="default 50")
    parser.add_argument("--batch-size", type=int, help="default 256")
    parser.add_argument("--learning-rate", type=float, help="Adam learning rate (default 1e-3)")
    parser.add_argument("--train-size", type=int, help="use the first N training images (default: all)")
    parser.add_argument("--val-size", type=int, help="evaluate on the first N test images (default: all)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    script_setup.prepare(args, [args.dataset])  # checks --data-dir, starts Keras quietly
    import keras

    from keras_entropy import experiments, sparse_coding, sweeps

    base = dict(sparse_coding.SPARSE_AUTOENCODER_PAPER, train_size=None, val_size=None)
    if args.quick:
        base.update(QUICK)

    def pick(name):
        value = getattr(args, name)
        return value if value is not None else base[name]

    settings = {name: pick(name) for name in (
        "betas", "rho", "hidden_units", "weight_decay", "epochs", "batch_size", "learning_rate",
        "replications", "train_size", "val_size")}
    info = script_setup.announce_runtime(args)
    data, _, note = script_setup.load_data_for(
        args, embedded_note=script_setup.EMBEDDED_MNIST_NOTE.format(target="full experiment"))
    out, results_path = script_setup.output_dir(args, "sparse_autoencoder")

    x_train = experiments.flatten_images(data.x_train[: settings["train_size"]])
    x_val = experiments.flatten_images(data.x_test[: settings["val_size"]])
    configs = sweeps.expand_grid(
        {"beta": [float(b) for b in settings["betas"]]},
        fixed={
            "experiment": "sparse_autoencoder",
            "dataset": args.dataset,
            "data_source": "embedded" if data.is_embedded else "full",
            "train_size": len(x_train),
            "val_size": len(x_val),
            "hidden_units": settings["hidden_units"],
            "rho": settings["rho"],
            "weight_decay": settings["weight_decay"],
            "epochs": settings["epochs"],
            "batch_size": settings["batch_size"],
            "learning_rate": settings["learning_rate"],
            "dtype_policy": keras.config.dtype_policy().name,
        },
    )
    keys = [run["key"] for run in sweeps.plan_runs(configs, settings["replications"], args.seed)]

    def train(config, seed):
        path = os.path.join(out, f"features_beta{config['beta']:g}.png") if seed == args.seed else None
        return sparse_coding.sparse_autoencoder_run(config, seed, (x_train, x_val), features_path=path,
                                                    verbose=args.verbose)

    sweeps.run_sweep(train, configs, settings["replications"], results_path, seed=args.seed,
                     show=("mean_activation", "val_mse"))

    from keras_entropy import stats

    records = [r for r in sweeps.ResultsFile(results_path).records() if r["key"] in set(keys)]
    command = "python " + " ".join([os.path.relpath(__file__)] + (sys.argv[1:] if argv is None else list(argv)))
    lines = [f"# Sparse autoencoder (KL sparsity) on {args.dataset}", ""]
    if note:
        lines += [f"**Note:** {note}", ""]
    lines += [
        f"Command: `{command}`",
        "",
        f"Backend {info['backend']} on {', '.join(info['devices'])}; data: {data.describe()}.",
        f"784 -> {settings['hidden_units']} sigmoid -> 784 sigmoid; loss 0.5 * squared error summed over "
        f"pixels + L2 weight decay (lambda={settings['weight_decay']}) + KLSparsity(rho={settings['rho']}, "
        f"beta); Adam({settings['learning_rate']}), {settings['epochs']} epochs, batch {settings['batch_size']}; "
        f"{len(x_train)} training images, metrics on {len(x_val)} test images.",
        "",
        "Mean and 95% t-confidence interval over replications:",
        "",
        f"| beta | runs | mean hidden activation (rho = {settings['rho']}) | "
        "units with rho_hat within 2x of rho | reconstruction MSE per pixel | features |",
        "| --- | --- | --- | --- | --- | --- |",
    ]

    def interval(values, digits=4):
        mean, low, high = stats.t_confidence_interval(values)
        if low == low:  # not nan
            return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"
        return f"{mean:.{digits}f}"

    for config in configs:
        runs = [r for r in records if r["config"]["beta"] == config["beta"]]
        if not runs:
            continue
        image = f"features_beta{config['beta']:g}.png"
        figure = f"![beta {config['beta']:g}]({image})" if os.path.exists(os.path.join(out, image)) else "-"
        lines.append(
            f"| {config['beta']:g} | {len(runs)} | "
            f"{interval([r['metrics']['mean_activation'] for r in runs])} | "
            f"{interval([r['metrics']['frac_units_near_rho'] for r in runs], 2)} | "
            f"{interval([r['metrics']['val_mse'] for r in runs])} | "
            f"{figure} |"
        )
    lines += [
        "",
        "beta = 0 is the same autoencoder without the sparsity penalty. Each features_beta*.png shows "
        "the encoder weight columns of the first replication as 28x28 tiles (each tile min-max scaled).",
        "",
    ]
    with open(os.path.join(out, "summary.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    print(f"\nwrote {results_path}, feature grids and {os.path.join(out, 'summary.md')}\n")
    print("\n".join(line for line in lines if line.startswith("|")))
    return 0


if __name__ == "__main__":
    sys.exit(script_setup.run(main))
