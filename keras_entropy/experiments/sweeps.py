"""Grids of training runs that survive interrupts, recorded in a JSON Lines file.

A sweep is a list of configurations (dicts of JSON values: lambda, latent
width, depth, filters, placement, data set, ...) times a number of
replications, each with its own seed. Every finished run is appended at once
to a results file, one complete JSON record per line, written with
`flush` + `fsync`. A run's key is a hash of its configuration and seed, so
running the same sweep again skips every run already in the file; a run
killed at any moment (even while its line is being written) is simply run
again, and no run is ever recorded twice.

The record format (`RECORD_FORMAT`), one JSON object per line::

    {"format": 1, "key": "...", "config": {...}, "seed": 3, "replication": 1,
     "history": {"loss": [...], "val_loss": [...], "val_mse": [...], ...},
     "epochs_trained": 23,
     "monitor": "val_loss",            # the monitor that defines the run's stop
     "stopping": {"val_loss": {"epoch": 12, "best_epoch": 5, "stopped": true},
                  "val_mse": {"epoch": 23, "best_epoch": 16, "stopped": true}},
     "metrics": {"val_mse": 0.0102, ...},   # at the monitor's stopping epoch
     "wall_time_s": 41.3, "backend": "tensorflow", "devices": ["CPU:0"],
     "finished_at": "2025-01-01T12:00:00+00:00"}

`ResultsFile.append` accepts any record with at least `key`, `config` and
`seed` (see `make_record`), so other producers (e.g. a KerasTuner export)
can write into the same file.

The record's training fields (`history`, `epochs_trained`, `monitor`,
`stopping`, `stopping_epoch`, `metrics`) come from
`keras_entropy.experiments.runs.run_record` (or `runs.fit_run`), which
also says how stopping epochs are found.
"""

import datetime
import hashlib
import itertools
import json
import math
import numbers
import os
import sys
import time

from keras_entropy import validation
from keras_entropy.experiments.runs import runtime_info

#: Version of the record format written by `make_record`.
RECORD_FORMAT = 1


# --------------------------------------------------------------------------
# Keys and records


def canonical(value):
    """`value` with tuples as lists and numpy scalars as Python numbers (JSON-ready).

    Non-finite floats become None; anything else that is not JSON data
    raises TypeError.
    """
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else None
    if hasattr(value, "tolist"):
        return canonical(value.tolist())
    raise TypeError(f"Value {value!r} of type {type(value).__name__} is not JSON-serializable.")


