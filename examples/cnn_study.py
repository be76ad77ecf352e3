"""Does an entropy penalty help a small CNN on MNIST? A tuned comparison (issue 12, study 2).

The paper's Table 1 layout (section 5.3): 1-3 blocks of (3x3 convolution,
leaky ReLU, 2x2 max pooling) and a softmax classifier, at two widths;
cross-entropy, Adam, batch 128. Per architecture five configurations: no
penalty, `ConvEntropy(lam, form=...)` as the kernel regularizer of the
first convolution (the paper's [1]) or of all of them, in the paper's, the
volume and the normalized form (MATH.md sections 8-10), and Keras's
OrthogonalRegularizer on the kernel as a matrix as a peer. A KerasTuner
grid search on a validation split (the last --val-size training images)
chooses each one's learning rate and, for the penalties, the strength and
the placement, by the highest validation accuracy within --trial-epochs
epochs. Each configuration then trains at its chosen hyperparameters for
--epochs epochs with --seeds seeds, without early stopping; the test
accuracy is measured after the last epoch and used only for the report.

    python examples/cnn_study.py --quick          # seconds, on the embedded MNIST subset
    python examples/cnn_study.py --data-dir ~/data/mnist --cpu-minutes 60
    python examples/cnn_study.py --data-dir ~/data/mnist --report-only

Architectures run one after another (the narrow width first), each searched
and then trained; every finished trial and run is on disk at once (tuner/,
trials.jsonl, results.jsonl in --out): the same command resumes without
repeating any; with --cpu-minutes no trial or run starts once the process
has used that much CPU time. summary.md (chosen hyperparameters, verdict,
evidence tables), trials.csv and the figure are rewritten from the records
after each architecture, and by --report-only. The full study (6
architectures, 150 runs) takes hours of CPU time on two cores.

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
DEFAULTS = {
    "depths": [1, 2, 3],
    "widths": [16, 32],
    "penalties": list(PENALTIES),
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
    "test_size": None,  # all
    "search_seed": 1000,
}
QUICK = {
    "depths": [1],
    "widths": [4],
    "learning_rates": [1e-2],
    "lams": [1e-2],
    "factors": [1e-2],
    "trial_epochs": 1,
    "epochs": 2,
    "seeds": 2,
    "val_size": 200,
    "train_size": 400,
    "test_size": 200,
}
#: The smallest value of each integer setting.
MINIMUM = {
    "depths": 1,
    "widths": 1,
    "trial_epochs": 1,
    "epochs": 2,
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
        "(default: runs/cnn_study[_quick])",
    )
    parser.add_argument("--quick", action="store_true", help=f"a tiny run, seconds on a CPU: {QUICK}")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first final run (default 0)")
    parser.add_argument("--report-only", action="store_true", help="rewrite summary.md and the figure from the records")
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
    parser.add_argument("--depths", type=int, nargs="+", help="convolution blocks, 1 to 3 (default 1 2 3)")
    parser.add_argument(
        "--widths", type=int, nargs="+", help="filters per convolution (default 16 32; the paper: 32 64 128)"
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
        help="Adam learning rates searched for every configuration (default 1e-3 3e-3)",
    )
    parser.add_argument("--lams", type=float, nargs="+", help="ConvEntropy strengths searched (default 1e-3 1e-2)")
    parser.add_argument("--factors", type=float, nargs="+", help="orthogonal factors searched (default 1e-2 1e-1)")
    parser.add_argument("--trial-epochs", type=int, help="epochs of each search trial (default 4)")
    parser.add_argument("--epochs", type=int, help="epochs of each final run, no early stopping (default 10)")
    parser.add_argument(
        "--seeds", type=int, help="final runs per configuration, seeds --seed, --seed + 1, ... (default 5)"
    )
    parser.add_argument(
        "--patience", type=int, help="patience of the paper's stopping rule, replayed on the histories (default 3)"
    )
    parser.add_argument(
        "--thresholds",
        type=float,
        nargs="+",
        help="validation accuracies whose epochs to reach are reported (default 0.9 0.95)",
    )
    parser.add_argument("--batch-size", type=int, help="default 128")
    parser.add_argument("--val-size", type=int, help="validation = the last N training images (default 3000)")
    parser.add_argument("--train-size", type=int, help="use the first N of the other training images (default 5000)")
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
    if any(depth > 3 for depth in args.depths or []):
        parser.error(f"--depths: must be at most 3 (28 x 28 images), got {max(args.depths)}")
    if args.cpu_minutes is not None and not args.cpu_minutes > 0:
        parser.error(f"--cpu-minutes: must be > 0, got {args.cpu_minutes:g}")
    for name, default in DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, QUICK.get(name, default) if args.quick else default)
    return args


def cnn(depth, width, penalty="none", lam=0.0, placement="first", learning_rate=1e-3):
    """The Table 1 CNN for 28 x 28 images, `penalty` (strength `lam`) on the first or on all convolutions, compiled."""
    import keras

    import keras_entropy as ke
    from keras_entropy.experiments.peers import KernelOrthogonal

    def regularizer(block, size):
        if penalty == "none" or (placement == "first" and block > 1):
            return None
        if penalty == "orthogonal":  # the peer: Keras's OrthogonalRegularizer on the kernel as a matrix
            return KernelOrthogonal(lam)
        # "paper", "volume" or "normalized"; stabilized. `output_shape`: the layer's output size, the N_out
        # that multiplies the penalty (without it the penalty is per output position).
        return ke.ConvEntropy(lam, output_shape=(size, size), form=penalty)

    layers, size = [keras.Input((28, 28, 1))], 28
    for block in range(1, depth + 1):
        size -= 2  # a 3x3 convolution without padding
        layers += [
            keras.layers.Conv2D(width, 3, kernel_regularizer=regularizer(block, size), name=f"conv{block}"),
            keras.layers.LeakyReLU(name=f"leaky_relu{block}"),
            keras.layers.MaxPooling2D(2, name=f"pool{block}"),
        ]
        size //= 2
    layers += [
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(10, activation="softmax", name="classifier"),
    ]
    model = keras.Sequential(layers, name=f"cnn_{depth}x{width}")
    # `accuracy` is the task's alone: `loss` and `val_loss` add the penalty.
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model


def hypermodel(args, plan, depth, width, penalty):
    """One configuration's KerasTuner hypermodel: its learning rate; a penalty's strength and placement too."""
    from keras_entropy import tuning

    placements = plan.placements((depth, width))  # "first", and "all" when there are several convolutions

    def build(hp):
        learning_rate = hp.Choice("learning_rate", args.learning_rates)
        if penalty != "orthogonal":  # none, or ConvEntropy: placed by the EntropySearch below
            return cnn(depth, width, learning_rate=learning_rate)
        factor = hp.Choice("factor", args.factors)
        placement = hp.Choice("placement", placements) if len(placements) > 1 else placements[0]
        return cnn(depth, width, penalty, factor, placement, learning_rate)

    # ConvEntropy(lam, form=penalty) on the first convolution or on all, lam from --lams.
    entropy = None
    if penalty not in ("none", "orthogonal"):
        entropy = tuning.EntropySearch(
            lam=args.lams, placement=placements if len(placements) > 1 else placements[0], form=penalty
        )
    return tuning.EntropyHyperModel(build, conv=entropy, seeds=args.search_seed, name=f"{penalty}_{depth}x{width}")


def experiment(args):
    """Data, search, final runs (model, compile, fit, evaluate), report."""
    from keras_entropy.experiments import analysis, script_setup

    script_setup.prepare(args, [args.dataset])  # checks --data-dir, starts Keras quietly
    import keras

    from keras_entropy import tuning
    from keras_entropy.experiments import budget, cnn_study, study
    from keras_entropy.experiments.images import prepare_images

    # The data: MNIST images (28, 28, 1) in [0, 1] and their labels; validation = the last --val-size
    # training images.
    run = script_setup.start(args, "cnn_study")
    splits = run.data.split(args.val_size, train_size=args.train_size, test_size=args.test_size)
    run.arrays = (x_train, y_train), (x_val, y_val), (x_test, y_test) = [
        (prepare_images(x), y.astype("int32")) for x, y in splits
    ]
    plan = cnn_study.StudyPlan(run, vars(args), budget.deadline(args.cpu_minutes))

    def train(config, seed):
        """One final run: the chosen configuration from `seed`, --epochs epochs, the test accuracy after the last."""
        keras.utils.set_random_seed(seed)
        model = cnn(
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
            validation_data=(x_val, y_val),
            epochs=config["epochs"],
            batch_size=config["batch_size"],
            verbose=args.verbose,
        )
        test_accuracy = model.evaluate(x_test, y_test, batch_size=1024, verbose=0, return_dict=True)["accuracy"]
        keras.backend.clear_session()
        return cnn_study.study_record(history.history, test_accuracy, config["patience"])

    command = study.study_command(__file__, None)
    try:
        for depth, width in plan.cells() if not args.report_only else []:  # the narrow width first
            for penalty in args.penalties:  # each searched once, resumed where it stopped
                searched = tuning.grid_search(
                    hypermodel(args, plan, depth, width, penalty),
                    tuning.objective("val_accuracy"),
                    **plan.grid_arguments((depth, width), penalty),
                )
                if not searched:  # the CPU budget ran out
                    raise budget.TimeUp
            run.sweep(
                plan.budgeted(train),
                plan.final_configs((depth, width)),
                args.seeds,
                show=("val_accuracy", "final_test_accuracy"),
            )
            cnn_study.write_report(plan, command)
    except budget.TimeUp:
        print(budget.TIME_UP_MESSAGE, flush=True)

    # The result: summary.md, trials.csv and the figure from the records; the verdict printed.
    summary, verdicts = cnn_study.write_report(plan, command)
    table = analysis.verdict_table(verdicts, analysis.ACCURACY) if verdicts else None
    study.finish(run, summary, table, analysis.verdict_sentences(verdicts, measure=analysis.ACCURACY))
    return 0


def main(argv=None):
    args = parse_args(argv)  # --help and bad arguments answer here, before Keras starts
    from keras_entropy.experiments import script_setup  # Keras starts here

    return script_setup.run(experiment, args)  # bad data or --out: one line naming the flag, exit status 2


if __name__ == "__main__":
    sys.exit(main())
