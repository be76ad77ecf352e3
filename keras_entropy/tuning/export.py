"""Export of KerasTuner trials to the results format of `keras_entropy.experiments.sweeps`.

`trial_records` turns the completed trials of a tuner, an oracle or a
project directory into sweep records (with the per-epoch histories that
`EntropyHyperModel.fit` wrote), `export_trials` appends them to a results
file, so that `keras_entropy.experiments.analysis` and `keras_entropy.experiments.stats` work on
tuner output.
"""

import json
import os

from keras_entropy import validation
from keras_entropy.experiments import runs, sweeps
from keras_entropy.experiments.paper import NO_PLACEMENT
from keras_entropy.tuning._keras_tuner_compat import Trial, TrialStatus
from keras_entropy.tuning.hypermodel import SEED_HP, TRIAL_RECORD_FILE
from keras_entropy.tuning.spaces import KINDS, hp_names


def _load_trials(source):
    """`(trials, project_dir, objective)` of a tuner, an oracle or a project directory."""
    if isinstance(source, (str, os.PathLike)):
        project_dir = os.fspath(source)
        if not os.path.isdir(project_dir):
            raise ValueError(f"Argument `source` is not a directory. Received: source={source!r}")
        trials = []
        for name in sorted(os.listdir(project_dir)):
            path = os.path.join(project_dir, name, "trial.json")
            if name.startswith("trial_") and os.path.isfile(path):
                trials.append(Trial.load(path))
        return trials, project_dir, None
    oracle = getattr(source, "oracle", source)
    project_dir = getattr(source, "project_dir", None)
    if project_dir is None and hasattr(oracle, "_project_dir"):
        project_dir = oracle._project_dir
    trials = getattr(oracle, "trials", None)
    if isinstance(trials, dict):
        return list(trials.values()), project_dir, getattr(oracle, "objective", None)
    if project_dir is not None:  # a worker's OracleClient: read the trial files
        trials, project_dir, _ = _load_trials(project_dir)
        return trials, project_dir, getattr(oracle, "objective", None)
    raise TypeError(
        "Argument `source` must be a KerasTuner tuner, an oracle or a project directory. "
        f"Received: source={source!r} of type {type(source).__name__}"
    )


def _objective_modes(objective_):
    """dict metric -> "min" / "max" of the search's objective(s) (other monitors: `runs.monitor_mode`)."""
    if objective_ is None:
        return {}
    return dict(getattr(objective_, "name_to_direction", None) or {objective_.name: objective_.direction})


def trial_config(trial, rename=None, fixed=None, drop=()):
    """The sweep config of a trial: its active hyperparameters, normalized.

    - `seed` and KerasTuner's `tuner/trial_id` are left out (the seed is the
      record's `seed`); Hyperband's `tuner/epochs`, `tuner/initial_epoch`,
      `tuner/bracket` and `tuner/round` are kept;
    - a kind whose penalty is off gets `<kind>_lam = 0.0` (the `<kind>_entropy`
      switch of a log-uniform space is dropped) and, if its placement is
      searched, `<kind>_placement = "none"`;
    - `drop` entries are removed, then `rename` (old -> new name) applied,
      then `fixed` entries added.
    """
    hps = trial.hyperparameters
    values = {}
    for hp in hps.space:
        if hp.name in hps.values and hps.is_active(hp):
            values[hp.name] = hps.values[hp.name]
    for name, value in hps.values.items():  # Hyperband's bookkeeping (no hp in the space)
        if name.startswith("tuner/") and name != "tuner/trial_id":
            values[name] = value
    space_names = {hp.name for hp in hps.space}
    for kind in KINDS:
        names = hp_names(kind)
        switch = values.pop(names["switch"], None)
        off = switch is False or (names["switch"] in space_names and names["lam"] not in values)
        if off or values.get(names["lam"]) == 0:
            values[names["lam"]] = 0.0
            if names["placement"] in space_names:
                values[names["placement"]] = NO_PLACEMENT
    values.pop(SEED_HP, None)
    values.pop("tuner/trial_id", None)
    for name in drop:
        values.pop(name, None)
    for old, new in (rename or {}).items():
        if old in values:
            values[new] = values.pop(old)
    overlap = set(fixed or {}) & set(values)
    if overlap:
        raise ValueError(f"Argument `fixed` names tuned entries {sorted(overlap)}.")
    return {**values, **(fixed or {})}


