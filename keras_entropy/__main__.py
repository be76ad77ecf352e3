"""Command line interface: `python -m keras_entropy COMMAND ...` (or `keras-entropy`).

Each command is a subparser registered in `_build_parser`; add a new one with
its own `_add_<name>_parser(subparsers)` function that sets `func` to a
`_run_<name>(args)` returning the exit status.
"""

import argparse
import os
import sys

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
lost). A table with one row per layer is printed; --plot draws one box per layer
of the per-filter values (outliers shown), --compare puts a second model's
profile beside it on the same axes (e.g. trained vs freshly initialised).
"""

_PROFILE_EPILOG = """\
examples:
  python -m keras_entropy profile trained.keras --plot profile.png
  python -m keras_entropy profile trained.keras --compare init.keras \\
      --plot trained_vs_init.png --csv trained.csv
  python -m keras_entropy profile model.keras --json model_profile.json

The CSV has one row per layer (index, name, kind, kernel shape, N_out, number of
per-filter values, their mean/median/min/max, and the total). The JSON keeps
every per-filter value and can be read back with
keras_entropy.EntropyProfile.from_json (e.g. as the reference of the
"empirical" placement strategy).
"""


def _add_profile_parser(subparsers):
    parser = subparsers.add_parser(
        "profile",
        help="entropy change of every Dense/Conv2D layer of a saved model",
        description=_PROFILE_DESCRIPTION,
        epilog=_PROFILE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL.keras", help="a model saved with model.save()")
    parser.add_argument("--plot", metavar="OUT.png",
                        help="write the box-plot figure (.png, .pdf or .svg; needs matplotlib)")
    parser.add_argument("--compare", metavar="OTHER.keras",
                        help="a second model to profile and plot beside the first")
    parser.add_argument("--csv", metavar="OUT.csv",
                        help="write the per-layer table of MODEL as CSV "
                             "(with --compare, OTHER's table goes to OUT_compare.csv)")
    parser.add_argument("--json", metavar="OUT.json",
                        help="write MODEL's full profile (every per-filter value) as JSON")
    parser.add_argument("--labels", nargs=2, metavar=("LABEL", "OTHER_LABEL"),
                        help="panel titles (default: the file names)")
    parser.add_argument("--kinds", nargs="+", choices=("conv", "dense"),
                        default=["conv", "dense"], help="layer kinds to include (default: both)")
    parser.add_argument("--names", action="store_true",
                        help="label the plot's x axis with layer names instead of numbers")
    parser.add_argument("--quiet", action="store_true", help="do not print the table")
    parser.set_defaults(func=_run_profile)
    return parser


def _format_table(profile):
    header = f"{'#':>3}  {'layer':<28} {'kind':<5} {'kernel':<18} {'N_out':>7} " \
             f"{'mean log|c11|':>14} {'total dH':>14}"
    lines = [header, "-" * len(header)]
    for row in profile.to_records("layer"):
        n_out = "" if row["output_positions"] is None else str(row["output_positions"])
        lines.append(
            f"{row['index'] + 1:>3}  {row['name'][:28]:<28} {row['kind']:<5} "
            f"{row['kernel_shape']:<18} {n_out:>7} {row['mean']:>14.4g} {row['total']:>14.6g}"
        )
    return "\n".join(lines)


def _load(path):
    import keras

    import keras_entropy  # noqa: F401 - registers the package's serializable classes

    if not os.path.exists(path):
        raise FileNotFoundError(f"No such model file: {path}")
    return keras.saving.load_model(path, compile=False)


def _run_profile(args):
    from keras_entropy.profile import entropy_profile, plot_profiles

    labels = args.labels or [os.path.basename(args.model)]
    if args.compare and not args.labels:
        labels.append(os.path.basename(args.compare))
    profiles = [entropy_profile(_load(args.model), kinds=args.kinds, label=labels[0])]
    if args.compare:
        profiles.append(entropy_profile(_load(args.compare), kinds=args.kinds, label=labels[1]))
    if not args.quiet:
        for profile in profiles:
            print(f"{profile.label}: {len(profile)} layers")
            print(_format_table(profile))
            print()
    if args.csv:
        profiles[0].to_csv(args.csv)
        if len(profiles) > 1:
            root, ext = os.path.splitext(args.csv)
            profiles[1].to_csv(f"{root}_compare{ext or '.csv'}")
    if args.json:
        profiles[0].to_json(args.json)
    if args.plot:
        plot_profiles(profiles, path=args.plot, tick_labels="name" if args.names else "index")
    for flag, path in (("csv", args.csv), ("json", args.json), ("plot", args.plot)):
        if path and not args.quiet:
            print(f"wrote {path}")
    return 0


def _build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m keras_entropy",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_profile_parser(subparsers)
    return parser


def main(argv=None):
    """Entry point of `python -m keras_entropy` and of the `keras-entropy` script.

    Returns the exit status (0 on success, 2 on a usage error, 1 when a file
    cannot be read).
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except (FileNotFoundError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
