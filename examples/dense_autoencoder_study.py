"""Does an entropy penalty help a dense autoencoder on MNIST? A tuned comparison (issue 12, study 1).

Per latent width a 784 -> width -> 784 autoencoder (sigmoid, MSE, Adam,
batch 256) in five configurations: no penalty, `DenseEntropy(lam,
form=...)` as the kernel regularizer of the encoder or the decoder in the
paper's, the volume and the normalized form (MATH.md sections 8-10), and
Keras's OrthogonalRegularizer as a peer. A KerasTuner grid search on a
validation split (the last --val-size training images) chooses each one's
learning rate and, for the penalties, the strength and the kernel it goes
on, by the lowest validation MSE within --trial-epochs epochs (the MSE
alone, not val_loss, which includes the penalty). Each configuration then
trains at its chosen hyperparameters for --epochs epochs with --seeds
seeds, without early stopping; the paper's stopping rule (patience on val
MSE and on val loss) is replayed on the recorded histories. The test
images are used only for the final report.

    python examples/dense_autoencoder_study.py --quick          # seconds, on the embedded MNIST subset
    python examples/dense_autoencoder_study.py --data-dir ~/data/mnist --cpu-minutes 60
    python examples/dense_autoencoder_study.py --data-dir ~/data/mnist --report-only

Widths run one after another, each searched and then trained. Every
finished trial and run is on disk at once (tuner/, trials.jsonl,
results.jsonl in --out): the same command resumes without repeating any;
with --cpu-minutes no trial or run starts once the process has used that
much CPU time. summary.md (chosen hyperparameters, verdict, evidence
tables), trials.csv and the figures are rewritten from the records at the
end of each width, and by --report-only alone. The full study (widths 100
and 260, 150 trials, 50 runs of 60 epochs) takes days of CPU time on two
cores.

Data (--data-dir DIR): a folder holding the four MNIST IDX files
train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz, or a
tensorflow-datasets data directory with mnist prepared; without it
tensorflow-datasets' copy (downloaded unless --no-download), or with
--quick the MNIST subset embedded in keras_entropy when there is none.
"""

import argparse
import sys

PENALTIES = ("none", "paper", "volume", "normalized", "orthogonal")
#: The kernels a penalty can go on: the layers named so.
KERNELS = ("encoder", "decoder")
DEFAULTS = {
    "widths": [100, 260],
    "penalties": list(PENALTIES),
    "learning_rates": [1e-3, 3e-3, 1e-2],
    "lams": [1e-4, 1e-3, 1e-2],
    "factors": [1e-2, 1e-1, 1.0],
    "trial_epochs": 12,
    "epochs": 60,
    "seeds": 5,
    "patience": 7,
    "thresholds": [0.01, 0.006],
    "batch_size": 256,
    "val_size": 10000,
    "train_size": None,  # all
    "test_size": None,  # all
    "search_seed": 1000,
}
QUICK = {
    "widths": [8],
    "learning_rates": [1e-2],
    "lams": [1e-2],
    "factors": [1e-2],
    "trial_epochs": 2,
    "epochs": 3,
    "seeds": 2,
    "val_size": 200,
    "train_size": 500,
    "test_size": 200,
}
#: The smallest value of each integer setting.
MINIMUM = {
    "widths": 1,
    "trial_epochs": 1,
    "epochs": 1,
    "seeds": 2,
    "patience": 1,
    "batch_size": 1,
    "val_size": 1,
    "train_size": 1,
    "test_size": 1,
    "search_seed": 0,
}


