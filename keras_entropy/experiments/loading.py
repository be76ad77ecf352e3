"""The data set a script's command line asks for: --dataset, --data-dir, --download, --quick.

`load_data_for(args)` loads it as `keras_entropy.experiments.datasets.load`
does, from --data-dir or tensorflow-datasets (downloading as --download
says), and lets only a --quick run without --data-dir substitute the
embedded MNIST subset or tensorflow-datasets mock data, saying so in a
note. Whatever cannot be found is refused with one line naming the flag and
its value and how to provide the data (`data_not_found_message`);
`check_data_dir` refuses a bad --data-dir before anything heavy starts.

This module needs only the standard library at import.
"""

import os
import textwrap

from keras_entropy import console

#: The note of a --quick run whose MNIST came from the embedded subset; `{target}` names what it is not.
EMBEDDED_MNIST_NOTE = (
    "No local copy or prepared tensorflow-datasets copy of MNIST was found: this --quick run "
    "used the embedded MNIST subset shipped with keras_entropy (6000 train / 1000 test images), "
    "so its numbers are a smoke test, not the {target}."
)


#: How each data set is named in notes and help texts.
DISPLAY_NAMES = {"mnist": "MNIST", "cifar10": "CIFAR-10", "imagenette": "Imagenette", "coco_segmentation": "COCO"}

#: The note of a --quick run that substituted data for `{name}` (the `fallback` of `load_data_for`).
FALLBACK_NOTES = {
    "mnist": "{name} was not found locally (and --quick does not download): this --quick run used the embedded "
    "MNIST subset shipped with keras_entropy instead, so its numbers are a smoke test, not the paper's experiment.",
    "mock": "{name} was not found locally (and --quick does not download): this --quick run trained on "
    "tensorflow-datasets mock data (random images and labels or masks, tfds.testing.mock_data), so its numbers "
    "are a smoke test of the pipeline, not the paper's results.",
}


def check_data_dir(args, names=None):
    """Refuse a --data-dir that cannot hold the data, before anything heavy starts.

    Checks that --data-dir (when given) is a folder and, for each data set
    in `names` (None and unknown names are skipped), that it holds the
    four MNIST IDX files (MNIST) or a tensorflow-datasets folder of that
    data set (`DIR/mnist`, `DIR/cifar10`, `DIR/imagenette/320px-v2`, ...).
    Whether that folder holds a complete prepared copy is left to loading.

    Raises:
        keras_entropy.experiments.datasets.DatasetNotFoundError: with a one-line
            message naming --data-dir and its value (`data_not_found_message`).
    """
    folder = getattr(args, "data_dir", None)
    if folder is None:
        return
    from keras_entropy.experiments import datasets

    names = [n for n in (names or []) if n in datasets.TFDS_NAMES]
    if not os.path.isdir(folder):
        raise datasets.DatasetNotFoundError(data_not_found_message(args, names[0] if names else None))
    for name in names:
        if name == "mnist" and datasets.find_mnist_idx(folder) is not None:
            continue
        if not os.path.isdir(os.path.join(folder, datasets.TFDS_NAMES[name])):
            raise datasets.DatasetNotFoundError(data_not_found_message(args, name))


def download_enabled(args):
    """--download / --no-download, or by default: download unless --quick."""
    return (not args.quick) if args.download is None else args.download


def load_data_for(
    args,
    name=None,
    *,
    embedded_note=None,
    fallback=None,
    fallback_note=None,
    mock_examples=32,
    print_error=True,
    **load_kwargs,
):
    """Load the script's data set as `keras_entropy.experiments.datasets.load` does; `(data, source, note)`.

    Loads `name` (default: --dataset) from --data-dir, downloading as
    `download_enabled(args)` says. Without a local copy only a --quick run
    without --data-dir substitutes, as `fallback` says:

    - None: nothing (but MNIST may come from the embedded subset with
      --quick, `allow_embedded`);
    - "mnist": the embedded MNIST subset;
    - "mock": tensorflow-datasets mock data (`tfds.testing.mock_data` with
      `max_examples or mock_examples` examples); no embedded subset.

    Prints `data: <description>` (" [tensorflow-datasets mock data]"
    appended for mock data) and `NOTE: <note>`. Otherwise a
    `DatasetNotFoundError` is raised, worded for the command
    line (one line naming --data-dir and its value, or --no-download, and
    how to provide the data; see `data_not_found_message`): the full mode
    never substitutes. A --data-dir that is not a folder is refused before
    anything is read.

    Args:
        args: the parsed arguments (quick, data_dir, download, dataset).
        name: the data set; default `args.dataset`.
        embedded_note: the note when the data came from the embedded MNIST
            subset (and no substitution note applies); default
            `EMBEDDED_MNIST_NOTE` ("... not the full experiment").
        fallback: None, "mnist" or "mock" (see above).
        fallback_note: the note of a substitution (default: `FALLBACK_NOTES`).
        mock_examples: mock examples when `max_examples` is not given.
        print_error: print `NOTE: <why the data set was not found>` before
            substituting (only with --verbose: `fallback_note` says it).
        **load_kwargs: `image_size`, `max_examples`, for `datasets.load`.

    Returns:
        `(data, source, note)`: the `Dataset`, its source ("mock" for mock
        data, else `data.source`) and the note (None when nothing was
        substituted).

    Raises:
        keras_entropy.experiments.datasets.DatasetNotFoundError: no source has the data
            set (and no substitution applies).
    """
    from keras_entropy.experiments import datasets

    name = name or args.dataset
    note = source = None
    check_data_dir(args, [name])
    console.quiet_logs(getattr(args, "verbose", 0))  # tensorflow-datasets' probe warnings
    try:
        data = datasets.load(
            name,
            args.data_dir,
            download=download_enabled(args),
            allow_embedded=args.quick and fallback != "mock",
            **load_kwargs,
        )
    except datasets.DatasetNotFoundError as error:
        if fallback is None or not (args.quick and args.data_dir is None):
            # the full mode never substitutes another data set
            raise datasets.DatasetNotFoundError(data_not_found_message(args, name, error)) from error
        if print_error and getattr(args, "verbose", 0):
            print(f"NOTE: {data_not_found_message(args, name, error)}", flush=True)
        data, source = _substitute(name, fallback, load_kwargs.get("max_examples") or mock_examples, load_kwargs)
        note = fallback_note or FALLBACK_NOTES[fallback].format(name=DISPLAY_NAMES.get(name, name))
    if data.is_embedded and note is None:
        note = embedded_note or EMBEDDED_MNIST_NOTE.format(target="full experiment")
    source = source or data.source
    print(f"data: {data.describe()}" + (" [tensorflow-datasets mock data]" if source == "mock" else ""), flush=True)
    if note:
        print(f"NOTE: {note}", flush=True)
    return data, source, note


