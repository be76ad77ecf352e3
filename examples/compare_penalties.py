"""Does an entropy penalty help? No penalty, the paper's form, the normalized form and the peer, side by side.

The README's first command. The data: the MNIST subset shipped in the
package (6,000 training and 1,000 test digits, as 784-vectors in [0, 1];
--data-dir reads the full MNIST instead); validation = the last --val-size
training images. The model, built in `train` below: the 784 -> 100 -> 784
sigmoid autoencoder, MSE, Adam, in four configurations, each at the learning
rate, strength and kernel that the dense-autoencoder study chose for it on a
validation split of the full MNIST (docs/results/dense_autoencoder_study;
never on the images reported here; `keras_entropy.experiments.analysis.TUNED`):

    none        no kernel_regularizer
    paper       kernel_regularizer=ke.DenseEntropy(lam, form="paper") on the decoder
    normalized  kernel_regularizer=ke.DenseEntropy(lam, form="normalized") on the encoder
    orthogonal  kernel_regularizer=keras.regularizers.OrthogonalRegularizer(lam) on the encoder

Same model, same epochs, --seeds seeds each, no early stopping; the test
MSE is recorded after every epoch. It ends with the verdict: final test MSE
with its 95% CI, epochs to reach no penalty's median final test MSE
(Kaplan-Meier median), one-tailed p-values (Welch, exact log-rank)
Benjamini-Hochberg adjusted, one sentence computed from them and what to
do; summary.md and the curves (PNG) go to --out. 3-4 minutes on 2 CPU
cores.

    python examples/compare_penalties.py                  # the MNIST subset shipped in the package, 3-4 min
    python examples/compare_penalties.py --data-dir ~/data/mnist --train-size 50000   # the full MNIST
    python examples/compare_penalties.py --seeds 5        # 20 runs: enough for the exact test of "sooner"
    python examples/compare_penalties.py --quick          # seconds: a smoke test

Re-running the same command skips finished runs; --report-only rewrites the
report from results.jsonl.
"""

import argparse
import sys

#: The settings a plain run uses, and those of --quick; a flag given on the command line wins over both.
DEFAULTS = {"epochs": 40, "seeds": 3, "batch_size": 256, "val_size": 1000, "train_size": None, "test_size": None}
QUICK = {"epochs": 3, "seeds": 2, "batch_size": 256, "val_size": 200, "train_size": 500, "test_size": 200}
#: The smallest value each setting accepts (two seeds at least: the verdict needs a spread).
MINIMUM = {"epochs": 1, "seeds": 2, "batch_size": 1, "val_size": 1, "train_size": 1, "test_size": 1}
TITLE = "Does an entropy penalty help a dense autoencoder?"
DATA_HELP = (
    "Data: the MNIST subset shipped in the package, or --data-dir DIR: a folder holding the four MNIST IDX files\n"
    "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and\n"
    "t10k-labels-idx1-ubyte.gz, or a tensorflow-datasets data directory in which `mnist` is prepared."
)