def parse_args(argv=None):
    """The command line, parsed with the standard library alone: --help answers before Keras starts."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=["mnist"], default="mnist", help="only MNIST (default)")
    parser.add_argument(
        "--data-dir",
        help="a folder with the four MNIST IDX .gz files, or a tensorflow-datasets data directory (see 'Data' above)",
    )
    parser.add_argument(
        "--download",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="let tensorflow-datasets download MNIST (default: yes, except with --quick)",
    )
    parser.add_argument(
        "--out",
        help="folder for results.jsonl, tuner/, trials.jsonl, trials.csv, figures and summary.md "
        "(default: runs/dense_autoencoder_study[_quick])",
    )
    parser.add_argument("--quick", action="store_true", help=f"a tiny run, seconds on a CPU: {QUICK}")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first final run (default 0)")
    parser.add_argument("--report-only", action="store_true", help="rewrite summary.md and figures from the records")
    parser.add_argument(
        "--verbose",
        "-v",
        type=int,
        nargs="?",
        const=2,
        default=0,
        choices=[0, 1, 2],
        help="Keras fit verbosity: 0 (default) one line per trial and per run; --verbose (2) one line per "
        "epoch, 1 progress bars; non-zero also keeps TensorFlow's start-up logs",
    )
    parser.add_argument(
        "--widths", type=int, nargs="+", help="latent widths, studied one after another (default 100 260)"
    )
    parser.add_argument(
        "--penalties",
        nargs="+",
        choices=PENALTIES,
        metavar="PENALTY",
        help="configurations (default: all of " + " ".join(PENALTIES) + ")",
    )
    parser.add_argument(
        "--learning-rates",
        type=float,
        nargs="+",
        help="Adam learning rates searched for every configuration (default 1e-3 3e-3 1e-2)",
    )
    parser.add_argument(
        "--lams", type=float, nargs="+", help="DenseEntropy strengths searched (default 1e-4 1e-3 1e-2)"
    )
    parser.add_argument(
        "--factors", type=float, nargs="+", help="OrthogonalRegularizer factors searched (default 1e-2 1e-1 1)"
    )
    parser.add_argument("--trial-epochs", type=int, help="epochs of each search trial (default 12)")
    parser.add_argument("--epochs", type=int, help="epochs of each final run, no early stopping (default 60)")
    parser.add_argument(
        "--seeds", type=int, help="final runs per configuration, seeds --seed, --seed + 1, ... (default 5)"
    )
    parser.add_argument(
        "--patience", type=int, help="patience of the paper's stopping rule, replayed on the histories (default 7)"
    )
    parser.add_argument(
        "--thresholds",
        type=float,
        nargs="+",
        help="validation MSEs whose epochs to reach are reported (default 0.01 0.006)",
    )
    parser.add_argument("--batch-size", type=int, help="default 256")
    parser.add_argument("--val-size", type=int, help="validation = the last N training images (default 10000)")
    parser.add_argument("--train-size", type=int, help="use the first N of the other training images (default: all)")
    parser.add_argument("--test-size", type=int, help="use the first N test images (default: all)")
    parser.add_argument(
        "--search-seed",
        type=int,
        help="seed of every search trial's weights (default 1000, apart from the final runs')",
    )
    parser.add_argument(
        "--cpu-minutes",
        type=float,
        metavar="MINUTES",
        help="start no trial or final run once this process has used MINUTES of CPU time, all its threads "
        "together (default: no limit); run the same command again to resume",
    )
    args = parser.parse_args(argv)
    for name, minimum in MINIMUM.items():
        values = getattr(args, name)
        for value in values if isinstance(values, list) else [values]:
            if value is not None and value < minimum:
                parser.error(f"--{name.replace('_', '-')}: must be at least {minimum}, got {value}")
    if args.cpu_minutes is not None and not args.cpu_minutes > 0:
        parser.error(f"--cpu-minutes: must be > 0, got {args.cpu_minutes:g}")
    for name, default in DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, QUICK.get(name, default) if args.quick else default)
    return args


def autoencoder(width, penalty="none", lam=0.0, kernel="encoder", learning_rate=1e-3):
    """The 784 -> width -> 784 autoencoder, `penalty` (strength `lam`) on the `kernel` layer's kernel, compiled."""
    import keras

    import keras_entropy as ke

    def regularizer(layer, fan_in, fan_out):
        if penalty == "none" or layer != kernel:
            return None
        if penalty == "orthogonal":  # the peer: orthogonal columns (encoder) or rows (decoder), whichever can be
            return keras.regularizers.OrthogonalRegularizer(lam, mode="columns" if fan_in >= fan_out else "rows")
        return ke.DenseEntropy(lam, form=penalty)  # "paper", "volume" or "normalized"; stabilized

    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(
                width, activation="sigmoid", kernel_regularizer=regularizer("encoder", 784, width), name="encoder"
            ),
            keras.layers.Dense(
                784, activation="sigmoid", kernel_regularizer=regularizer("decoder", width, 784), name="decoder"
            ),
        ],
        name=f"dense_autoencoder_{width}",
    )
    # `mse` is the reconstruction error alone: `loss` and `val_loss` add the penalty.
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="mse",
        metrics=[keras.metrics.MeanSquaredError(name="mse")],
    )
    return model


