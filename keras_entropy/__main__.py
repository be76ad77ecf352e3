"""Command line interface: `python -m keras_entropy COMMAND ...` (or `keras-entropy`).

Each command is a subparser registered in `_build_parser`; add a new one with
its own `_add_<name>_parser(subparsers)` function that sets `func` to a
`_run_<name>(args)` returning the exit status.

Like any Keras add-on, `python -m keras_entropy` imports the package, and so
Keras, first: its `__init__` registers every serializable class, so that
the saved models given on the command line load. `--help` prints the help
alone on stdout. While the models load, TensorFlow's log lines are dropped
from stderr unless `--verbose` is given (`keras_entropy.console.quiet_stderr`).

Exit status: 0 on success; 2 on bad input (an unknown option or value, a
missing or unreadable model file, an output path that cannot be written),
with one `error:` line on stderr naming the option and the value and no file
written; 1 when writing the outputs fails half-way (the files written so far
are removed).
"""

import argparse
import contextlib
import os
import sys
import tempfile
import zipfile

_DESCRIPTION = """\
keras-entropy: measure and guide how much entropy the layers of a Keras model keep.

Commands:
  profile   compute each Dense/Conv2D layer's entropy change from its weights,
            print a table, and optionally write a box-plot figure and a CSV.

Run `python -m keras_entropy COMMAND --help` for the options of a command.
"""

_PROFILE_DESCRIPTION = """\
Profile a saved Keras model (.keras file): for every Conv2D and Dense layer,
in forward order, compute from the weights alone

  conv:   log|c11| for every single-channel filter (c11 = kernel[0, 0, i, o]),
          and the layer total N_out * sum(log|c11|), N_out = output height x width
  dense:  log|det W_sq|, W_sq the square upper-left block of the kernel

(the entropy change H(output) - H(input) of Meni et al.; higher = less entropy
lost). --form volume or normalized computes instead the whole kernel's
log-volume sum_j log sigma_j (MATH.md sections 8-9), or that less its scale
part (section 10): one value per layer, per output position for a conv layer
on a frequency grid of its output size capped at 16 (the penalties' default).
Without --form, the form of the model's own entropy penalties when they all
share one (a model trained with form="normalized" is profiled so), else the
paper's.
A table with one row per profiled layer is printed (index = 0-based
position among the profiled layers, as in the CSV); --plot draws one box per
layer of the per-filter values (outliers shown; dense layers on their own
scale, right axis), --compare puts a second model's profile beside it (e.g.
trained vs freshly initialised).
"""

_PROFILE_EPILOG = """\
examples:
  python -m keras_entropy profile trained.keras --plot profile.png
  python -m keras_entropy profile trained.keras --compare init.keras \\
      --plot trained_vs_init.png --csv trained.csv
  python -m keras_entropy profile model.keras --json model_profile.json
  python -m keras_entropy profile model.keras --form normalized --plot normalized.png

The CSV has one row per layer (index, name, kind, kernel shape, N_out, number of
per-filter values, their mean/median/min/max, and the total). The JSON keeps
every per-filter value and can be read back with
keras_entropy.EntropyProfile.from_json (e.g. as the reference of the
"empirical" placement strategy). Nothing is written unless every input could
be read and every output rendered.
"""

_KIND_NAMES = {"conv": "Conv2D", "dense": "Dense"}

#: The forms of `--form`: keras_entropy.validation.FORMS (not imported: no Keras before parsing).
_FORMS = ("paper", "volume", "normalized")


