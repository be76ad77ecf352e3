"""Setup shared by the example scripts in examples/.

Every example parses a similar command line (--quick, --out, --data-dir,
--dataset, --mixed-precision, --download/--no-download, --seed, ...),
writes to an output folder, prints a one-line runtime banner and loads its
data set, saying (and returning a note) when a --quick run substituted the
embedded MNIST subset or tensorflow-datasets mock data for missing data.
This module holds that common part, so that each script's `main` is a
recipe; the experiment's settings, sweep and report live in its harness
module (`experiments`, `classification`, `segmentation`, `clustering`,
`sparse_coding`, `profile_figures`).

    parser = script_setup.parser_for(__doc__)
    script_setup.add_common_arguments(parser, ["mnist"], "mnist", ...)
    args = parser.parse_args(argv)
    script_setup.prepare(args, [args.dataset])   # checks --data-dir, starts Keras quietly
    from keras_entropy import experiments
    settings = script_setup.settings_for(args, experiments.DENSE_AUTOENCODER_PAPER, QUICK, NAMES)
    run = script_setup.start(args, "my_experiment", embedded_note="...")   # banner, data, --out
    records = run.sweep(train, configs, settings["replications"], show=("val_mse",))
    lines = script_setup.summary_header(title, run.note, script_setup.command_line(__file__, argv)) + [...]
    script_setup.write_summary(run.out, lines)
    ...
    if __name__ == "__main__":
        sys.exit(script_setup.run(main))

The steps one by one: `announce_runtime(args)` (banner),
`load_data_for(args, embedded_note=...)` (`(data, source, note)`) and
`output_dir(args, name)` (`(out, results_path)`, once the data loaded).

This module needs only the standard library at import. An example sets
`KERAS_ENTROPY_DEFER_IMPORTS=1` before importing it, so that the package's
`__init__` defers Keras: --help and bad arguments answer at once, without
TensorFlow's start-up logs. Its functions import the rest lazily, and
`prepare` imports Keras and the package's components once arguments are
parsed.

Bad input (an argument, a missing data set) ends a script with one line on
stderr, `<script>: error: <what is wrong, naming the flag and value>`, and
exit status 2 (`run`); `main(argv)` called as a library raises instead
(`InputError`, or `keras_entropy.datasets.DatasetNotFoundError`).
"""

import argparse
import contextlib
import importlib
import importlib.util
import logging
import os
import re
import sys
import tempfile

#: The note of a --quick run whose MNIST came from the embedded subset; `{target}` names what it is not.
EMBEDDED_MNIST_NOTE = (
    "No local copy or prepared tensorflow-datasets copy of MNIST was found: this --quick run "
    "used the embedded MNIST subset shipped with keras_entropy (6000 train / 1000 test images), "
    "so its numbers are a smoke test, not the {target}."
)


class InputError(ValueError):
    """Bad command-line input, said in one line naming the flag and value.

    `run` prints it as `<script>: error: <message>` on stderr and exits
    with status 2.
    """


class OneLineErrorParser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors are one line on stderr (exit status 2), without the usage."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def parser_for(doc):
    """An `argparse.ArgumentParser` for a script with docstring `doc`.

    The description is the docstring's first paragraph, the epilog the
    rest, shown as written (`RawDescriptionHelpFormatter`). Errors are one
    line on stderr, exit status 2 (`OneLineErrorParser`).
    """
    return OneLineErrorParser(
        description=doc.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=doc.split("\n\n", 1)[1],
    )


def add_verbose_argument(parser):
    """Add --verbose: Keras fit output and start-up logs (default 0: one line per finished run)."""
    parser.add_argument(
        "--verbose", type=int, nargs="?", const=2, default=0, choices=[0, 1, 2],
        help="Keras fit verbosity: 0 (default) prints a progress bar per sweep and one line per finished "
        "run; --verbose or --verbose 2 adds one line per epoch, --verbose 1 Keras's progress bars; any "
        "non-zero value also keeps TensorFlow's start-up logs")
    return parser