def parse_args(argv=None):
    """The command line, parsed with the standard library alone: --help answers before Keras starts."""
    parser = argparse.ArgumentParser(
        description=__doc__, epilog=DATA_HELP, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", choices=["mnist"], default="mnist", help="only MNIST (default)")
    parser.add_argument(
        "--data-dir",
        help="local copy: a folder with the MNIST IDX .gz files, or a tensorflow-datasets data directory "
        "(default: the MNIST subset shipped in the package)",
    )
    parser.add_argument(
        "--out",
        help="folder for results.jsonl, test_mse_curves.png and summary.md (default: runs/compare_penalties[_quick])",
    )
    parser.add_argument("--quick", action="store_true", help=f"a smoke test of a few seconds: {QUICK}")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first run of each configuration (default 0)")
    parser.add_argument(
        "--download",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="has no effect here: this script reads the subset shipped in the package or --data-dir, never a download",
    )
    parser.add_argument("--report-only", action="store_true", help="rewrite the figure and summary from results.jsonl")
    parser.add_argument(
        "--verbose",
        type=int,
        nargs="?",
        const=2,
        default=0,
        choices=[0, 1, 2],
        help="Keras fit verbosity: 0 (default) prints one line per finished run; --verbose or --verbose 2 adds "
        "one line per epoch, --verbose 1 Keras's progress bars; any non-zero value also keeps TensorFlow's logs",
    )
    parser.add_argument("--epochs", type=int, help="epochs of every run, no early stopping (default 40; --quick: 3)")
    parser.add_argument(
        "--seeds", type=int, help="runs per configuration, seeds --seed, --seed + 1, ... (default 3; --quick: 2)"
    )
    parser.add_argument("--batch-size", type=int, help="default 256")
    parser.add_argument(
        "--val-size", type=int, help="validation = the last N training images (default 1000; --quick: 200)"
    )
    parser.add_argument(
        "--train-size", type=int, help="use the first N of the other training images (default: all; --quick: 500)"
    )
    parser.add_argument("--test-size", type=int, help="use the first N test images (default: all; --quick: 200)")
    args = parser.parse_args(argv)
    for name, smallest in MINIMUM.items():
        value = getattr(args, name)
        if value is not None and value < smallest:
            parser.error(f"--{name.replace('_', '-')}: must be at least {smallest}, got {value}")
        if value is None:
            setattr(args, name, (QUICK if args.quick else DEFAULTS)[name])
    args.argv = sys.argv[1:] if argv is None else list(argv)  # the command summary.md names
    return args


def experiment(args):
    """Data, model, compile, fit, result: four configurations x --seeds seeds, then the verdict."""
    import keras
    import numpy as np

    import keras_entropy as ke
    from keras_entropy.experiments import analysis, figures, runs, script_setup
    from keras_entropy.experiments.script_setup import InputError

    script_setup.prepare(args, ["mnist"])  # checks --data-dir, quiets the logs
    run = script_setup.start_embedded(args, "compare_penalties")  # the data, the --out folder

    # The data: 28 x 28 digits as 784-vectors in [0, 1]; validation = the last --val-size training images.
    images = run.data.x_train
    if args.val_size >= len(images):
        raise InputError(
            f"--val-size {args.val_size}: must leave training images, the data has {len(run.data.x_train)}"
        )
    splits = run.data.split(args.val_size, train_size=args.train_size, test_size=args.test_size)
    x_train, x_val, x_test = [x.reshape(-1, 784).astype("float32") / 255.0 for x, _ in splits]

    def penalty(name, lam, kernel_shape):
        """The kernel regularizer of configuration `name` (None: no penalty)."""
        if name == "paper":
            return ke.DenseEntropy(lam, form="paper")  # the paper's formula (docs/MATH.md section 4)
        if name == "normalized":
            return ke.DenseEntropy(lam, form="normalized")  # the kernel's log-volume less its scale (section 10)
        if name == "orthogonal":  # the nearest peer, in Keras itself
            n_in, n_out = kernel_shape  # orthogonal columns need n_in >= n_out, else rows
            return keras.regularizers.OrthogonalRegularizer(lam, mode="columns" if n_in >= n_out else "rows")
        return None

    def train(config, seed):
        """One run: build, compile, fit for config["epochs"] epochs; the record `run.sweep` stores."""
        keras.utils.set_random_seed(seed)
        width, lam, kernel = config["latent_dim"], config["lam"], config["placement"]  # 100, the tuned lam and kernel
        model = keras.Sequential(
            [
                keras.Input((784,)),
                keras.layers.Dense(
                    width,
                    activation="sigmoid",
                    kernel_regularizer=penalty(config["penalty"], lam, (784, width)) if kernel == "encoder" else None,
                    name="encoder",
                ),
                keras.layers.Dense(
                    784,
                    activation="sigmoid",
                    kernel_regularizer=penalty(config["penalty"], lam, (width, 784)) if kernel == "decoder" else None,
                    name="decoder",
                ),
            ]
        )
        # Keras adds the penalty to `loss`; the metric `mse` is the reconstruction error alone.
        model.compile(
            keras.optimizers.Adam(config["learning_rate"]), "mse", metrics=[keras.metrics.MeanSquaredError(name="mse")]
        )
        test_mse = []  # the reconstruction MSE of the test images after every epoch

        def record_test_mse(epoch, logs=None):
            error = model.predict(x_test, batch_size=1024, verbose=0) - x_test
            test_mse.append(float(np.mean(np.square(error, dtype="float64"))))

        history = model.fit(
            x_train,
            x_train,
            validation_data=(x_val, x_val),
            epochs=config["epochs"],
            batch_size=config["batch_size"],
            verbose=args.verbose,
            callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=record_test_mse)],
        )
        keras.backend.clear_session()
        # The record: every epoch's values, and the stopping epochs the paper's rule would have given.
        return runs.run_record({**history.history, "test_mse": test_mse}, analysis.MONITORS, config["patience"])

    # The four configurations at their tuned settings, --seeds seeds each; finished runs are skipped.
    configs = analysis.configs(
        args.epochs,
        args.batch_size,
        data_source=run.source,
        train_size=len(x_train),
        val_size=len(x_val),
        test_size=len(x_test),
    )
    records = run.sweep(train, configs, args.seeds, show=("test_mse",), skip=args.report_only)

    # The result: the verdict table, its sentence, what to do, the curves and summary.md.
    rows = analysis.verdict_rows(records)
    sentence, table, advice = analysis.comparison_sentence(rows), analysis.verdict_table(rows), analysis.next_step(rows)
    figure = figures.plot_curves(
        records,
        run.path("test_mse_curves.png"),
        "test_mse",
        "test MSE",
        title="784 -> 100 -> 784 autoencoder: test MSE per epoch",
    )
    settings = {
        **{name: getattr(args, name) for name in DEFAULTS},
        "seed": args.seed,
        "penalties": [config["penalty"] for config in configs],
    }
    lines = analysis.summary_lines(
        TITLE,
        script_setup.command_line(__file__, args.argv),
        run.data.describe(),
        settings,
        f"{sentence}\n\n{advice}",
        table,
        "test_mse_curves.png",
        run.note,
    )
    run.report(script_setup.write_summary(run.out, lines), table, writes=figure)
    print(f"\n{sentence}\n\n{advice}")
    return 0


def main(argv=None):
    args = parse_args(argv)  # --help and bad arguments answer here, before Keras starts
    from keras_entropy.experiments import script_setup  # Keras starts here

    return script_setup.run(experiment, args)  # bad data or --out: one line naming the flag, exit status 2


if __name__ == "__main__":
    sys.exit(main())