def run_key(config, seed):
    """The key of a run: a hash of its configuration and seed.

    Key order in `config` does not matter; `1` and `1.0` differ.
    """
    if not isinstance(config, dict):
        raise TypeError(f"Argument `config` must be a dict. Received: config={config!r}")
    seed = validation.validate_int(seed, "seed")
    text = json.dumps({"config": canonical(config), "seed": seed}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def make_record(config, seed, *, history=None, metrics=None, wall_time_s=None, **extra):
    """A results record: `key`, `config`, `seed`, ... ready for `ResultsFile.append`.

    Non-finite floats become `null` (strict JSON). `extra` entries (e.g.
    `stopping`, `epochs_trained`) are stored as given.
    """
    record = {
        "format": RECORD_FORMAT,
        "key": run_key(config, seed),
        "config": config,
        "seed": int(seed),
        "history": history or {},
        "metrics": metrics or {},
        "wall_time_s": wall_time_s,
        "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    record.update(extra)
    return canonical(record)


class ResultsFile:
    """A JSON Lines results file: one complete record per line.

    Reading ignores lines that are not complete JSON objects with a `key`
    (the torn last line of a killed writer) and keeps the first record of a
    key. Appending first cuts such a torn tail off, then writes the new line
    with `flush` and `os.fsync`, so a record is either wholly on disk or not
    at all.

    Args:
        path: the file (created with its folder on first append).
    """

    def __init__(self, path):
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"Argument `path` must be a path. Received: path={path!r}")
        self.path = os.fspath(path)

    def records(self):
        """The complete records, in file order, one per key."""
        if not os.path.exists(self.path):
            return []
        seen, records = set(), []
        with open(self.path, "rb") as f:
            for line in f:
                if not line.endswith(b"\n"):
                    break  # torn last line
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(record, dict) or "key" not in record or record["key"] in seen:
                    continue
                seen.add(record["key"])
                records.append(record)
        return records

    def keys(self):
        return {record["key"] for record in self.records()}

    def __len__(self):
        return len(self.records())

    def append(self, record):
        """Append one record (a dict with `key`, `config` and `seed`)."""
        if not isinstance(record, dict) or not {"key", "config", "seed"} <= set(record):
            raise ValueError(
                "Argument `record` must be a dict with `key`, `config` and `seed` "
                f"(see make_record). Received: record={record!r}"
            )
        line = json.dumps(canonical(record), sort_keys=True, allow_nan=False) + "\n"
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        with open(self.path, "a+b") as f:
            self._cut_torn_tail(f)
            f.write(line.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())

    @staticmethod
    def _cut_torn_tail(f):
        f.seek(0, os.SEEK_END)
        size = f.tell()
        if size == 0:
            return
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return
        # A killed writer left an incomplete line: drop it.
        f.seek(0)
        data = f.read()
        f.truncate(data.rfind(b"\n") + 1)
        f.seek(0, os.SEEK_END)


def load_records(results, keys=None):
    """The records of `results` (a path, a `ResultsFile` or a list of records).

    `keys`: keep only the runs with these keys (None: all).
    """
    if isinstance(results, (str, os.PathLike)):
        results = ResultsFile(results)
    records = results.records() if isinstance(results, ResultsFile) else list(results)
    if keys is None:
        return records
    keys = set(keys)
    return [r for r in records if r["key"] in keys]


# --------------------------------------------------------------------------
# Grids


def expand_grid(axes, fixed=None):
    """All combinations of the values in `axes`, as a list of config dicts.

    Example: `expand_grid({"lam": [0, 0.1], "latent_dim": [20, 60]},
    fixed={"dataset": "mnist"})` gives four configs; the last axis varies
    fastest.

    Args:
        axes: dict of name -> non-empty list of values.
        fixed: dict of name -> value shared by every config.
    """
    if not isinstance(axes, dict) or not axes:
        raise ValueError(f"Argument `axes` must be a non-empty dict of lists. Received: axes={axes!r}")
    for name, values in axes.items():
        if not isinstance(values, (list, tuple)) or not values:
            raise ValueError(f"Axis {name!r} of argument `axes` must be a non-empty list. Received: {values!r}")
    fixed = dict(fixed or {})
    overlap = set(fixed) & set(axes)
    if overlap:
        raise ValueError(f"Names {sorted(overlap)} are both in `axes` and in `fixed`.")
    names = list(axes)
    return [{**fixed, **dict(zip(names, combination))} for combination in itertools.product(*(axes[n] for n in names))]


def plan_runs(configs, replications, seed=0):
    """The runs of a sweep: each config once per replication.

    Runs are ordered replication by replication (every config of replication
    0, then of replication 1, ...), so a sweep stopped early has the same
    number of replications in every cell, give or take one.

    Replication `r` (0-based) uses seed `seed + r`: seeds are distinct across
    replications and shared across configs (paired comparisons).

    Returns:
        A list of dicts `{"config", "seed", "replication", "key"}`.
    """
    if not isinstance(configs, (list, tuple)) or not configs:
        raise ValueError(f"Argument `configs` must be a non-empty list. Received: configs={configs!r}")
    replications = validation.validate_positive_int(replications, "replications")
    seed = validation.validate_int(seed, "seed")
    runs = []
    for r in range(replications):
        for config in configs:
            runs.append({"config": config, "seed": seed + r, "replication": r, "key": run_key(config, seed + r)})
    keys = [run["key"] for run in runs]
    if len(set(keys)) != len(keys):
        raise ValueError("Argument `configs` contains duplicate configurations.")
    return runs


class Progress:
    """Progress of a sweep: one bar over its runs, and one line per finished run.

    On a terminal (and with tqdm installed, as in the `examples` extra) a
    tqdm bar shows runs done / total and the ETA, and each finished run's
    line is printed above it. Otherwise (a pipe, a log file, no tqdm) there
    is no bar: each finished run's line carries `[done/total]` and the ETA
    itself, so a log holds exactly one line per run. Either way each line
    starts with `[done/total]`.

        progress = Progress(total=6, initial=2)   # 2 runs already done
        progress.start("lam=0.1 seed=0")
        ...train...
        progress.finish("lam=0.1 seed=0: val_mse=0.0123, 7 epochs")
        progress.close()

    Args:
        total: number of runs (None: unknown, e.g. a Hyperband search).
        initial: runs already done (e.g. found in the results file).
        log: function for the lines (default `print`, flushed; None:
            silent, and no bar).
        bar: "auto" (a tqdm bar when stderr is a terminal and tqdm is
            installed), True (whenever tqdm is installed) or False.
        desc: the bar's label.
    """

    def __init__(self, total=None, initial=0, *, log=print, bar="auto", desc="runs"):
        self.total = total
        self.done = initial
        self._initial = initial
        self._log = log
        self._started = time.perf_counter()
        self._bar = None
        if log is not None and bar and (bar is True or _stderr_is_terminal()):
            try:
                from tqdm.auto import tqdm
            except ImportError:  # tqdm is in the `examples` extra; plain lines without it
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(total=total, initial=initial, desc=desc, unit="run", dynamic_ncols=True)

    def start(self, label):
        """Say which run is training now (on the bar only)."""
        if self._bar is not None:
            self._bar.set_postfix_str(label, refresh=True)

    def eta_seconds(self):
        """Seconds left at the mean time per run finished in this session (None: unknown)."""
        ran = self.done - self._initial
        if self.total is None or ran <= 0:
            return None
        return (time.perf_counter() - self._started) / ran * max(self.total - self.done, 0)

    def finish(self, text):
        """Count one finished run and print its line."""
        self.done += 1
        if self._log is None:
            return
        count = f"[{self.done}/{self.total}]" if self.total is not None else f"[{self.done}]"
        if self._bar is not None:
            self._bar.update(1)
            self._bar.write(f"{count} {text}")  # above the bar, which shows the ETA
            sys.stdout.flush()
            return
        eta = self.eta_seconds()
        tail = "" if eta is None or self.done >= (self.total or 0) else f" (ETA {format_duration(eta)})"
        _emit(self._log, f"{count} {text}{tail}")

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _stderr_is_terminal():
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _emit(log, text):
    if log is print:
        print(text, flush=True)
    else:
        log(text)


def format_duration(seconds):
    """`1:02:03`, `2:03` or `4.5 s`."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_value(value):
    """A metric for a one-line summary: 4 significant digits for floats."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    return f"{float(value):.4g}"


def varying_keys(configs):
    """The config keys with different values in the configs that have them (in first-seen order).

    A key only some configs have (e.g. a network's settings next to a
    k-means baseline) counts only if those configs disagree on it.
    """
    keys = []
    for config in configs:
        for key in config:
            if key not in keys:
                keys.append(key)
    return [k for k in keys if len({json.dumps(canonical(c[k]), sort_keys=True) for c in configs if k in c}) > 1]


def describe_run(config, seed, keys):
    """`lam=0.1 placement=first seed=3`: the given config keys and the seed."""
    parts = [f"{k}={format_value(config[k])}" for k in keys if k in config]
    return " ".join(parts + [f"seed={seed}"])


def run_summary(record, show=None):
    """One line's tail for a finished run: chosen metrics, epochs and time.

    Args:
        record: a results record (`make_record`).
        show: metric names to show (None: up to three `val_*` metrics, or
            the first three numeric metrics when there are none).
    """
    metrics = record.get("metrics") or {}
    if show is None:
        numeric = [
            k
            for k, v in metrics.items()
            if isinstance(v, numbers.Real) and not isinstance(v, bool) and not k.startswith("best_")
        ]
        show = [k for k in numeric if k.startswith("val_")][:3] or numeric[:3]
    parts = [f"{k}={format_value(metrics[k])}" for k in show if k in metrics]
    if record.get("epochs_trained") is not None:
        parts.append(f"{record['epochs_trained']} epochs")
    if record.get("wall_time_s") is not None:
        parts.append(format_duration(record["wall_time_s"]))
    return ", ".join(parts)


def run_sweep(train_fn, configs, replications, results, *, seed=0, progress=True, log=print, show=None):
    """Run every (config, replication) not yet in `results`, appending each at once.

    Prints (through `log`) one line about the plan, `sweep: N runs, K
    already in PATH, M to run`, then one line per finished run:
    `[i/N] <the config values that vary> seed=S: <metrics>, E epochs, T s
    (ETA ...)`, with a progress bar over the runs on a terminal (see
    `Progress`). Training itself should be silent (Keras `verbose=0`).

    Args:
        train_fn: `train_fn(config, seed) -> dict` with any of `history`,
            `metrics` and extra record fields (e.g. `stopping`,
            `epochs_trained`); it should seed its own randomness from `seed`.
        configs: list of config dicts (see `expand_grid`).
        replications: runs per config, with seeds `seed .. seed + replications - 1`.
        results: a `ResultsFile` or a path.
        seed: the first seed.
        progress: show a progress bar over runs when stderr is a terminal
            and tqdm is installed ("auto" is the same; False: never).
        log: function for one-line messages (None: silent, no bar).
        show: metric names in each run's line (see `run_summary`).

    Returns:
        dict with `total`, `skipped` (already in the file) and `ran`.
    """
    if not callable(train_fn):
        raise TypeError(f"Argument `train_fn` must be callable. Received: train_fn={train_fn!r}")
    if not isinstance(results, ResultsFile):
        results = ResultsFile(results)
    runs = plan_runs(configs, replications, seed)
    done = results.keys()
    todo = [run for run in runs if run["key"] not in done]
    skipped = len(runs) - len(todo)
    if log is not None:
        _emit(log, f"sweep: {len(runs)} runs, {skipped} already in {results.path}, {len(todo)} to run")
    keys = varying_keys(configs)
    info = runtime_info()
    with Progress(len(runs), skipped, log=log, bar="auto" if progress else False) as bar:
        for run in todo:
            label = describe_run(run["config"], run["seed"], keys)
            bar.start(label)
            start = time.perf_counter()
            outcome = dict(train_fn(run["config"], run["seed"]) or {})
            wall = time.perf_counter() - start
            record = make_record(
                run["config"],
                run["seed"],
                history=outcome.pop("history", None),
                metrics=outcome.pop("metrics", None),
                wall_time_s=round(wall, 3),
                replication=run["replication"],
                **{**info, **outcome},
            )
            results.append(record)
            bar.finish(f"{label}: {run_summary(record, show)}")
    return {"total": len(runs), "skipped": skipped, "ran": len(todo)}