def hypermodel(args, width, penalty):
    """One configuration's KerasTuner hypermodel: its learning rate; a penalty's strength and kernel too."""
    from keras_entropy import tuning

    def build(hp):
        learning_rate = hp.Choice("learning_rate", args.learning_rates)
        if penalty != "orthogonal":  # none, or DenseEntropy: placed by the EntropySearch below
            return autoencoder(width, learning_rate=learning_rate)
        factor, kernel = hp.Choice("factor", args.factors), hp.Choice("placement", KERNELS)
        return autoencoder(width, penalty, factor, kernel, learning_rate)

    # DenseEntropy(lam, form=penalty) on the kernel of the layer named "encoder" or "decoder", lam from --lams.
    entropy = None
    if penalty not in ("none", "orthogonal"):
        entropy = tuning.EntropySearch(lam=args.lams, placement={kernel: [kernel] for kernel in KERNELS}, form=penalty)
    return tuning.EntropyHyperModel(build, dense=entropy, seeds=args.search_seed, name=f"{penalty}_{width}")


def experiment(args):
    """Data, search, final runs (model, compile, fit), report."""
    from keras_entropy.experiments import analysis, script_setup

    script_setup.prepare(args, [args.dataset])  # checks --data-dir, starts Keras quietly
    import keras

    from keras_entropy import tuning
    from keras_entropy.experiments import autoencoder_study, budget, study
    from keras_entropy.experiments.autoencoder import flatten_images

    # The data: MNIST as vectors in [0, 1]; validation = the last --val-size training images.
    run = script_setup.start(args, "dense_autoencoder_study")
    splits = run.data.split(args.val_size, train_size=args.train_size, test_size=args.test_size)
    run.arrays = x_train, x_val, x_test = [flatten_images(x) for x, _ in splits]
    plan = autoencoder_study.StudyPlan(run, vars(args), budget.deadline(args.cpu_minutes))

    def train(config, seed):
        """One final run: the chosen configuration from `seed`, --epochs epochs, the test MSE after each."""
        keras.utils.set_random_seed(seed)
        model = autoencoder(
            config["latent_dim"], config["penalty"], config["lam"], config["placement"], config["learning_rate"]
        )
        test_mse = autoencoder_study.test_mse_callback(x_test)
        history = model.fit(
            x_train,
            x_train,
            validation_data=(x_val, x_val),
            epochs=config["epochs"],
            batch_size=config["batch_size"],
            verbose=args.verbose,
            callbacks=[test_mse],
        )
        keras.backend.clear_session()
        return autoencoder_study.study_record(history.history, test_mse.values, config["patience"])

    command = study.study_command(__file__, None)
    try:
        for width in args.widths if not args.report_only else []:
            for penalty in args.penalties:  # each searched once, resumed where it stopped
                searched = tuning.grid_search(
                    hypermodel(args, width, penalty), tuning.objective("val_mse"), **plan.grid_arguments(width, penalty)
                )
                if not searched:  # the CPU budget ran out
                    raise budget.TimeUp
            run.sweep(plan.budgeted(train), plan.final_configs(width), args.seeds, show=("val_mse", "test_mse"))
            autoencoder_study.write_report(plan, command)
    except budget.TimeUp:
        print(budget.TIME_UP_MESSAGE, flush=True)

    # The result: summary.md, trials.csv and the figures from the records; the verdict printed.
    summary, verdicts = autoencoder_study.write_report(plan, command)
    table = analysis.verdict_table(verdicts) if verdicts else None
    study.finish(run, summary, table, analysis.verdict_sentences(verdicts))
    return 0


def main(argv=None):
    args = parse_args(argv)  # --help and bad arguments answer here, before Keras starts
    from keras_entropy.experiments import script_setup  # Keras starts here

    return script_setup.run(experiment, args)  # bad data or --out: one line naming the flag, exit status 2


if __name__ == "__main__":
    sys.exit(main())