def trial_records(
    source,
    *,
    rename=None,
    fixed=None,
    drop=(),
    monitors=None,
    patience=None,
    min_delta=0.0,
    default_seed=0,
):
    """The completed trials of a search as results records (see `keras_entropy.experiments.sweeps`).

    Each record has the fields of a sweep's record (`config`, `seed`,
    `replication`, `history`, `epochs_trained`, `monitor`, `stopping`,
    `stopping_epoch`, `metrics`, `wall_time_s`, `backend`, `devices`) and a
    `tuner` field (`trial_id`, `score`, `objective`, `best_step`,
    `hyperparameters`).

    Stopping epochs follow `keras_entropy.experiments.runs.run_record`: for
    each monitor `m`, Keras's `EarlyStopping(m, patience, min_delta)` rule
    replayed on the trial's per-epoch history, in the objective's direction
    (other monitors: `runs.monitor_mode`); a trial that trained fewer epochs
    than its rule needed is censored: `stopped: False` at its last epoch.
    Without `patience`, every monitor stops (censored) at the last epoch. Histories
    come from the files `EntropyHyperModel.fit` writes into the trial
    directories; without them (another hypermodel, or workers with a
    separate directory) a record has an empty history, no stopping epochs,
    and `metrics` holds the trial's best-epoch metrics as KerasTuner
    recorded them.

    Args:
        source: a tuner, an oracle or a KerasTuner project directory.
        rename: shapes the config; see `trial_config`.
        fixed: shapes the config; see `trial_config`.
        drop: shapes the config; see `trial_config`.
        monitors: the early-stopping monitors to record, first = the run's
            own (default: the tuner's objective).
        patience: the stopping rule's patience (None: no early stopping).
        min_delta: the stopping rule's minimum improvement.
        default_seed: the seed of trials without a `"seed"` hyperparameter.

    Returns:
        A list of records, in trial order.
    """
    trials, project_dir, objective_ = _load_trials(source)
    if monitors is None:
        if objective_ is None:
            raise ValueError(
                "Argument `monitors` is needed when the source has no objective "
                f"(a project directory). Received: monitors={monitors!r}"
            )
        monitors = list(getattr(objective_, "name_to_direction", None) or [objective_.name])
    monitors = validation.validate_names(monitors, "monitors")
    if patience is not None:
        runs.early_stopping_epoch([], patience, min_delta)  # validates both
    records = []
    for trial in sorted(trials, key=lambda t: str(t.trial_id)):
        if trial.status != TrialStatus.COMPLETED:
            continue
        records.append(
            _trial_record(
                trial, project_dir, objective_, rename, fixed, drop, monitors, patience, min_delta, default_seed
            )
        )
    return records


def _trial_record(trial, project_dir, objective_, rename, fixed, drop, monitors, patience, min_delta, default_seed):
    hps = trial.hyperparameters
    seed = hps.values.get(SEED_HP, default_seed)
    replication = 0
    for hp in hps.space:
        if hp.name == SEED_HP and hasattr(hp, "values") and seed in hp.values:
            replication = list(hp.values).index(seed)
    run = {}
    if project_dir is not None:
        path = os.path.join(project_dir, f"trial_{trial.trial_id}", TRIAL_RECORD_FILE)
        if os.path.exists(path):
            with open(path) as f:
                run = json.load(f)
    fields = {"history": run.get("history", {})}
    if fields["history"]:
        try:
            fields = runs.run_record(
                fields["history"], monitors, patience, min_delta, modes=_objective_modes(objective_)
            )
        except ValueError as error:
            raise ValueError(f"Trial {trial.trial_id}: {error}") from None
    else:
        fields["metrics"] = {name: trial.metrics.get_best_value(name) for name in trial.metrics.metrics}
    extra = {k: run[k] for k in ("backend", "devices", "initial_epoch") if k in run}
    return sweeps.make_record(
        trial_config(trial, rename, fixed, drop),
        int(seed),
        wall_time_s=run.get("wall_time_s"),
        replication=replication,
        tuner={
            "trial_id": trial.trial_id,
            "score": trial.score,
            "best_step": trial.best_step,
            "objective": None if objective_ is None else getattr(objective_, "name", str(objective_)),
            "hyperparameters": dict(hps.values),
        },
        **fields,
        **extra,
    )


def export_trials(source, results, **kwargs):
    """Append the completed trials of a search to a results file.

    The file is the JSON Lines format of `keras_entropy.experiments.sweeps.ResultsFile`,
    so `keras_entropy.experiments.analysis.write_sweep_report(results, ...)` and
    `keras_entropy.experiments.analysis.results_frame` work on it. Trials already in the
    file (same key: config and seed) are skipped, so exporting twice is
    harmless.

    Args:
        source: a tuner, an oracle or a KerasTuner project directory.
        results: a path or a `ResultsFile`.
        **kwargs: as for `trial_records`.

    Returns:
        dict with `exported`, `skipped` and `keys` (the keys of every
        exported or already present trial, e.g. for `write_report(keys=...)`).
    """
    if not isinstance(results, sweeps.ResultsFile):
        results = sweeps.ResultsFile(results)
    records = trial_records(source, **kwargs)
    done = results.keys()
    exported = 0
    keys = []
    for record in records:
        keys.append(record["key"])
        if record["key"] in done:
            continue
        results.append(record)
        done.add(record["key"])
        exported += 1
    return {"exported": exported, "skipped": len(records) - exported, "keys": keys}


__all__ = ["export_trials", "trial_config", "trial_records"]