def prepare(args, names=None):
    """After parsing, before the script imports Keras: check --data-dir, quiet the logs, start Keras.

    1. `check_data_dir(args, names)`: a --data-dir that is not a folder,
       or that has no copy of the data sets `names`, is refused at once
       (`DatasetNotFoundError`, one line naming --data-dir and its value).
    2. `quiet_logs(args)`.
    3. Imports Keras (and TensorFlow, which tensorflow-datasets needs
       anyway), without --verbose with TensorFlow's C++ start-up lines ("All
       log messages before absl::InitializeLog() ...", "oneDNN custom
       operations are on", "Could not find cuda drivers") dropped from
       stderr (`TF_CPP_MIN_LOG_LEVEL` does not silence them), then the
       package's components, which registers their serializable classes.
    """
    check_data_dir(args, names)
    quiet_logs(args)
    with contextlib.nullcontext() if getattr(args, "verbose", 0) else drop_startup_logs():
        import keras  # noqa: F401

        if "tensorflow" not in sys.modules and importlib.util.find_spec("tensorflow") is not None:
            import tensorflow  # noqa: F401
    # The components register their serializable classes on import (the
    # package's __init__ deferred them for a script; see its DEFER_IMPORTS_ENV).
    for name in ("layers", "losses", "regularizers", "segmentation"):
        importlib.import_module(f"keras_entropy.{name}")


#: TensorFlow's C++ log lines (absl format) and the notice printed before absl is initialised.
_STARTUP_LOG = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IWEF]\d{4} [\d:.]+\s+\d+ \S+:\d+\] "
    r"|To enable the following instructions: )"
)


@contextlib.contextmanager
def drop_startup_logs():
    """Drop TensorFlow's C++ start-up log lines written to file descriptor 2 in this block.

    Everything else written to stderr meanwhile (Python warnings, a
    traceback) is written back when the block ends.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (AttributeError, OSError, ValueError):  # no real stderr (e.g. some embedded interpreters)
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            try:
                sys.stderr.flush()
            except (AttributeError, OSError, ValueError):  # pragma: no cover
                pass
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", "replace")
            kept = [line for line in text.splitlines(keepends=True) if not _STARTUP_LOG.match(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


def check_data_dir(args, names=None):
    """Refuse a --data-dir that cannot hold the data, before anything heavy starts.

    Checks that --data-dir (when given) is a folder and, for each data set
    in `names` (None and unknown names are skipped), that it holds the
    four MNIST IDX files (MNIST) or a tensorflow-datasets folder of that
    data set (`DIR/mnist`, `DIR/cifar10`, `DIR/imagenette/320px-v2`, ...).
    Whether that folder holds a complete prepared copy is left to loading.

    Raises:
        keras_entropy.datasets.DatasetNotFoundError: with a one-line
            message naming --data-dir and its value (`data_not_found_message`).
    """
    folder = getattr(args, "data_dir", None)
    if folder is None:
        return
    from keras_entropy import datasets

    names = [n for n in (names or []) if n in datasets.TFDS_NAMES]
    if not os.path.isdir(folder):
        raise datasets.DatasetNotFoundError(data_not_found_message(args, names[0] if names else None))
    for name in names:
        if name == "mnist" and datasets.find_mnist_idx(folder) is not None:
            continue
        if not os.path.isdir(os.path.join(folder, datasets.TFDS_NAMES[name])):
            raise datasets.DatasetNotFoundError(data_not_found_message(args, name))


def quiet_logs(args):
    """Silence start-up noise unless --verbose; call it after parsing, before importing Keras.

    Without --verbose: sets `TF_CPP_MIN_LOG_LEVEL=3` (unless already set)
    and drops TensorFlow's "... triggered tf.function retracing" warnings
    (a sweep builds a new model per run, by design). Always: drops
    tensorflow-datasets' "Variant folder ... has no dataset_info.json"
    warnings, which it logs while merely probing a data directory for a
    data set that is not there.
    """
    if not getattr(args, "verbose", 0):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        tf_logger = logging.getLogger("tensorflow")
        if not any(isinstance(f, _DropRetracingWarnings) for f in tf_logger.filters):
            tf_logger.addFilter(_DropRetracingWarnings())
    try:
        import absl.logging  # noqa: F401  (so that the "absl" logger is absl's own)
    except ImportError:  # pragma: no cover - absl comes with TensorFlow and tensorflow-datasets
        return
    logger = logging.getLogger("absl")
    if not any(isinstance(f, _DropProbeWarnings) for f in logger.filters):
        logger.addFilter(_DropProbeWarnings())


class _DropRetracingWarnings(logging.Filter):
    """Drops TensorFlow's warnings that a tf.function was retraced."""

    def filter(self, record):
        try:
            return "triggered tf.function retracing" not in record.getMessage()
        except Exception:  # pragma: no cover
            return True


