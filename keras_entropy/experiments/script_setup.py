"""The run sequence shared by the example scripts in examples/.

Each example is a recipe: it parses its command line with argparse alone
(before it imports Keras or keras_entropy, so that --help and bad arguments
answer at once), then `prepare` (check --data-dir, quiet the logs), `start`
(runtime banner, data from `keras_entropy.experiments.loading`, the --out
folder: a `Run`), builds and trains its model in `Run.sweep`, writes
summary.md (`summary_header`, `write_summary`) and prints where everything
went (`Run.report`).

    def experiment(args):
        import keras_entropy as ke
        from keras_entropy.experiments import script_setup

        script_setup.prepare(args, ["mnist"])          # checks --data-dir
        run = script_setup.start(args, "my_experiment", embedded_note="...")
        records = run.sweep(train, configs, args.seeds, show=("val_mse",))
        lines = script_setup.summary_header(title, run.note, script_setup.command_line(__file__, argv)) + [...]
        run.report(script_setup.write_summary(run.out, lines), table)

    def main(argv=None):
        args = parse_args(argv)                         # argparse only: no Keras yet
        from keras_entropy.experiments import script_setup

        return script_setup.run(experiment, args)

    if __name__ == "__main__":
        sys.exit(main())

Bad input (an argument, a missing data set) ends a script with one line on
stderr, `<script>: error: <what is wrong, naming the flag and value>`, and
exit status 2 (`run`); `experiment(args)` called as a library raises instead
(`InputError`, or `keras_entropy.experiments.datasets.DatasetNotFoundError`).
"""

import os
import sys

from keras_entropy import console
from keras_entropy.experiments.loading import check_data_dir, load_data_for


def prepare(args, names=None):
    """After parsing: check --data-dir and quiet the logs.

    1. `check_data_dir(args, names)`: a --data-dir that is not a folder,
       or that has no copy of the data sets `names`, is refused at once
       (`DatasetNotFoundError`, one line naming --data-dir and its value).
    2. `keras_entropy.console.quiet_logs` (unless --verbose): TensorFlow's
       and absl's Python loggers below errors.
    """
    check_data_dir(args, names)
    console.quiet_logs(getattr(args, "verbose", 0))


class InputError(ValueError):
    """Bad command-line input, said in one line naming the flag and value.

    `run` prints it as `<script>: error: <message>` on stderr and exits with
    status 2.
    """


def run(experiment, args=None):
    """Run `experiment(args)` as a command: bad input is one line on stderr and exit status 2.

    An example's `main(argv)` parses its arguments (argparse alone, before
    Keras starts), imports this module and returns `run(experiment, args)`.
    Catches `InputError` and `keras_entropy.experiments.datasets.DatasetNotFoundError`
    (whose messages `load_data_for` words for the command line) and
    KeyboardInterrupt (exit status 130; finished runs are in the results
    file and re-running the same command resumes). Returns the exit status.
    """
    prog = os.path.basename(sys.argv[0]) or "script"
    try:
        return experiment(args) if args is not None else experiment()
    except KeyboardInterrupt:
        print(
            f"\n{prog}: interrupted; finished runs are saved: run the same command again to resume",
            file=sys.stderr,
            flush=True,
        )
        return 130
    except Exception as error:
        if not isinstance(error, InputError) and not _is_dataset_not_found(error):
            raise
        message = " ".join(str(error).split())
        print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
        return 2


def _is_dataset_not_found(error):
    datasets = sys.modules.get("keras_entropy.experiments.datasets")  # loaded by whatever raised it
    return datasets is not None and isinstance(error, datasets.DatasetNotFoundError)


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


def announce_runtime(args, *, dtype_policy=True, suffix=""):
    """Apply --mixed-precision and print the runtime banner; returns `runs.runtime_info()`.

    Prints `backend: ...; devices: ...; dtype policy: ...` (without the
    dtype policy when `dtype_policy` is false), followed by `suffix`.
    """
    import keras

    from keras_entropy.experiments import runs

    if getattr(args, "mixed_precision", False):
        keras.config.set_dtype_policy("mixed_float16")
    info = runs.runtime_info()
    policy = f"; dtype policy: {keras.config.dtype_policy().name}" if dtype_policy else ""
    print(f"backend: {info['backend']}; devices: {', '.join(info['devices'])}{policy}{suffix}", flush=True)
    return info


def command_line(script, argv=None):
    """The command that ran `script` (`python <relative path> <arguments>`), for summary.md.

    Without `--report-only`: a summary rewritten from the records names the command that made them.
    """
    arguments = [a for a in (sys.argv[1:] if argv is None else list(argv)) if a != "--report-only"]
    return "python " + " ".join([os.path.relpath(script)] + arguments)


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
        skipped (`keras_entropy.experiments.sweeps.run_sweep`).
        """
        from keras_entropy.experiments import sweeps

        seed = self.args.seed
        self.keys = [run["key"] for run in sweeps.plan_runs(configs, replications, seed)]
        if not skip:
            sweeps.run_sweep(train, configs, replications, self.results_path, seed=seed, show=show)
        keys = set(self.keys)
        return [r for r in sweeps.ResultsFile(self.results_path).records() if r["key"] in keys]

    def report(self, summary, table=None, writes="plots"):
        """Print where the run's files went, then `table`: a string, or summary lines whose table rows are shown.

        `wrote <results.jsonl>, <writes> and <summary>` after a blank line,
        then (when there is one) a blank line and the table.
        """
        if table is not None and not isinstance(table, str):
            table = "\n".join(line for line in table if line.startswith("|"))
        print(f"\nwrote {self.results_path}, {writes} and {summary}")
        if table:
            print(f"\n{table}")


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


def start_embedded(args, name, note=None):
    """`start` for MNIST that defaults to the embedded subset: a `Run`, whatever else is installed.

    --data-dir (a folder with the MNIST IDX files) is read when given;
    otherwise the subset shipped in the package, never tensorflow-datasets'
    copy or a download, so that the same command gives the same data on
    every machine. Prints `data: <description>`.
    """
    from keras_entropy.experiments import datasets

    info = announce_runtime(args, dtype_policy=False)
    data = datasets.load("mnist", args.data_dir) if args.data_dir else datasets.load_embedded_mnist()
    print(f"data: {data.describe()}", flush=True)
    out, results_path = output_dir(args, name)
    return Run(args, info, data, data.source, note, out, results_path)


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
    return (
        f"{len(records)} runs; backend/devices: "
        + ", ".join(devices)
        + ". Fixed settings: "
        + ", ".join(f"{k}={v}" for k, v in fixed.items())
        + "."
    )


def write_summary(out, lines):
    """Write `lines` to out/summary.md; returns its path."""
    path = os.path.join(out, "summary.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    return path


__all__ = [
    "InputError",
    "Run",
    "announce_runtime",
    "command_line",
    "output_dir",
    "prepare",
    "records_line",
    "run",
    "runtime_line",
    "start",
    "summary_header",
    "write_summary",
]
