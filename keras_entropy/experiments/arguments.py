"""The example scripts' command lines, parsed before Keras starts.

Every example parses the same options (--quick, --out, --data-dir,
--dataset, --mixed-precision, --download/--no-download, --seed,
--report-only, --verbose; `add_common_arguments`) and a table of its
experiment's settings: one `Setting` per option, with its help, its
--quick value and its bounds. The table gives the flags
(`add_common_arguments`), the --quick run (`quick_values`) and the run's
settings (`settings_for`: a flag over --quick over the paper's value), so
that a setting is written once; `sweep_settings` gives the rows every
supervised sweep of the paper shares.

    SETTINGS = {
        "latent_dims": Setting("latent widths (paper: 20 60 ... 260)", nargs="+", minimum=1, quick=[20, 140]),
        "lams": lams_setting(quick=[0.0, 0.1]),
        "replications": replications_setting("cell", 10, quick=2),
    }
    parser = arguments.parser_for(__doc__)
    arguments.add_common_arguments(parser, ["mnist"], "mnist", settings=SETTINGS, run_name="my_experiment")
    args = parser.parse_args(argv)           # checks every Setting's bounds
    settings = arguments.settings_for(args, paper.DENSE_AUTOENCODER_PAPER, SETTINGS)

This module needs only the standard library at import. Bad input ends a script with
one line on stderr, `<script>: error: <what is wrong, naming the flag and
value>`, and exit status 2.
"""

import argparse

from keras_entropy.experiments.loading import DISPLAY_NAMES, data_paragraph

#: The help of --train-size, --val-size and --lams where a script says nothing more.
TRAIN_SIZE_HELP = "use the first N training images (default: all)"
VAL_SIZE_HELP = "use the first N test images for validation (default: all)"
LAMS_HELP = "entropy loss strengths, include 0 for the baseline"
#: The forms of the entropy penalties, in words, for --form and --forms (`penalty_form` checks them).
FORM_NAMES = (
    "paper (the paper's formulas), volume (the log-volume the whole kernel maps) or normalized "
    "(that volume less its scale part); MATH.md sections 8-10"
)
FORM_HELP = f"the entropy change the penalty takes: {FORM_NAMES}"

#: The sentence of --quick's help saying what a --quick run uses without the data (`fallback` of `load_data_for`).
_QUICK_FALLBACK = {
    None: "uses the embedded MNIST subset when no local or prepared tensorflow-datasets copy is found",
    "mnist": "without a local copy of the data set it uses the embedded MNIST subset, and says so",
    "mock": "without a local copy of {name} it trains on tensorflow-datasets mock data (random images), and says so",
}

_NO_QUICK = object()


class InputError(ValueError):
    """Bad command-line input, said in one line naming the flag and value.

    `keras_entropy.experiments.script_setup.run` prints it as
    `<script>: error: <message>` on stderr and exits with status 2.
    """


class Setting:
    """One setting of an experiment: its command-line option, --quick value and bounds.

    Args:
        help: the option's help; None: no option (the setting only has a
            --quick value, e.g. a compact model's size).
        type: the type of its values (int by default; str for names).
        quick: the value of a --quick run (default: the paper's).
        minimum: the smallest value accepted (each value of a list);
            `parse_args` refuses a smaller one with `--flag must be >= minimum, got value`.
        multiple_of: values must be positive multiples of this
            (`--flag must be a positive multiple of N, got value`).
        **options: more `add_argument` options (`nargs`, `choices`, `default`, `metavar`).
    """

    def __init__(self, help=None, type=int, *, quick=_NO_QUICK, minimum=None, multiple_of=None, **options):
        self.help, self.type, self.quick, self.options = help, type, quick, options
        self.minimum, self.multiple_of = minimum, multiple_of

    def check(self, parser, args, name):
        """`parser.error` unless the option's value (a number or a list of them, None skipped) is in bounds."""
        value = getattr(args, name, None)
        for v in value if isinstance(value, list) else [value]:
            if v is None:
                continue
            if self.multiple_of is not None and (v < 1 or v % self.multiple_of):
                parser.error(f"{flag(name)} must be a positive multiple of {self.multiple_of}, got {v}")
            if self.minimum is not None and v < self.minimum:
                parser.error(f"{flag(name)} must be >= {self.minimum}, got {v}")

    def add_to(self, parser, name):
        """Add the option `--name` (underscores as dashes) to `parser`, unless the setting has none."""
        if self.help is not None:
            parser.add_argument(flag(name), type=self.type, help=self.help, **self.options)


def lams_setting(quick=_NO_QUICK, help=LAMS_HELP):
    """--lams: the entropy strengths of the sweep (floats, one or more)."""
    return Setting(help, float, nargs="+", quick=quick)