class _DropProbeWarnings(logging.Filter):
    """Drops tensorflow-datasets' warnings about variant folders without dataset_info.json."""

    def filter(self, record):
        try:
            message = record.getMessage()
        except Exception:  # pragma: no cover - a malformed record: let logging report it
            return True
        return not ("Variant folder" in message and "dataset_info.json" in message)


def run(main, argv=None):
    """Run a script's `main(argv)` as a command: bad input is one line on stderr and exit status 2.

    Catches `InputError` and `keras_entropy.datasets.DatasetNotFoundError`
    (whose messages `load_data_for` words for the command line) and
    KeyboardInterrupt (exit status 130; finished runs are in the results
    file and re-running the same command resumes). Returns the exit status.
    """
    prog = os.path.basename(sys.argv[0]) or "script"
    try:
        return main(argv) if argv is not None else main()
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted; finished runs are saved: run the same command again to resume",
              file=sys.stderr, flush=True)
        return 130
    except Exception as error:
        if not isinstance(error, InputError) and not _is_dataset_not_found(error):
            raise
        message = " ".join(str(error).split())
        print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
        return 2


def _is_dataset_not_found(error):
    datasets = sys.modules.get("keras_entropy.datasets")  # loaded by whatever raised it
    return datasets is not None and isinstance(error, datasets.DatasetNotFoundError)


def add_common_arguments(
    parser,
    datasets,
    default_dataset,
    *,
    dataset_help=None,
    data_dir_help=None,
    out_help=None,
    quick_help=None,
    replications_help=None,
    seed_help="seed of the first replication",
    download_what="the data set",
    report_only=True,
    mixed_precision=True,
):
    """Add the options every example shares to an `argparse.ArgumentParser`.

    Adds --dataset (`choices=datasets`, `default=default_dataset`),
    --data-dir, --out, --quick, --replications (only when
    `replications_help` is given), --seed, --mixed-precision (when
    `mixed_precision`),
    --download/--no-download (default None: yes, except with --quick),
    --report-only (when `report_only`) and --verbose
    (`add_verbose_argument`). Script-specific options are added by the script
    itself, before or after this call.

    Args:
        parser: the parser to extend.
        datasets: the accepted --dataset names.
        default_dataset: the default of --dataset (may be None).
        dataset_help, data_dir_help, out_help, quick_help,
            replications_help, seed_help: help texts of those options.
        download_what: what --download lets tensorflow-datasets download,
            as named in its help ("MNIST", "COCO", ...).
        report_only: whether the script supports --report-only.
        mixed_precision: whether the script supports --mixed-precision.

    Returns:
        the parser.
    """
    parser.add_argument("--dataset", choices=list(datasets), default=default_dataset, help=dataset_help)
    parser.add_argument("--data-dir", help=data_dir_help)
    parser.add_argument("--out", help=out_help)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    if replications_help is not None:
        parser.add_argument("--replications", type=int, help=replications_help)
    parser.add_argument("--seed", type=int, default=0, help=seed_help)
    if mixed_precision:
        parser.add_argument("--mixed-precision", action="store_true", help="train with mixed_float16")
    parser.add_argument("--download", action=argparse.BooleanOptionalAction, default=None,
                        help=f"let tensorflow-datasets download {download_what} (default: yes, except with --quick)")
    if report_only:
        parser.add_argument("--report-only", action="store_true",
                            help="rewrite plots and summary from the results file")
    add_verbose_argument(parser)
    return parser