def _substitute(name, fallback, mock_examples, load_kwargs):
    """`(data, source)` of a --quick run's substitute for data set `name`: mock data or the embedded MNIST subset."""
    from keras_entropy.experiments import datasets

    if fallback == "mock":
        import tensorflow_datasets as tfds

        with tfds.testing.mock_data(num_examples=mock_examples):
            return datasets.load(name, **load_kwargs), "mock"
    return datasets.load(fallback, allow_embedded=True), None


#: The four files of an MNIST copy in a --data-dir folder (gzipped or not).
MNIST_IDX_FILES = (
    "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz"
)


def how_to_provide(name):
    """How to provide data set `name` on the command line (for help texts and errors)."""
    if name is None:
        return (
            "--data-dir DIR with DIR a tensorflow-datasets data directory in which the data set is "
            f"prepared (for MNIST also: a folder holding the four IDX files {MNIST_IDX_FILES})"
        )
    tfds_name = _datasets().TFDS_NAMES.get(name, name)
    prepared = (
        f"a tensorflow-datasets data directory in which `{tfds_name}` is prepared "
        f"(`tfds build {tfds_name} --data_dir DIR` on a machine with network access, then copy DIR)"
    )
    if name == "mnist":
        return f"--data-dir DIR with DIR a folder holding the four MNIST IDX files {MNIST_IDX_FILES}, or {prepared}"
    return "--data-dir DIR with DIR " + prepared


def data_paragraph(datasets, width=79):
    """The --help paragraph saying where the data sets `datasets` come from."""
    names = " or ".join(f"`{_datasets().TFDS_NAMES.get(name, name)}`" for name in datasets)
    mnist = f" (for MNIST also: a folder holding the four IDX files {MNIST_IDX_FILES})" if "mnist" in datasets else ""
    text = (
        "Data: tensorflow-datasets' copy (prepared in ~/tensorflow_datasets or $TFDS_DATA_DIR; downloaded "
        f"there with --download, the default except with --quick), or --data-dir DIR with DIR a "
        f"tensorflow-datasets data directory in which {names} is prepared{mnist}."
    )
    return textwrap.fill(text, width, break_on_hyphens=False, break_long_words=False)


def data_not_found_message(args, name, error=None):
    """One line saying why data set `name` was not found, naming the flag and value, and what to do."""
    how = how_to_provide(name)
    needs = f"{name} needs {how}" if name else f"pass {how}"
    if args.data_dir is not None:
        if not os.path.exists(args.data_dir):
            return f"--data-dir {args.data_dir}: no such folder; {needs}"
        if not os.path.isdir(args.data_dir):
            return f"--data-dir {args.data_dir}: not a folder; {needs}"
        what = (
            "the four MNIST IDX files nor a prepared tensorflow-datasets copy of mnist"
            if name == "mnist"
            else f"a prepared tensorflow-datasets copy of {name}"
        )
        return f"--data-dir {args.data_dir}: holds neither {what}; {name} needs {how}"
    where = _datasets().tfds_default_dir()
    if not download_enabled(args):
        off = "--quick does not download" if args.quick and args.download is None else "--no-download was given"
        return (
            f"{name} is not in tensorflow-datasets' data directory {where} and {off}; "
            f"pass {how}, or --download (needs network access)"
        )
    reason = ""
    if error is not None and error.__cause__ is not None:
        cause = error.__cause__
        first = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
        reason = f" ({type(cause).__name__}: {first[:200]})"
    return f"tensorflow-datasets could not load or download {name} into {where}{reason}; pass {how}"


def _datasets():
    from keras_entropy.experiments import datasets

    return datasets


__all__ = [
    "DISPLAY_NAMES",
    "EMBEDDED_MNIST_NOTE",
    "FALLBACK_NOTES",
    "MNIST_IDX_FILES",
    "check_data_dir",
    "data_not_found_message",
    "data_paragraph",
    "download_enabled",
    "how_to_provide",
    "load_data_for",
]