class _InputError(Exception):
    """Bad input to the CLI: reported as one `error:` line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr (exit status 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _prog():
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return "keras-entropy" if name.startswith("keras-entropy") else "python -m keras_entropy"


def _add_profile_parser(subparsers):
    parser = subparsers.add_parser(
        "profile",
        help="entropy change of every Dense/Conv2D layer of a saved model",
        description=_PROFILE_DESCRIPTION,
        epilog=_PROFILE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL.keras", help="a model saved with model.save()")
    parser.add_argument(
        "--plot", metavar="OUT.png", help="write the box-plot figure (.png, .pdf or .svg; needs matplotlib)"
    )
    parser.add_argument("--compare", metavar="OTHER.keras", help="a second model to profile and plot beside the first")
    parser.add_argument(
        "--csv",
        metavar="OUT.csv",
        help="write the per-layer table of MODEL as CSV (with --compare, OTHER's table goes to OUT_compare.csv)",
    )
    parser.add_argument(
        "--json", metavar="OUT.json", help="write MODEL's full profile (every per-filter value) as JSON"
    )
    parser.add_argument(
        "--labels", nargs=2, metavar=("LABEL", "OTHER_LABEL"), help="panel titles (default: the file names)"
    )
    parser.add_argument(
        "--kinds",
        nargs="+",
        choices=("conv", "dense"),
        default=["conv", "dense"],
        help="layer kinds to include (default: both)",
    )
    parser.add_argument(
        "--form",
        choices=_FORMS,
        default=None,
        help="the entropy change to compute: the paper's, the kernel's log-volume, or the normalized "
        "log-volume (default: the form of the model's entropy penalties when they share one, else paper)",
    )
    parser.add_argument(
        "--names", action="store_true", help="label the plot's x axis with layer names instead of indices"
    )
    parser.add_argument("--quiet", action="store_true", help="do not print the table")
    parser.add_argument(
        "--verbose", action="store_true", help="keep TensorFlow's start-up log lines and show full tracebacks"
    )
    parser.set_defaults(func=_run_profile)
    return parser


# ---------------------------------------------------------------------------
# Checking the input before anything is loaded or written.


def _check_model_path(flag, path):
    if not os.path.exists(path):
        raise _InputError(f"{flag}: no such file: {path!r}")
    if os.path.isdir(path):
        raise _InputError(f"{flag}: {path!r} is a directory, not a .keras file")
    if not os.access(path, os.R_OK):
        raise _InputError(f"{flag}: cannot read {path!r} (permission denied)")
    if path.endswith(".keras") and not zipfile.is_zipfile(path):
        raise _InputError(f"{flag}: cannot read {path!r} as a Keras model: it is not a .keras (zip) archive")


def _figure_formats():
    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        return None
    return set(FigureCanvasBase.get_supported_filetypes())


def _check_output_path(flag, path, formats=None):
    if not path or not path.strip():
        raise _InputError(f"{flag}: empty file name {path!r}")
    if os.path.isdir(path) or path.endswith(("/", os.sep)):
        raise _InputError(f"{flag}: {path!r} is a directory; give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise _InputError(f"{flag}: folder {os.path.dirname(path)!r} of {path!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise _InputError(f"{flag}: cannot write to folder {folder!r} of {path!r}")
    if formats is not None:
        ext = os.path.splitext(path)[1].lstrip(".").lower()
        if ext not in formats:
            shown = ", ".join(f".{f}" for f in sorted(formats))
            raise _InputError(
                f"{flag}: unsupported figure format {('.' + ext) if ext else '(no extension)'} "
                f"in {path!r}; use one of {shown}"
            )


def _compare_csv_path(csv_path):
    root, ext = os.path.splitext(csv_path)
    return f"{root}_compare{ext or '.csv'}"


def _outputs(args):
    """`[(flag, path)]` of the files the profile command will write."""
    outputs = []
    if args.csv:
        outputs.append(("--csv", args.csv))
        if args.compare:
            outputs.append(("--csv", _compare_csv_path(args.csv)))
    if args.json:
        outputs.append(("--json", args.json))
    if args.plot:
        outputs.append(("--plot", args.plot))
    return outputs


def _check_profile_args(args):
    _check_model_path("MODEL.keras", args.model)
    if args.compare is not None:
        _check_model_path("--compare", args.compare)
    formats = None
    if args.plot is not None:
        formats = _figure_formats()
        if formats is None:
            raise _InputError(f"--plot: writing {args.plot!r} needs matplotlib: pip install 'keras-entropy[plot]'")
    for flag in ("--csv", "--json", "--plot"):
        value = getattr(args, flag[2:])
        if value is not None:
            _check_output_path(flag, value, formats if flag == "--plot" else None)
    inputs = {os.path.realpath(p): flag for flag, p in (("MODEL.keras", args.model), ("--compare", args.compare)) if p}
    seen = {}
    for flag, path in _outputs(args):
        real = os.path.realpath(path)
        if real in inputs:
            raise _InputError(f"{flag}: {path!r} would overwrite the input {inputs[real]} file")
        if real in seen:
            raise _InputError(f"{flag}: {path!r} is also the output of {seen[real]}")
        seen[real] = flag


# ---------------------------------------------------------------------------
# Loading.


def _load(flag, path, verbose=False):
    """The model saved at `path`, or `_InputError` naming `flag` and `path`."""
    import keras  # imported, with every class of the package registered, by keras_entropy's __init__

    _check_model_path(flag, path)
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as exc:  # noqa: BLE001 - any failure means "not a readable model"
        if verbose:
            raise
        raise _InputError(
            f"{flag}: cannot read {path!r} as a Keras model ({type(exc).__name__}{_first_sentences(exc)})"
        ) from exc
    if not isinstance(model, keras.layers.Layer):
        raise _InputError(f"{flag}: {path!r} holds a {type(model).__name__}, not a Keras model")
    return model


def _first_sentences(exc, limit=200):
    """`: <the first sentences of the error>`, whole sentences only, at most `limit` characters (else the first).

    >>> _first_sentences(ValueError("Not a file. Keras 3 only supports `.keras` files. More."), 40)
    ': Not a file.'
    """
    text = " ".join(str(exc).split())
    if not text:
        return ""
    sentences = [part + ("." if not part.endswith(".") else "") for part in text.split(". ")]
    shown = sentences[0]
    for sentence in sentences[1:]:
        if len(shown) + 1 + len(sentence) > limit:
            break
        shown += " " + sentence
    return ": " + shown


def _penalty_forms(model):
    """The `form`s of the entropy penalties on `model`'s layers (nested models included), sorted.

    Kernel regularizers (`DenseEntropy`, `ConvEntropy`, as `kernel_regularizer` or set by
    `place_penalties`) and the penalty of `EntropyDense` / `EntropyConv2D` (`entropy_regularizer`).
    """
    from keras_entropy.profile import sublayers

    forms, seen = set(), set()

    def visit(layer):
        for sub in sublayers(layer):
            if id(sub) in seen:
                continue
            seen.add(id(sub))
            for name in ("kernel_regularizer", "entropy_regularizer"):
                form = getattr(getattr(sub, name, None), "form", None)
                if isinstance(form, str):
                    forms.add(form)
            visit(sub)

    visit(model)
    return sorted(forms)


def _resolve_form(args, models):
    """`--form`, else the one form of the models' penalties, else "paper"; and a line saying which."""
    if args.form is not None:
        return args.form, None
    forms = sorted({form for model in models for form in _penalty_forms(model)})
    if len(forms) == 1:
        return forms[0], f"form: {forms[0]} (the form of the model's entropy penalties; --form to change it)"
    if forms:
        return "paper", f"form: paper (the model's penalties use {', '.join(forms)}; --form to choose one)"
    return "paper", None