def require_positive(parser, args, names):
    """`parser.error` unless every given option (a number or a list of numbers) is >= 1.

    Options left at None are skipped; `names` are attribute names
    ("max_epochs" checks --max-epochs).
    """
    for name in names:
        value = getattr(args, name)
        for v in value if isinstance(value, list) else [value]:
            if v is not None and v < 1:
                parser.error(f"--{name.replace('_', '-')} must be >= 1, got {v}")


def output_dir(args, name, create=True):
    """`(out, results_path)`: --out, or runs/NAME (runs/NAME_quick with --quick).

    The folder is created unless `create` is false; `results_path` is
    `out/results.jsonl`. Call it once the inputs are validated and the data
    loaded, so that bad input leaves nothing behind.

    Raises:
        InputError: --out names an existing file, or cannot be created.
    """
    out = args.out or os.path.join("runs", name + ("_quick" if args.quick else ""))
    if os.path.exists(out) and not os.path.isdir(out):
        raise InputError(f"--out {out}: is a file, not a folder")
    if create:
        try:
            os.makedirs(out, exist_ok=True)
        except OSError as error:
            raise InputError(f"--out {out}: cannot create the folder ({error.strerror or error})") from error
    return out, os.path.join(out, "results.jsonl")


def download_enabled(args):
    """--download / --no-download, or by default: download unless --quick."""
    return (not args.quick) if args.download is None else args.download


def announce_runtime(args, *, dtype_policy=True, suffix=""):
    """Apply --mixed-precision and print the runtime banner; returns `sweeps.runtime_info()`.

    Prints `backend: ...; devices: ...; dtype policy: ...` (without the
    dtype policy when `dtype_policy` is false), followed by `suffix`.
    """
    import keras

    from keras_entropy import sweeps

    if getattr(args, "mixed_precision", False):
        keras.config.set_dtype_policy("mixed_float16")
    info = sweeps.runtime_info()
    policy = f"; dtype policy: {keras.config.dtype_policy().name}" if dtype_policy else ""
    print(f"backend: {info['backend']}; devices: {', '.join(info['devices'])}{policy}{suffix}", flush=True)
    return info