def penalty_form(text):
    """The type of --form / --forms: a name of `keras_entropy.validation.FORMS`.

    The names are read from `keras_entropy.validation` when a value is
    parsed, not when the parser is built, so that --help imports nothing
    but the standard library.
    """
    from keras_entropy import validation

    if text not in validation.FORMS:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(validation.FORMS)}, got {text!r}")
    return text


def form_setting(quick=_NO_QUICK):
    """--form: the entropy change the penalties take (default: the paper's)."""
    return Setting(FORM_HELP + "; default paper", penalty_form, metavar="FORM", quick=quick)


def forms_setting(help):
    """--forms: several penalty forms (`help` says what is done with them: a grid axis, a search)."""
    return Setting(f"{help}; each one of {FORM_NAMES}", penalty_form, nargs="+", metavar="FORM")


def replications_setting(unit, paper, quick=_NO_QUICK, default="paper"):
    """--replications: runs per `unit` with distinct seeds; the help names the `paper`'s (or default) count."""
    return Setting(f"runs per {unit}, distinct seeds ({default}: {paper})", minimum=1, quick=quick)


def size_setting(help, quick=_NO_QUICK):
    """--train-size, --val-size, ...: use the first N examples (N >= 1)."""
    return Setting(help, minimum=1, quick=quick)


def sweep_settings(paper, quick, *, monitor=None, validation="test"):
    """The settings every supervised sweep of the paper has, their help naming the paper's values.

    --lams, --form (`form_setting`), --replications (per cell),
    --max-epochs, --patience (on `monitor` when given; with the paper's
    `min_delta`), --batch-size, --train-size and --val-size (the first N
    `validation` images: "test" or "validation").

    Args:
        paper: the experiment's paper settings (`keras_entropy.experiments.paper`).
        quick: the --quick values of these settings, by name.
        monitor: the metric early stopping watches, named in --patience's help.
        validation: what --val-size counts: the data set's "test" or "validation" images.
    """

    def value(name):
        return quick.get(name, _NO_QUICK)

    on = f" on {monitor}" if monitor else ""
    min_delta = f"; min_delta {paper['min_delta']:g}" if "min_delta" in paper else ""
    grid = " ".join(f"{lam:g}" for lam in paper["lams"])
    val_help = VAL_SIZE_HELP if validation == "test" else f"use the first N {validation} images (default: all)"
    return {
        "lams": lams_setting(value("lams"), f"{LAMS_HELP} (paper: {grid})"),
        "form": form_setting(value("form")),
        "replications": replications_setting("cell", paper["replications"], value("replications")),
        "max_epochs": Setting(
            f"epoch cap of each run (default {paper['max_epochs']})", minimum=1, quick=value("max_epochs")
        ),
        "patience": Setting(
            f"early-stopping patience{on} (paper: {paper['patience']}{min_delta})", minimum=0, quick=value("patience")
        ),
        "batch_size": Setting(f"default {paper['batch_size']}", minimum=1, quick=value("batch_size")),
        "train_size": size_setting(TRAIN_SIZE_HELP, value("train_size")),
        "val_size": size_setting(val_help, value("val_size")),
    }


def at_most_one(parser, args, *names):
    """`args`, after `parser.error` if more than one of the options `names` was given (e.g. --form and --forms)."""
    given = [flag(name) for name in names if getattr(args, name, None) not in (None, [], False)]
    if len(given) > 1:
        parser.error(f"{' and '.join(given)}: give one of them")
    return args


def flag(name):
    """The option of setting `name`: `max_epochs` -> `--max-epochs`."""
    return "--" + name.replace("_", "-")


def quick_values(settings):
    """The --quick run's settings: `{name: quick value}` for the settings that have one."""
    return {name: s.quick for name, s in settings.items() if s.quick is not _NO_QUICK}


def settings_for(args, paper, settings, **overrides):
    """The run's settings: each of `settings` from its flag when given, else --quick's or the paper's value.

    `overrides` replace entries of `paper` (e.g. `placements=None`); a
    setting that neither gives is None (e.g. `train_size`: all).
    """
    base = {**paper, **overrides}
    if args.quick:
        base.update(quick_values(settings))
    return {n: getattr(args, n) if getattr(args, n, None) is not None else base.get(n) for n in settings}


class OneLineErrorParser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors are one line on stderr (exit status 2), without the usage.

    `add_settings` adds a table of `Setting`s, whose bounds `parse_args` checks.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.settings = {}

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")

    def add_settings(self, settings):
        """Add each `Setting`'s option; returns the parser."""
        for name, setting in settings.items():
            setting.add_to(self, name)
        self.settings.update(settings)
        return self

    def parse_args(self, args=None, namespace=None):
        parsed = super().parse_args(args, namespace)
        for name, setting in self.settings.items():
            setting.check(self, parsed, name)
        return parsed