def _count_layers(model):
    """Layers of `model`, nested models expanded, input layers not counted."""
    import keras

    from keras_entropy.profile import KINDS, sublayers

    kinds = tuple(KINDS.values())
    seen = set()

    def count(layer):
        total = 0
        for sub in sublayers(layer):
            if id(sub) in seen or isinstance(sub, keras.layers.InputLayer):
                continue
            seen.add(id(sub))
            if not isinstance(sub, kinds) and sublayers(sub):
                total += count(sub)
            else:
                total += 1
        return total

    return count(model)


# ---------------------------------------------------------------------------
# Output.


def _format_number(value, spec):
    import math

    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    return format(value, spec)


def _column_titles(form):
    """The titles of the form's four value columns (filters or grid, conv, dense, total)."""
    from keras_entropy.profile import QUANTITIES

    conv, dense = QUANTITIES[form]["conv"], QUANTITIES[form]["dense"]
    if form == "paper":
        return "filters", f"mean {conv}", dense, "total dH"
    return "grid", conv, dense, f"total {dense}"


def _format_table(profile):
    """One row per profiled layer; conv and dense quantities in their own columns."""
    records = profile.to_records("layer")
    name_width = min(40, max([5] + [len(r["name"]) for r in records]))
    kernel_width = max([6] + [len(r["kernel_shape"]) for r in records])
    counts, conv_title, dense_title, total_title = _column_titles(profile.form)
    header = (
        f"{'index':>5}  {'layer':<{name_width}}  {'kind':<5}  {'kernel':<{kernel_width}}  "
        f"{'N_out':>7}  {counts:>7}  {conv_title:>13}  {dense_title:>13}  {total_title:>13}"
    )
    lines = [header, "-" * len(header)]
    for row in records:
        conv = row["kind"] == "conv"
        n_out = "n/a" if row["output_positions"] is None else str(row["output_positions"])
        count = (row["n_values"] if profile.form == "paper" else row["grid"]) if conv else ""
        lines.append(
            f"{row['index']:>5}  {row['name'][:name_width]:<{name_width}}  {row['kind']:<5}  "
            f"{row['kernel_shape']:<{kernel_width}}  {n_out:>7}  "
            f"{str(count):>7}  "
            f"{_format_number(row['mean'] if conv else None, '.4g'):>13}  "
            f"{_format_number(None if conv else row['total'], '.6g'):>13}  "
            f"{_format_number(row['total'], '.6g'):>13}"
        )
    return "\n".join(lines)