def load_data_for(
    args,
    name=None,
    *,
    embedded_note=None,
    fallback=None,
    fallback_note=None,
    mock_examples=32,
    print_error=True,
    announce=True,
    **load_kwargs,
):
    """Load the script's data set as `keras_entropy.datasets.load` does; `(data, source, note)`.

    Loads `name` (default: --dataset) from --data-dir, downloading as
    `download_enabled(args)` says. Without a local copy only a --quick run
    without --data-dir substitutes, as `fallback` says:

    - None: nothing (but MNIST may come from the embedded subset with
      --quick, `allow_embedded`);
    - "mnist": the embedded MNIST subset;
    - "mock": tensorflow-datasets mock data (`tfds.testing.mock_data` with
      `max_examples or mock_examples` examples); no embedded subset.

    Otherwise a `DatasetNotFoundError` is raised, worded for the command
    line (one line naming --data-dir and its value, or --no-download, and
    how to provide the data; see `data_not_found_message`): the full mode
    never substitutes. A --data-dir that is not a folder is refused before
    anything is read.

    Args:
        args: the parsed arguments (quick, data_dir, download, dataset).
        name: the data set; default `args.dataset`.
        embedded_note: the note when the data came from the embedded MNIST
            subset (and no substitution note applies).
        fallback: None, "mnist" or "mock" (see above).
        fallback_note: the note of a substitution.
        mock_examples: mock examples when `max_examples` is not given.
        print_error: print `NOTE: <why the data set was not found>` before
            substituting (only with --verbose: `fallback_note` says it).
        announce: print `data: <description>` (" [tensorflow-datasets mock
            data]" appended for mock data) and `NOTE: <note>`.
        **load_kwargs: `image_size`, `max_examples`, for `datasets.load`.

    Returns:
        `(data, source, note)`: the `Dataset`, its source ("mock" for mock
        data, else `data.source`) and the note (None when nothing was
        substituted).

    Raises:
        keras_entropy.datasets.DatasetNotFoundError: no source has the data
            set (and no substitution applies).
    """
    from keras_entropy import datasets

    name = name or args.dataset
    note = None
    source = None
    check_data_dir(args, [name])
    quiet_logs(args)  # tensorflow-datasets' probe warnings
    try:
        data = datasets.load(name, args.data_dir, download=download_enabled(args),
                             allow_embedded=args.quick and fallback != "mock", **load_kwargs)
    except datasets.DatasetNotFoundError as error:
        if fallback is None or not (args.quick and args.data_dir is None):
            # the full mode never substitutes another data set
            raise datasets.DatasetNotFoundError(data_not_found_message(args, name, error)) from error
        if print_error and getattr(args, "verbose", 0):
            print(f"NOTE: {data_not_found_message(args, name, error)}", flush=True)
        if fallback == "mock":
            import tensorflow_datasets as tfds

            with tfds.testing.mock_data(num_examples=load_kwargs.get("max_examples") or mock_examples):
                data = datasets.load(name, **load_kwargs)
            source = "mock"
        else:
            data = datasets.load(fallback, allow_embedded=True)
        note = fallback_note
    if data.is_embedded and note is None:
        note = embedded_note
    source = source or data.source
    if announce:
        print(f"data: {data.describe()}" + (" [tensorflow-datasets mock data]" if source == "mock" else ""),
              flush=True)
        if note:
            print(f"NOTE: {note}", flush=True)
    return data, source, note


def how_to_provide(name):
    """How to provide data set `name` on the command line (for help texts and errors)."""
    if name is None:
        return ("--data-dir DIR with DIR a tensorflow-datasets data directory in which the data set is "
                "prepared (for MNIST also: a folder holding the four IDX files train-images-idx3-ubyte.gz, "
                "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz)")
    tfds_name = _datasets().TFDS_NAMES.get(name, name)
    prepared = (f"a tensorflow-datasets data directory in which `{tfds_name}` is prepared "
                f"(`tfds build {tfds_name} --data_dir DIR` on a machine with network access, then copy DIR)")
    if name == "mnist":
        return ("--data-dir DIR with DIR a folder holding the four MNIST IDX files train-images-idx3-ubyte.gz, "
                "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz, or "
                + prepared)
    return "--data-dir DIR with DIR " + prepared


def data_not_found_message(args, name, error=None):
    """One line saying why data set `name` was not found, naming the flag and value, and what to do."""
    how = how_to_provide(name)
    needs = f"{name} needs {how}" if name else f"pass {how}"
    if args.data_dir is not None:
        if not os.path.exists(args.data_dir):
            return f"--data-dir {args.data_dir}: no such folder; {needs}"
        if not os.path.isdir(args.data_dir):
            return f"--data-dir {args.data_dir}: not a folder; {needs}"
        what = "the four MNIST IDX files nor a prepared tensorflow-datasets copy of mnist" if name == "mnist" \
            else f"a prepared tensorflow-datasets copy of {name}"
        return f"--data-dir {args.data_dir}: holds neither {what}; {name} needs {how}"
    where = _datasets().tfds_default_dir()
    if not download_enabled(args):
        off = "--quick does not download" if args.quick and args.download is None else "--no-download was given"
        return (f"{name} is not in tensorflow-datasets' data directory {where} and {off}; "
                f"pass {how}, or --download (needs network access)")
    reason = ""
    if error is not None and error.__cause__ is not None:
        cause = error.__cause__
        first = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
        reason = f" ({type(cause).__name__}: {first[:200]})"
    return (f"tensorflow-datasets could not load or download {name} into {where}{reason}; "
            f"pass {how}")


def _datasets():
    from keras_entropy import datasets

    return datasets


