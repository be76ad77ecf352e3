"""Setup shared by the example scripts in examples/.

Every example parses a similar command line (--quick, --out, --data-dir,
--dataset, --mixed-precision, --download/--no-download, --seed, ...),
writes to an output folder, prints a one-line runtime banner and loads its
data set, saying (and returning a note) when a --quick run substituted the
embedded MNIST subset or tensorflow-datasets mock data for missing data.
This module holds that common part; each script keeps its own settings,
experiment and report.

    parser = script_setup.parser_for(__doc__)
    script_setup.add_common_arguments(parser, ["mnist"], "mnist", ...)
    args = parser.parse_args(argv)
    out, results_path = script_setup.output_dir(args, "my_experiment")
    info = script_setup.announce_runtime(args)
    data, source, note = script_setup.load_data_for(args, embedded_note="...")

Importing this module imports keras_entropy, and so Keras: a script sets
`TF_CPP_MIN_LOG_LEVEL` (and `KERAS_BACKEND`, if it chooses one) before.
"""

import argparse
import os

#: The note of a --quick run whose MNIST came from the embedded subset; `{target}` names what it is not.
EMBEDDED_MNIST_NOTE = (
    "No local copy or prepared tensorflow-datasets copy of MNIST was found: this --quick run "
    "used the embedded MNIST subset shipped with keras_entropy (6000 train / 1000 test images), "
    "so its numbers are a smoke test, not the {target}."
)


def parser_for(doc):
    """An `argparse.ArgumentParser` for a script with docstring `doc`.

    The description is the docstring's first paragraph, the epilog the
    rest, shown as written (`RawDescriptionHelpFormatter`).
    """
    return argparse.ArgumentParser(
        description=doc.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=doc.split("\n\n", 1)[1],
    )


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
    verbose=1,
):
    """Add the options every example shares to an `argparse.ArgumentParser`.

    Adds --dataset (`choices=datasets`, `default=default_dataset`),
    --data-dir, --out, --quick, --replications (only when
    `replications_help` is given), --seed, --mixed-precision (when
    `mixed_precision`),
    --download/--no-download (default None: yes, except with --quick),
    --report-only (when `report_only`) and --verbose (Keras fit verbosity,
    default `verbose`). Script-specific options are added by the script
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
        verbose: the default of --verbose.

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
    parser.add_argument("--verbose", type=int, choices=[0, 1, 2], default=verbose, help="Keras fit verbosity")
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
    `out/results.jsonl`.
    """
    out = args.out or os.path.join("runs", name + ("_quick" if args.quick else ""))
    if create:
        os.makedirs(out, exist_ok=True)
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

    Otherwise the `DatasetNotFoundError` propagates: the full mode never
    substitutes.

    Args:
        args: the parsed arguments (quick, data_dir, download, dataset).
        name: the data set; default `args.dataset`.
        embedded_note: the note when the data came from the embedded MNIST
            subset (and no substitution note applies).
        fallback: None, "mnist" or "mock" (see above).
        fallback_note: the note of a substitution.
        mock_examples: mock examples when `max_examples` is not given.
        print_error: print `NOTE: <why the data set was not found>` before
            substituting.
        announce: print `data: <description>` (" [tensorflow-datasets mock
            data]" appended for mock data) and `NOTE: <note>`.
        **load_kwargs: `image_size`, `max_examples`, for `datasets.load`.

    Returns:
        `(data, source, note)`: the `Dataset`, its source ("mock" for mock
        data, else `data.source`) and the note (None when nothing was
        substituted).
    """
    from keras_entropy import datasets

    name = name or args.dataset
    note = None
    source = None
    try:
        data = datasets.load(name, args.data_dir, download=download_enabled(args),
                             allow_embedded=args.quick and fallback != "mock", **load_kwargs)
    except datasets.DatasetNotFoundError as error:
        if fallback is None or not (args.quick and args.data_dir is None):
            raise  # the full mode never substitutes another data set
        if print_error:
            print(f"NOTE: {error}", flush=True)
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