_INDEX_LEGEND = "index: 0-based position among the profiled layers (the CSV's index column).\n"

_TABLE_LEGEND = (
    _INDEX_LEGEND
    + """\
mean log|c11|: conv layers, mean over the single-channel filters; log|det W_sq|: dense layers.
total dH (nats): N_out * sum(log|c11|) for a conv layer (n/a when N_out is not fixed), \
log|det W_sq| for a dense layer."""
)


_FORM_LEGENDS = {
    "volume": "the log-volume of the whole kernel, sum_j log sigma_j (MATH.md sections 8-9)",
    "normalized": "the log-volume less its scale part, <= 0 (MATH.md section 10)",
}


def _table_legend(form):
    if form == "paper":
        return _TABLE_LEGEND
    _, conv, dense, total = _column_titles(form)
    return _INDEX_LEGEND + (
        f"form {form}: {_FORM_LEGENDS[form]}.\n"
        f"{conv}: conv layers, per output position on the frequency grid (h, w); "
        f"{dense}: dense layers.\n"
        f"{total} (nats): N_out * {conv} for a conv layer (n/a when N_out is not fixed), "
        f"{dense} for a dense layer."
    )


def _summary_line(profile, n_layers, kinds):
    counts = [f"{sum(e.kind == k for e in profile)} {_KIND_NAMES[k]}" for k in kinds]
    noun = "layer" if len(profile) == 1 else "layers"
    return (
        f"{profile.label}: {len(profile)} profiled {noun} ({', '.join(counts)}) "
        f"of {n_layers} layers in the model; form: {profile.form}"
    )