def parser_for(doc):
    """A `OneLineErrorParser` for a script with docstring `doc`.

    The description is the docstring's first paragraph, the epilog the
    rest, shown as written (`RawDescriptionHelpFormatter`).
    """
    return OneLineErrorParser(
        description=doc.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=doc.split("\n\n", 1)[1],
    )


def add_verbose_argument(parser):
    """Add --verbose: Keras fit output and start-up logs (default 0: one line per finished run)."""
    parser.add_argument(
        "--verbose",
        type=int,
        nargs="?",
        const=2,
        default=0,
        choices=[0, 1, 2],
        help="Keras fit verbosity: 0 (default) prints a progress bar per sweep and one line per finished "
        "run; --verbose or --verbose 2 adds one line per epoch, --verbose 1 Keras's progress bars; any "
        "non-zero value also keeps TensorFlow's start-up logs",
    )
    return parser


def data_dir_help(datasets):
    """The help of --data-dir for a script reading `datasets`."""
    if "mnist" in datasets:
        return "local copy: a folder with the MNIST IDX .gz files, or a tensorflow-datasets data directory"
    from keras_entropy.experiments.datasets import TFDS_NAMES

    names = " / ".join(TFDS_NAMES.get(name, name) for name in datasets)
    return f"a tensorflow-datasets data directory with {names} prepared"


def add_common_arguments(
    parser,
    datasets,
    default_dataset,
    *,
    settings,
    run_name,
    writes="plots",
    fallback=None,
    report_only=True,
    mixed_precision=True,
    **helps,
):
    """Add the options every example shares to `parser` (made by `parser_for`).

    Adds --dataset (`choices=datasets`, `default=default_dataset`),
    --data-dir, --out, --quick, --seed, --mixed-precision (when
    `mixed_precision`), --download/--no-download (default None: yes,
    except with --quick), --report-only (when `report_only`) and --verbose
    (`add_verbose_argument`), then the options of `settings` (whose bounds
    `parser.parse_args` checks); appends to the epilog a paragraph saying
    where the data sets come from (`data_paragraph`). The help texts are
    derived from the arguments; `helps` replaces any of them
    (`dataset_help`, `data_dir_help`, `out_help`, `quick_help`,
    `seed_help`).

    Args:
        parser: the parser to extend.
        datasets: the accepted --dataset names.
        default_dataset: the default of --dataset (may be None).
        settings: the experiment's table of `Setting`s, by name.
        run_name: the default output folder's name, `runs/<run_name>[_quick]`.
        writes: what the script writes besides results.jsonl and summary.md.
        fallback: what a --quick run uses without the data set (as `load_data_for`'s).

    Returns:
        the parser.
    """
    single = DISPLAY_NAMES.get(datasets[0], datasets[0]) if len(datasets) == 1 else None
    quick = quick_values(settings)
    parser.add_argument(
        "--dataset",
        choices=list(datasets),
        default=default_dataset,
        help=helps.pop("dataset_help", f"only {single} (default)" if single else None),
    )
    parser.add_argument("--data-dir", help=helps.pop("data_dir_help", data_dir_help(datasets)))
    parser.add_argument(
        "--out",
        help=helps.pop(
            "out_help", f"folder for results.jsonl, {writes} and summary.md (default: runs/{run_name}[_quick])"
        ),
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=helps.pop("quick_help", f"tiny CPU run: {quick}; " + _QUICK_FALLBACK[fallback].format(name=single)),
    )
    parser.add_argument("--seed", type=int, default=0, help=helps.pop("seed_help", "seed of the first replication"))
    if helps:
        raise TypeError(f"add_common_arguments: unknown help {sorted(helps)}")
    if mixed_precision:
        parser.add_argument("--mixed-precision", action="store_true", help="train with mixed_float16")
    parser.add_argument(
        "--download",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"let tensorflow-datasets download {single or 'the data set'} (default: yes, except with --quick)",
    )
    parser.epilog = "\n\n".join(filter(None, [(parser.epilog or "").rstrip(), data_paragraph(datasets)])) + "\n"
    if report_only:
        parser.add_argument(
            "--report-only", action="store_true", help="rewrite plots and summary from the results file"
        )
    add_verbose_argument(parser)
    return parser.add_settings(settings)


__all__ = [
    "FORM_HELP",
    "FORM_NAMES",
    "InputError",
    "LAMS_HELP",
    "OneLineErrorParser",
    "Setting",
    "TRAIN_SIZE_HELP",
    "VAL_SIZE_HELP",
    "add_common_arguments",
    "add_verbose_argument",
    "at_most_one",
    "data_dir_help",
    "flag",
    "form_setting",
    "forms_setting",
    "lams_setting",
    "parser_for",
    "penalty_form",
    "quick_values",
    "replications_setting",
    "settings_for",
    "size_setting",
    "sweep_settings",
]