# ---------------------------------------------------------------------------
# The recipe every example follows: settings, start (runtime banner, data,
# --out), sweep, summary.md.


def command_line(script, argv=None):
    """The command that ran `script` (`python <relative path> <arguments>`), for summary.md."""
    return "python " + " ".join([os.path.relpath(script)] + (sys.argv[1:] if argv is None else list(argv)))


def settings_for(args, paper, quick, names, **defaults):
    """The run's settings: each of `names` from its flag when given, else `quick` (--quick) or `paper`.

    `defaults` add entries that `paper` lacks (e.g. `train_size=None`).
    """
    base = {**paper, **defaults}
    if args.quick:
        base.update(quick)
    return {n: getattr(args, n) if getattr(args, n, None) is not None else base[n] for n in names}


class Run:
    """A started example: `args`, `info` (runtime), `data`, `source`, `note`, `out`, `results_path`.

    Made by `start`; `sweep` runs the sweep and returns its records.
    """

    def __init__(self, args, info, data, source, note, out, results_path):
        self.args, self.info, self.data, self.source, self.note = args, info, data, source, note
        self.out, self.results_path = out, results_path
        self.keys = []

    def path(self, name):
        """`name` inside the output folder."""
        return os.path.join(self.out, name)

    def sweep(self, train, configs, replications, show, skip=False):
        """Run `train(config, seed)` over `configs` (unless `skip`); the records of these runs.

        Sets `self.keys`, the keys of the planned runs; finished runs are
        skipped (`keras_entropy.sweeps.run_sweep`).
        """
        from keras_entropy import sweeps

        seed = self.args.seed
        self.keys = [run["key"] for run in sweeps.plan_runs(configs, replications, seed)]
        if not skip:
            sweeps.run_sweep(train, configs, replications, self.results_path, seed=seed, show=show)
        keys = set(self.keys)
        return [r for r in sweeps.ResultsFile(self.results_path).records() if r["key"] in keys]


def start(args, name, *, dtype_policy=True, **load_kwargs):
    """Announce the runtime, load the data, make --out: a `Run`.

    `announce_runtime(args)`, `load_data_for(args, **load_kwargs)`, then
    `output_dir(args, name)` (once the data loaded, so that bad input
    leaves nothing behind).
    """
    info = announce_runtime(args, dtype_policy=dtype_policy)
    data, source, note = load_data_for(args, **load_kwargs)
    out, results_path = output_dir(args, name)
    return Run(args, info, data, source, note, out, results_path)


def summary_header(title, notes, command, *, inline=False):
    """The first lines of an example's summary.md: title, notes, command.

    `notes`: a note, or a list of them (None and repeats skipped). Block
    style (default): `> **Note:** ...` and the command indented below
    `Command:`; inline style: `**Note:** ...` and ``Command: `...` ``. No
    command line when `command` is None.
    """
    lines = [f"# {title}", ""]
    for note in dict.fromkeys(n for n in (notes if isinstance(notes, (list, tuple)) else [notes]) if n):
        lines += [f"**Note:** {note}" if inline else f"> **Note:** {note}", ""]
    if command:
        lines += [f"Command: `{command}`", ""] if inline else ["Command:", "", f"    {command}", ""]
    return lines


def runtime_line(info, data=None):
    """`Backend B on D1, D2; data: <description>.` (without the data part when `data` is None)."""
    where = f"Backend {info['backend']} on {', '.join(info['devices'])}"
    return f"{where}; data: {data.describe()}." if data is not None else f"{where}."


def records_line(records, fixed):
    """`N runs; backend/devices: ... . Fixed settings: k=v, ... .` for summary.md."""
    devices = sorted({f"{r.get('backend')} on {', '.join(r.get('devices') or ['?'])}" for r in records})
    return (f"{len(records)} runs; backend/devices: " + ", ".join(devices)
            + ". Fixed settings: " + ", ".join(f"{k}={v}" for k, v in fixed.items()) + ".")


def write_summary(out, lines):
    """Write `lines` to out/summary.md; returns its path."""
    path = os.path.join(out, "summary.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    return path