def _render(profiles, args):
    """`[(flag, path, bytes)]` for every output file, rendered in memory."""
    import io

    rendered = []
    if args.csv:
        rendered.append(("--csv", args.csv, profiles[0].to_csv().encode("utf-8")))
        if len(profiles) > 1:
            rendered.append(("--csv", _compare_csv_path(args.csv), profiles[1].to_csv().encode("utf-8")))
    if args.json:
        rendered.append(("--json", args.json, profiles[0].to_json().encode("utf-8")))
    if args.plot:
        from keras_entropy.profile import plot_profiles

        fig = plot_profiles(profiles, tick_labels="name" if args.names else "index")
        buffer = io.BytesIO()
        fmt = os.path.splitext(args.plot)[1].lstrip(".").lower()
        fig.savefig(buffer, format=fmt, dpi=150)
        rendered.append(("--plot", args.plot, buffer.getvalue()))
    return rendered


def _write_all(rendered):
    """Write every file, or none: each goes to a temporary file first, then all
    are moved into place; on a failure the temporary files are removed."""
    staged, current = [], None
    try:
        for flag, path, data in rendered:
            current = (flag, path)
            folder = os.path.dirname(os.path.abspath(path))
            fd, tmp = tempfile.mkstemp(prefix=".keras-entropy-", suffix=".tmp", dir=folder)
            staged.append(tmp)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        for (flag, path, _), tmp in zip(rendered, staged):
            current = (flag, path)
            os.replace(tmp, path)
    except OSError as exc:
        for tmp in staged:
            with contextlib.suppress(OSError):
                os.remove(tmp)
        flag, path = current
        raise OSError(f"{flag}: cannot write {path!r}: {exc.strerror or exc}") from exc


def _run_profile(args):
    _check_profile_args(args)
    labels = list(args.labels) if args.labels else [os.path.basename(args.model)]
    if args.compare and not args.labels:
        labels.append(os.path.basename(args.compare))
    inputs = [("MODEL.keras", args.model)] + ([("--compare", args.compare)] if args.compare else [])
    from keras_entropy.console import quiet_stderr

    # TensorFlow's start-up lines are dropped; a failure (but bad input) shows what was captured.
    with quiet_stderr(not args.verbose, keep=None, replay_on_error=True, quiet_errors=(_InputError,)):
        models = [_load(flag, path, args.verbose) for flag, path in inputs]

        from keras_entropy.profile import entropy_profile

        args.form, form_note = _resolve_form(args, models)
        profiles = [entropy_profile(m, kinds=args.kinds, label=lab, form=args.form) for m, lab in zip(models, labels)]
        rendered = _render(profiles, args)
        counts = [_count_layers(m) for m in models]
    if not args.quiet:
        if form_note:
            print(form_note)
        for count, profile in zip(counts, profiles):
            print(_summary_line(profile, count, args.kinds))
            print(_format_table(profile))
            print()
        print(_table_legend(args.form))
    try:
        _write_all(rendered)
    except OSError as exc:
        print(f"{args.prog}: error: {exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        for _, path, _ in rendered:
            print(f"wrote {path}")
    return 0


def _build_parser():
    parser = _Parser(
        prog=_prog(),
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_profile_parser(subparsers)
    return parser


def main(argv=None):
    """Entry point of `python -m keras_entropy` and of the `keras-entropy` script.

    Returns the exit status: 0 on success; 2 on bad input (usage error,
    missing, unreadable or corrupt model file, unwritable output path), after
    one `error:` line on stderr naming the option and the value; 1 when
    writing the outputs fails.
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        print(f"{parser.prog}: error: no COMMAND given; choose from: profile (see --help)", file=sys.stderr)
        return 2
    args.prog = f"{parser.prog} {args.command}"
    try:
        return args.func(args)
    except _InputError as exc:
        print(f"{args.prog}: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - one line, unless --verbose asks for the traceback
        if getattr(args, "verbose", False):
            raise
        print(f"{args.prog}: error: {type(exc).__name__}: {exc} (run with --verbose for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
