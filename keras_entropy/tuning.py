"""KerasTuner search over entropy penalties: strength, placement, exact/stabilized.

The paper's users tune the entropy strength `lambda` per layer kind and per
task and choose where the penalty goes. This module turns any model-building
function into a KerasTuner hypermodel whose search space adds those choices,
for `Dense` and `Conv2D` penalties separately, and exports the tuner's trials
into the results format of `keras_entropy.sweeps`, so that
`keras_entropy.reports` and `keras_entropy.stats` work on tuner output.

Example (reads like the model it builds):

>>> import keras, keras_tuner
>>> from keras_entropy import tuning
>>> @tuning.entropy_hypermodel(
...     conv=tuning.EntropySearch(lam=tuning.log_uniform(1e-4, 10.0),
...                               placement=["first", "all"]))
... def cnn(hp):
...     model = keras.Sequential([
...         keras.Input((32, 32, 3)),
...         keras.layers.Conv2D(32, 3, activation="relu"),
...         keras.layers.MaxPooling2D(),
...         keras.layers.Flatten(),
...         keras.layers.Dense(10, activation="softmax")])
...     model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
...     return model
>>> tuner = keras_tuner.RandomSearch(cnn, objective="val_accuracy", max_trials=8)
>>> # tuner.search(x, y, validation_data=(x_val, y_val), epochs=5)
>>> # tuning.export_trials(tuner, "runs/tune/results.jsonl")

Distributed search (one chief oracle, many workers, the `KERASTUNER_*`
environment variables) works with any KerasTuner tuner; `run_search`
additionally makes it survive workers that die: the chief re-issues a trial
whose worker went silent for `trial_timeout` seconds to another worker and
forgets the dead worker, so the search still finishes and the chief exits.
`keras_entropy.tuning_cluster` starts a chief and N workers on loopback.

KerasTuner is the optional extra `tuning` (`pip install keras-entropy[tuning]`);
`import keras_entropy` does not import it, this module does.
"""

import contextlib
import inspect
import io
import json
import math
import numbers
import os
import threading
import time

import keras

try:
    import keras_tuner
    from keras_tuner.src.engine import trial as _trial_module
    from keras_tuner.src.engine.oracle import synchronized as _synchronized
except ImportError as _error:  # pragma: no cover - depends on the installation
    raise ImportError(
        "keras_entropy.tuning needs KerasTuner: pip install 'keras-entropy[tuning]' "
        "(or pip install keras-tuner)."
    ) from _error

from keras_entropy import ops as entropy_ops
from keras_entropy import sweeps, validation
from keras_entropy.experiments import DENSE_AUTOENCODER_PAPER
from keras_entropy.placement import STRATEGIES, place_penalties

#: The paper's grid of entropy strengths, with 0 (no penalty) as the baseline.
PAPER_LAMS = tuple(float(v) for v in DENSE_AUTOENCODER_PAPER["lams"])

#: The layer kinds a hypermodel can search penalties for, in placement order.
KINDS = ("conv", "dense")

#: Name of the hyperparameter that seeds a trial (see `EntropyHyperModel`).
SEED_HP = "seed"

#: File that `EntropyHyperModel.fit` writes into each trial's directory.
TRIAL_RECORD_FILE = "entropy_run.json"

#: Value of `<kind>_placement` in exported configs when that kind's penalty is off.
NO_PLACEMENT = "none"

_TRIAL_STATUS = _trial_module.TrialStatus


def hp_names(kind):
    """The hyperparameter names used for one layer kind ("conv" or "dense").

    Returns:
        dict with `lam` (`<kind>_lam`), `switch` (`<kind>_entropy`, the
        on/off Boolean of a log-uniform range with a baseline), `placement`
        (`<kind>_placement`) and `stabilized` (`<kind>_stabilized`).
    """
    _check_kind(kind)
    return {
        "lam": f"{kind}_lam",
        "switch": f"{kind}_entropy",
        "placement": f"{kind}_placement",
        "stabilized": f"{kind}_stabilized",
    }


def _check_kind(kind):
    if kind not in KINDS:
        raise ValueError(f"Argument `kind` must be one of {KINDS}. Received: kind={kind!r}")


# --------------------------------------------------------------------------
# Search spaces


class LogUniform:
    """A log-uniform range of entropy strengths, optionally with 0 as a baseline.

    With `baseline=True` the space has a Boolean `<kind>_entropy` (on by
    default) and, when it is on, a `<kind>_lam` drawn log-uniformly from
    `[low, high]`; when it is off the model gets no penalty (lambda = 0).

    Args:
        low, high: `0 < low < high`, finite.
        baseline: include "no penalty" in the search.
    """

    def __init__(self, low, high, baseline=True):
        self.low = validation.validate_positive(low, "low")
        self.high = validation.validate_positive(high, "high")
        if not self.low < self.high:
            raise ValueError(
                f"Argument `low` must be < `high`. Received: low={low!r}, high={high!r}"
            )
        self.baseline = validation.validate_bool(baseline, "baseline")

    def __repr__(self):
        return f"LogUniform(low={self.low!r}, high={self.high!r}, baseline={self.baseline!r})"


def log_uniform(low, high, baseline=True):
    """Shorthand for `LogUniform(low, high, baseline)`."""
    return LogUniform(low, high, baseline)


def _validate_lam_space(lam):
    if isinstance(lam, LogUniform):
        return lam
    if isinstance(lam, str):
        if lam != "paper":
            raise ValueError(
                "Argument `lam` must be a float, a list of floats, 'paper' or a "
                f"LogUniform. Received: lam={lam!r}"
            )
        return list(PAPER_LAMS)
    if isinstance(lam, (list, tuple)):
        if not lam:
            raise ValueError(f"Argument `lam` must not be an empty list. Received: lam={lam!r}")
        values = []
        for value in lam:
            if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                    or not math.isfinite(value):
                raise ValueError(
                    f"Argument `lam` must contain finite numbers. Received: lam={lam!r}"
                )
            values.append(float(value))
        if len(set(values)) != len(values):
            raise ValueError(f"Argument `lam` contains duplicates. Received: lam={lam!r}")
        return sorted(values)
    if isinstance(lam, bool) or not isinstance(lam, numbers.Real):
        raise TypeError(
            "Argument `lam` must be a float, a list of floats, 'paper' or a LogUniform. "
            f"Received: lam={lam!r} of type {type(lam).__name__}"
        )
    return validation.validate_lam(lam)


def _validate_placement_space(placement):
    """Returns `(labels, where_of_label)`; one label means a fixed placement."""
    def check_strategy(name):
        if name not in STRATEGIES:
            raise ValueError(
                f"Argument `placement` must name strategies from {STRATEGIES} (a dict "
                "maps labels to lists of layer names / indices). "
                f"Received: placement={placement!r}"
            )
        return name

    if isinstance(placement, str):
        return [check_strategy(placement)], {placement: placement}
    if isinstance(placement, dict):
        if not placement:
            raise ValueError(f"Argument `placement` must not be empty. Received: placement={placement!r}")
        where = {}
        for label, value in placement.items():
            if not isinstance(label, str) or not label:
                raise TypeError(
                    f"Keys of `placement` must be non-empty strings. Received: placement={placement!r}"
                )
            if isinstance(value, str):
                check_strategy(value)
            elif not isinstance(value, (list, tuple)) or not value:
                raise TypeError(
                    "Values of `placement` must be strategy names or non-empty lists of layer "
                    f"names / indices. Received: placement={placement!r}"
                )
            where[label] = value if isinstance(value, str) else list(value)
        return list(where), where
    if isinstance(placement, (list, tuple)):
        if not placement or not all(isinstance(p, str) for p in placement):
            raise TypeError(
                "Argument `placement` must be a strategy name, a non-empty list of strategy "
                "names or a dict of label -> strategy or list of layers. "
                f"Received: placement={placement!r}"
            )
        if len(set(placement)) != len(placement):
            raise ValueError(f"Argument `placement` contains duplicates. Received: placement={placement!r}")
        return [check_strategy(p) for p in placement], {p: p for p in placement}
    raise TypeError(
        "Argument `placement` must be a strategy name, a list of strategy names or a dict of "
        f"label -> where. Received: placement={placement!r} of type {type(placement).__name__}"
    )


def _validate_stabilized_space(stabilized):
    if isinstance(stabilized, (list, tuple)):
        if not stabilized or not all(isinstance(s, bool) for s in stabilized) \
                or len(set(stabilized)) != len(stabilized):
            raise ValueError(
                "Argument `stabilized` must be True, False or a list of distinct booleans, "
                f"e.g. [True, False]. Received: stabilized={stabilized!r}"
            )
        return list(stabilized)
    return [validation.validate_bool(stabilized, "stabilized")]


class EntropySearch:
    """The search space of the entropy penalty of one layer kind.

    Args:
        lam: the entropy strength: a float (fixed), a list of floats (a grid;
            include 0 for the no-penalty baseline), `"paper"` (the paper's
            grid `PAPER_LAMS`, 0 included) or a `LogUniform` range (see
            `log_uniform`, baseline included by default).
        placement: where the penalty goes: a strategy name (fixed; default
            `"all"`), a list of strategy names (searched), or a dict of
            label -> strategy or list of layer names / indices (the labels
            are searched). See `keras_entropy.select_layers`.
        stabilized: True (the stabilized surrogate, default), False (exact
            `-log|x|`) or `[True, False]` to search both.
        epsilon: the surrogate's epsilon.
        reference, k, statistic: for the `"empirical"` strategy; see
            `keras_entropy.select_layers`.

    The hyperparameters are named by `hp_names(kind)`. Placement and
    exact/stabilized only exist (are active) in trials where the penalty is
    on, so a search does not spend trials on variants of the baseline.
    """

    def __init__(
        self,
        lam="paper",
        placement="all",
        stabilized=True,
        epsilon=entropy_ops.DEFAULT_EPSILON,
        reference=None,
        k=None,
        statistic="mean",
    ):
        self.lam = _validate_lam_space(lam)
        self.placements, self.where = _validate_placement_space(placement)
        self.stabilized = _validate_stabilized_space(stabilized)
        self.epsilon = validation.validate_epsilon(epsilon)
        self.reference = reference
        self.k = k
        self.statistic = statistic

    @property
    def tunes_placement(self):
        return len(self.placements) > 1

    def __repr__(self):
        return (f"EntropySearch(lam={self.lam!r}, placement={self.placements!r}, "
                f"stabilized={self.stabilized!r})")

    def declare(self, hp, kind):
        """Declare this space's hyperparameters in `hp`; return the trial's choice.

        Returns:
            dict with `lam` (float, 0 = no penalty), `placement` (the label,
            or None when the penalty is off), `where` (what `place_penalties`
            gets) and `stabilized`.
        """
        names = hp_names(kind)
        condition = None  # (parent name, parent values) under which the penalty is on
        if isinstance(self.lam, LogUniform):
            if self.lam.baseline:
                on = hp.Boolean(names["switch"], default=True)
                with hp.conditional_scope(names["switch"], [True]):
                    lam = hp.Float(names["lam"], self.lam.low, self.lam.high, sampling="log")
                condition = (names["switch"], [True])
                lam = float(lam) if on else 0.0
            else:
                lam = float(hp.Float(names["lam"], self.lam.low, self.lam.high, sampling="log"))
        elif isinstance(self.lam, list):
            if len(self.lam) == 1:
                lam = self.lam[0]
            else:
                lam = float(hp.Choice(names["lam"], self.lam, ordered=True))
                nonzero = [v for v in self.lam if v != 0]
                if len(nonzero) < len(self.lam):
                    condition = (names["lam"], nonzero)
        else:
            lam = self.lam  # a fixed float or array
        off = {"lam": 0.0, "placement": None, "where": None, "stabilized": None}
        if condition is None and isinstance(lam, float) and lam == 0:
            return off  # a fixed 0: no penalty, nothing else to choose

        def declare_rest():
            placement = self.placements[0]
            if self.tunes_placement:
                placement = hp.Choice(names["placement"], self.placements)
            stabilized = self.stabilized[0]
            if len(self.stabilized) > 1:
                stabilized = hp.Boolean(names["stabilized"], default=True)
            return placement, stabilized

        if condition is None:
            placement, stabilized = declare_rest()
        else:
            with hp.conditional_scope(*condition):
                placement, stabilized = declare_rest()
        if isinstance(lam, float) and lam == 0:
            return off
        return {
            "lam": lam,
            "placement": placement,
            "where": self.where[placement],
            "stabilized": bool(stabilized),
        }


# --------------------------------------------------------------------------
# The hypermodel


def _takes_hp(build):
    try:
        parameters = inspect.signature(build).parameters.values()
    except (TypeError, ValueError):  # builtins, some callables
        return True
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD,
                                                       p.VAR_POSITIONAL)]
    return bool(positional)


class EntropyHyperModel(keras_tuner.HyperModel):
    """A KerasTuner hypermodel: a model-building function plus entropy penalties.

    `build(hp)` calls the function (with `hp` if it takes an argument, so
    the function can tune its own hyperparameters too), then adds to the
    model it returns the entropy penalties the trial chose, with
    `keras_entropy.place_penalties`: one `EntropySearch` for the `Conv2D`
    layers and one for the `Dense` layers. The penalties are weight
    regularizers, so they are in `model.losses` and in every loss and
    `val_loss` the tuner sees.

    `fit` is `model.fit`, and it also writes the full per-epoch history and
    the trial's choices into the trial's directory (`TRIAL_RECORD_FILE`), for
    `export_trials`.

    Args:
        build: a function `build(hp)` or `build()` returning a built Keras
            model (compiled, or compiled by the tuner's `optimizer`/`loss`).
        conv: an `EntropySearch` for `Conv2D` penalties, or None.
        dense: an `EntropySearch` for `Dense` penalties, or None.
        seeds: None (no seeding), an int (every trial seeds Keras with it
            before building, so trials differ only by their
            hyperparameters), or a list of ints: a `"seed"` hyperparameter,
            i.e. replications of each configuration (with a grid search,
            every configuration is run once per seed, as in a sweep).
        name, tunable: as for `keras_tuner.HyperModel`.
    """

    def __init__(self, build, *, conv=None, dense=None, seeds=None, name=None, tunable=True):
        if not callable(build):
            raise TypeError(f"Argument `build` must be callable. Received: build={build!r}")
        for arg, value in (("conv", conv), ("dense", dense)):
            if value is not None and not isinstance(value, EntropySearch):
                raise TypeError(
                    f"Argument `{arg}` must be an EntropySearch or None. "
                    f"Received: {arg}={value!r} of type {type(value).__name__}"
                )
        self.seeds = _validate_seeds(seeds)
        super().__init__(name=name or getattr(build, "__name__", None), tunable=tunable)
        self.build_fn = build
        self.spaces = {"conv": conv, "dense": dense}
        self._build_takes_hp = _takes_hp(build)
        self.__doc__ = getattr(build, "__doc__", None) or type(self).__doc__

    def choices(self, hp):
        """Declare the entropy hyperparameters in `hp`; return each kind's choice.

        Returns:
            dict kind -> the dict of `EntropySearch.declare` (kinds without a
            search space are left out).
        """
        return {kind: space.declare(hp, kind) for kind, space in self.spaces.items()
                if space is not None}

    def seed(self, hp):
        """The trial's seed (None when `seeds` is None)."""
        if self.seeds is None:
            return None
        if len(self.seeds) == 1:
            return self.seeds[0]
        return int(hp.Choice(SEED_HP, self.seeds))

    def build(self, hp):
        seed = self.seed(hp)
        if seed is not None:
            keras.utils.set_random_seed(seed)
        choices = self.choices(hp)
        model = self.build_fn(hp) if self._build_takes_hp else self.build_fn()
        if not isinstance(model, keras.Model):
            raise TypeError(
                f"The model-building function {self.name!r} must return a Keras model. "
                f"Received: {model!r} of type {type(model).__name__}"
            )
        if not model.built:
            raise ValueError(
                f"The model-building function {self.name!r} must return a built model "
                "(start it with keras.Input) so that penalties can be placed."
            )
        for kind, choice in choices.items():
            if isinstance(choice["lam"], float) and choice["lam"] == 0:
                continue
            space = self.spaces[kind]
            touched = place_penalties(
                model, choice["where"], choice["lam"], kinds=(kind,),
                stabilized=choice["stabilized"], epsilon=space.epsilon,
                reference=space.reference, k=space.k, statistic=space.statistic,
            )
            if not touched:
                raise ValueError(
                    f"Placement {choice['placement']!r} selects no {kind} layer in model "
                    f"{model.name!r}: an entropy search for `{kind}` needs such a layer."
                )
        return model

    def fit(self, hp, model, *args, **kwargs):
        start = time.perf_counter()
        history = model.fit(*args, **kwargs)
        wall = time.perf_counter() - start
        trial_dir = _trial_dir(kwargs.get("callbacks"))
        if trial_dir is not None:
            values = {name: [None if v is None else float(v) for v in series]
                      for name, series in history.history.items()}
            record = {
                "history": values,
                "initial_epoch": int(kwargs.get("initial_epoch", 0) or 0),
                "wall_time_s": round(wall, 3),
                "penalties": {k: {kk: vv for kk, vv in c.items() if kk != "where"}
                              for k, c in self.choices(hp.copy()).items()},
                **sweeps.runtime_info(),
            }
            _write_json(os.path.join(trial_dir, TRIAL_RECORD_FILE), record)
        return history


def _validate_seeds(seeds):
    if seeds is None:
        return None
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        return [int(seeds)]
    if isinstance(seeds, (list, tuple)) and seeds and all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in seeds
    ):
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"Argument `seeds` contains duplicates. Received: seeds={seeds!r}")
        return [int(s) for s in seeds]
    raise TypeError(
        f"Argument `seeds` must be None, an int or a non-empty list of ints. Received: seeds={seeds!r}"
    )


def entropy_hypermodel(build=None, *, conv=None, dense=None, seeds=None, name=None):
    """Decorator form of `EntropyHyperModel`.

    >>> @entropy_hypermodel(dense=EntropySearch(lam="paper", placement="first"))
    ... def autoencoder(hp):
    ...     ...

    `entropy_hypermodel(build, conv=..., dense=...)` works too.
    """
    def wrap(fn):
        return EntropyHyperModel(fn, conv=conv, dense=dense, seeds=seeds, name=name)

    return wrap if build is None else wrap(build)


def _trial_dir(callbacks):
    """The directory of the running trial, found from the tuner's callbacks."""
    for callback in callbacks or []:
        tuner, trial = getattr(callback, "tuner", None), getattr(callback, "trial", None)
        if tuner is not None and trial is not None and hasattr(tuner, "get_trial_dir"):
            return tuner.get_trial_dir(trial.trial_id)
    return None


def _write_json(path, data):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(sweeps._canonical(data), f, allow_nan=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# --------------------------------------------------------------------------
# Objectives


_MAX_HINTS = ("acc", "iou", "io_u", "auc", "precision", "recall", "f1", "dice", "r2")
_MIN_HINTS = ("loss", "error", "mse", "mae", "mape", "msle", "crossentropy", "hinge")


def objective(name, direction=None):
    """A `keras_tuner.Objective` for a logged metric, direction inferred from its name.

    "loss", "mse", "mae", "error", ... are minimized; "accuracy", "iou",
    "auc", "precision", "recall", "f1", "dice" are maximized. Pass
    `direction` ("min" or "max") for anything else.

    Example: `objective("val_iou")` is `Objective("val_iou", "max")`.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"Argument `name` must be a metric name. Received: name={name!r}")
    if direction is None:
        lowered = name.lower()
        if any(h in lowered for h in _MIN_HINTS):
            direction = "min"
        elif any(h in lowered for h in _MAX_HINTS):
            direction = "max"
        else:
            raise ValueError(
                f"Cannot infer whether to minimize or maximize {name!r}: pass direction='min' "
                f"or 'max'. Received: name={name!r}, direction=None"
            )
    if direction not in ("min", "max"):
        raise ValueError(f"Argument `direction` must be 'min' or 'max'. Received: direction={direction!r}")
    return keras_tuner.Objective(name, direction)


# --------------------------------------------------------------------------
# Export of trials to the results format of keras_entropy.sweeps


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
                trials.append(_trial_module.Trial.load(path))
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


def _monitor_mode(name, objective_):
    names = getattr(objective_, "name_to_direction", None) or (
        {objective_.name: objective_.direction} if objective_ is not None else {})
    if name in names:
        return names[name]
    try:
        return objective(name).direction
    except ValueError:
        return "min"


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
    """The completed trials of a search as results records (see `keras_entropy.sweeps`).

    Each record has the fields of a sweep's record (`config`, `seed`,
    `replication`, `history`, `epochs_trained`, `monitor`, `stopping`,
    `stopping_epoch`, `metrics`, `wall_time_s`, `backend`, `devices`) and a
    `tuner` field (`trial_id`, `score`, `objective`, `best_step`,
    `hyperparameters`).

    Stopping epochs follow `keras_entropy.sweeps`: for each monitor `m`,
    Keras's `EarlyStopping(m, patience, min_delta)` rule replayed on the
    trial's per-epoch history (a trial that trained fewer epochs than its
    rule needed is censored: `stopped: False` at its last epoch). Without
    `patience`, every monitor stops (censored) at the last epoch. Histories
    come from the files `EntropyHyperModel.fit` writes into the trial
    directories; without them (another hypermodel, or workers with a
    separate directory) a record has an empty history, no stopping epochs,
    and `metrics` holds the trial's best-epoch metrics as KerasTuner
    recorded them.

    Args:
        source: a tuner, an oracle or a KerasTuner project directory.
        rename, fixed, drop: shape the config; see `trial_config`.
        monitors: the early-stopping monitors to record, first = the run's
            own (default: the tuner's objective).
        patience, min_delta: the stopping rule (None: no early stopping).
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
    if isinstance(monitors, str):
        monitors = [monitors]
    if not isinstance(monitors, (list, tuple)) or not monitors or not all(
        isinstance(m, str) for m in monitors
    ):
        raise ValueError(f"Argument `monitors` must be a non-empty list of names. Received: monitors={monitors!r}")
    if patience is not None:
        sweeps.early_stopping_epoch([], patience, min_delta)  # validates both
    records = []
    for trial in sorted(trials, key=lambda t: str(t.trial_id)):
        if trial.status != _TRIAL_STATUS.COMPLETED:
            continue
        records.append(_trial_record(trial, project_dir, objective_, rename, fixed, drop,
                                     list(monitors), patience, min_delta, default_seed))
    return records


def _trial_record(trial, project_dir, objective_, rename, fixed, drop, monitors, patience,
                  min_delta, default_seed):
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
    history = run.get("history", {})
    fields = {}
    if history:
        stopping = {}
        for monitor in monitors:
            if monitor not in history:
                raise ValueError(
                    f"Monitor {monitor!r} is not in the history of trial {trial.trial_id}; "
                    f"logged: {sorted(history)}. Received: monitors={monitors!r}"
                )
            values = history[monitor]
            mode = _monitor_mode(monitor, objective_)
            if patience is None:
                epoch, stopped = None, False
                _, best = sweeps.early_stopping_epoch(values, len(values), 0.0, mode)
            else:
                epoch, best = sweeps.early_stopping_epoch(values, patience, min_delta, mode)
                stopped = epoch is not None
            stopping[monitor] = {"epoch": epoch if stopped else len(values), "best_epoch": best,
                                 "stopped": stopped}
        epoch = stopping[monitors[0]]["epoch"]
        metrics = {name: values[epoch - 1] for name, values in history.items()}
        for monitor in monitors:
            pick = max if _monitor_mode(monitor, objective_) == "max" else min
            metrics[f"best_{monitor}"] = pick(v for v in history[monitor][:epoch] if v is not None)
        fields = {
            "epochs_trained": len(history[monitors[0]]),
            "monitor": monitors[0],
            "stopping": stopping,
            "stopping_epoch": epoch,
        }
    else:
        metrics = {}
        for name in trial.metrics.metrics:
            metrics[name] = trial.metrics.get_best_value(name)
    extra = {k: run[k] for k in ("backend", "devices", "initial_epoch") if k in run}
    return sweeps.make_record(
        trial_config(trial, rename, fixed, drop),
        int(seed),
        history=history,
        metrics=metrics,
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

    The file is the JSON Lines format of `keras_entropy.sweeps.ResultsFile`,
    so `keras_entropy.reports.write_report(results, ...)` and
    `keras_entropy.reports.results_frame` work on it. Trials already in the
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


def best_trial_summary(tuner):
    """`(hyperparameters, score, objective name)` of the best completed trial."""
    trials = tuner.oracle.get_best_trials(1)
    if not trials or trials[0].status != _TRIAL_STATUS.COMPLETED:
        raise ValueError("The search has no completed trial.")
    best = trials[0]
    name = getattr(tuner.oracle.objective, "name", str(tuner.oracle.objective))
    return dict(best.hyperparameters.values), best.score, name


# --------------------------------------------------------------------------
# Distributed search that survives dead workers


def cluster_role():
    """`"chief"`, `"worker"` or None (not distributed), from the KERASTUNER_* variables."""
    from keras_tuner.src.distribute import utils as dist_utils

    if not dist_utils.has_chief_oracle():
        return None
    return "chief" if dist_utils.is_chief_oracle() else "worker"


class _FaultTolerantOracle:
    """Mixin for the chief's oracle: re-issue trials of silent workers.

    Every request a worker sends refreshes its "last seen" time:
    `create_trial` (by tuner id) and `get_trial`, `update_trial`,
    `end_trial` (for the workers running that trial; workers using
    `run_search` send `get_trial` heartbeats while they train). A worker
    silent for more than `trial_timeout` seconds is forgotten (its tuner id
    leaves `tuner_ids`) and its ongoing trial goes to the retry queue, which
    the next `create_trial` of a live worker serves first. A worker that
    asks for a trial while others are still running is told to wait (IDLE)
    instead of to stop, so that it can take over a trial whose worker dies.
    A late result for a trial that already ended is ignored.
    """

    def _init_fault_tolerance(self, trial_timeout, clock=time.monotonic):
        self.trial_timeout = trial_timeout
        self._clock = clock
        self._last_seen = {}
        self.reissued = []  # trial ids handed to another worker

    def _touch_tuner(self, tuner_id):
        self._last_seen[tuner_id] = self._clock()

    def _touch_trial(self, trial_id):
        for tuner_id, trial in self.ongoing_trials.items():
            if trial.trial_id == trial_id:
                self._touch_tuner(tuner_id)

    def _reap(self):
        now = self._clock()
        changed = False
        for tuner_id in list(self.tuner_ids):
            seen = self._last_seen.setdefault(tuner_id, now)
            if now - seen <= self.trial_timeout:
                continue
            trial = self.ongoing_trials.pop(tuner_id, None)
            self.tuner_ids.discard(tuner_id)
            self._last_seen.pop(tuner_id, None)
            changed = True
            message = f"[fault tolerance] worker {tuner_id!r} silent for {now - seen:.0f} s: forgotten"
            if trial is not None and trial.trial_id not in self.end_order \
                    and trial.trial_id not in self._retry_queue \
                    and all(t.trial_id != trial.trial_id for t in self.ongoing_trials.values()):
                self._retry_queue.append(trial.trial_id)
                self.reissued.append(trial.trial_id)
                message += f"; trial {trial.trial_id} will run on another worker"
            print(message, flush=True)
        if changed:
            self.save()

    @_synchronized
    def reap(self):
        """Forget the workers silent for more than `trial_timeout` seconds."""
        self._reap()

    @_synchronized
    def create_trial(self, tuner_id):
        self._touch_tuner(tuner_id)
        self._reap()
        trial = super().create_trial(tuner_id)
        if trial.status == _TRIAL_STATUS.STOPPED:
            if self.ongoing_trials:
                # Others are still running: wait, in case one of them dies.
                self.tuner_ids.add(tuner_id)
                return _trial_module.Trial(self.get_space(), trial_id=trial.trial_id,
                                           status=_TRIAL_STATUS.IDLE)
            self._last_seen.pop(tuner_id, None)
        return trial

    @_synchronized
    def get_trial(self, trial_id):
        self._touch_trial(trial_id)
        return super().get_trial(trial_id)

    @_synchronized
    def update_trial(self, trial_id, metrics, step=0):
        self._touch_trial(trial_id)
        if trial_id in self.end_order:
            return self.trials[trial_id]  # a late result of a re-issued trial
        return super().update_trial(trial_id, metrics, step=step)

    @_synchronized
    def end_trial(self, trial):
        self._touch_trial(trial.trial_id)
        if trial.trial_id in self.end_order:
            print(f"[fault tolerance] trial {trial.trial_id} already ended: late result ignored",
                  flush=True)
        else:
            super().end_trial(trial)
        if trial.trial_id in self.end_order:
            # Whoever else still runs it (a presumed-dead worker) is no longer tracked.
            for tuner_id in [t for t, o in self.ongoing_trials.items()
                             if o.trial_id == trial.trial_id]:
                self.ongoing_trials.pop(tuner_id)


def make_fault_tolerant(oracle, trial_timeout=600.0):
    """Give a (chief's) oracle the fault tolerance of `_FaultTolerantOracle`, in place.

    Works for the oracle of any KerasTuner tuner (its class is replaced by a
    subclass that adds the behaviour). Returns the oracle.
    """
    if not isinstance(oracle, keras_tuner.Oracle):
        raise TypeError(f"Argument `oracle` must be a keras_tuner.Oracle. Received: oracle={oracle!r}")
    trial_timeout = validation.validate_positive(trial_timeout, "trial_timeout")
    if not isinstance(oracle, _FaultTolerantOracle):
        cls = type(oracle)
        oracle.__class__ = type(f"FaultTolerant{cls.__name__}", (_FaultTolerantOracle, cls), {})
        oracle._init_fault_tolerance(trial_timeout)
    else:
        oracle.trial_timeout = trial_timeout
    return oracle


class HeartbeatClient:
    """Wraps a worker's `OracleClient`: heartbeats while a trial runs, waits when idle.

    While a trial runs, a daemon thread calls the chief's `get_trial` every
    `interval` seconds, so the chief knows the worker is alive. When the
    chief answers IDLE, the worker waits `idle_interval` seconds before asking
    again (KerasTuner would otherwise ask in a tight loop).
    """

    def __init__(self, client, interval=10.0, idle_interval=1.0):
        self._client = client
        self.interval = validation.validate_positive(interval, "heartbeat_interval")
        self.idle_interval = validation.validate_positive(idle_interval, "idle_interval")
        self._stop = None
        self._thread = None

    def __getattr__(self, name):
        return getattr(self._client, name)

    def _beat(self, trial_id, stop):
        while not stop.wait(self.interval):
            try:
                self._client.get_trial(trial_id)
            except Exception:  # the chief is gone or busy: nothing to do here
                pass

    def _stop_heartbeat(self):
        if self._stop is not None:
            self._stop.set()
            self._thread.join(timeout=self.interval + 1.0)
        self._stop = self._thread = None

    def create_trial(self, tuner_id):
        self._stop_heartbeat()
        trial = self._client.create_trial(tuner_id)
        if trial.status == _TRIAL_STATUS.RUNNING:
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._beat, args=(trial.trial_id, self._stop),
                name=f"keras-entropy-heartbeat-{trial.trial_id}", daemon=True)
            self._thread.start()
        elif trial.status == _TRIAL_STATUS.IDLE:
            time.sleep(self.idle_interval)
        return trial

    def end_trial(self, trial):
        self._stop_heartbeat()
        return self._client.end_trial(trial)


def _serve_chief(tuner, poll_interval):
    """The chief's oracle server (KerasTuner's `start_server`, polling faster and reaping)."""
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief

    class Servicer(oracle_chief.OracleServicer):
        def GetTrial(self, request, context):
            # Heartbeats: KerasTuner 1.4's Parent.to_proto prints a debug line for
            # every conditional hyperparameter; keep the chief's log readable.
            with contextlib.redirect_stdout(io.StringIO()):
                return super().GetTrial(request, context)

    oracle = tuner.oracle
    address = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    servicer = Servicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    if server.add_insecure_port(address) == 0:
        raise OSError(f"The chief cannot listen on {address} (port in use?).")
    server.start()
    print(f"oracle: listening on {address}", flush=True)
    try:
        while True:
            time.sleep(poll_interval)
            oracle.reap()
            if servicer.stop_triggered and oracle_chief.exit_chief(oracle):
                break
    finally:
        server.stop(grace=1.0).wait(5.0)


def run_search(tuner, *fit_args, trial_timeout=600.0, heartbeat_interval=10.0,
               idle_interval=1.0, poll_interval=0.5, progress=False, **fit_kwargs):
    """`tuner.search(*fit_args, **fit_kwargs)`, fault tolerant when distributed.

    Not distributed (no `KERASTUNER_ORACLE_IP`): exactly `tuner.search`.
    On the chief (`KERASTUNER_TUNER_ID` contains "chief"): serves the oracle
    (`make_fault_tolerant`) until every trial has ended and every worker has
    been told to stop or forgotten, then returns. On a worker: runs trials,
    sending a heartbeat every `heartbeat_interval` seconds while one runs.

    Args:
        tuner: any KerasTuner tuner.
        trial_timeout: seconds of silence after which the chief takes a
            worker for dead and gives its trial to another worker; choose it
            well above `heartbeat_interval` (and above the time a worker may
            block the Python interpreter, e.g. while compiling a model).
        heartbeat_interval: seconds between a worker's heartbeats.
        idle_interval: seconds a worker waits after the chief said IDLE.
        poll_interval: seconds between the chief's checks.
        progress: print one line per finished trial (hyperparameters,
            score, time), with a progress bar over the trials on a terminal
            (`keras_entropy.sweeps.Progress`); pair it with `verbose=0`.
            Not on the chief, which runs no trial.

    Returns:
        The tuner.
    """
    trial_timeout = validation.validate_positive(trial_timeout, "trial_timeout")
    heartbeat_interval = validation.validate_positive(heartbeat_interval, "heartbeat_interval")
    if heartbeat_interval >= trial_timeout:
        raise ValueError(
            "Argument `heartbeat_interval` must be < `trial_timeout`. Received: "
            f"heartbeat_interval={heartbeat_interval!r}, trial_timeout={trial_timeout!r}"
        )
    poll_interval = validation.validate_positive(poll_interval, "poll_interval")
    role = cluster_role()
    if role == "chief":
        make_fault_tolerant(tuner.oracle, trial_timeout)
        if "verbose" in fit_kwargs:
            tuner.oracle.verbose = fit_kwargs["verbose"]
        tuner.save()
        _serve_chief(tuner, poll_interval)
        return tuner
    if role == "worker" and not isinstance(tuner.oracle, HeartbeatClient):
        tuner.oracle = HeartbeatClient(tuner.oracle, heartbeat_interval, idle_interval)
    if not progress:
        tuner.search(*fit_args, **fit_kwargs)
        return tuner
    with report_trials(tuner, total=None if role == "worker" else getattr(tuner.oracle, "max_trials", None)):
        tuner.search(*fit_args, **fit_kwargs)
    return tuner


class report_trials:
    """Context manager: one line per trial `tuner` finishes, and a progress bar on a terminal.

    Each line reads `[i/N] trial T: name=value ...: objective=score
    (best so far ...), T s`; see `keras_entropy.sweeps.Progress`.

    Args:
        tuner: a KerasTuner tuner.
        total: the trials expected (None: unknown, e.g. Hyperband).
        log: function for the lines (None: silent).
    """

    def __init__(self, tuner, total=None, log=print):
        self.tuner = tuner
        self.total = total
        self.log = log

    def __enter__(self):
        from keras_entropy import sweeps

        tuner = self.tuner
        trials = getattr(tuner.oracle, "trials", {}) or {}
        done = sum(1 for t in trials.values() if str(getattr(t, "status", "")) in ("COMPLETED", "INVALID", "FAILED"))
        self.progress = sweeps.Progress(self.total, done, log=self.log, desc="trials")
        self._begin, self._end = tuner.on_trial_begin, tuner.on_trial_end
        self._started = {}
        name = _objective_name(tuner)

        def on_trial_begin(trial):
            self._started[trial.trial_id] = time.perf_counter()
            self.progress.start(f"trial {trial.trial_id}")
            return self._begin(trial)

        def on_trial_end(trial):
            result = self._end(trial)
            seconds = time.perf_counter() - self._started.pop(trial.trial_id, time.perf_counter())
            values = _active_values(trial.hyperparameters)
            text = " ".join(f"{k}={sweeps.format_value(v)}" for k, v in values.items())
            score = trial.score
            parts = [f"{name}={sweeps.format_value(score)}" if score is not None else f"status {trial.status}"]
            best = _best_score(tuner)
            if best is not None:
                parts.append(f"best so far {sweeps.format_value(best)}")
            parts.append(sweeps.format_duration(seconds))
            self.progress.finish(f"trial {trial.trial_id}: {text}: " + ", ".join(parts))
            return result

        tuner.on_trial_begin, tuner.on_trial_end = on_trial_begin, on_trial_end
        return self

    def __exit__(self, *exc):
        self.tuner.on_trial_begin, self.tuner.on_trial_end = self._begin, self._end
        self.progress.close()
        return False


def _objective_name(tuner):
    objective_ = getattr(tuner.oracle, "objective", None)
    return getattr(objective_, "name", None) or "score"


def _active_values(hp):
    values = dict(hp.values)
    try:
        return {k: v for k, v in values.items() if hp.is_active(k)}
    except Exception:  # pragma: no cover - a KerasTuner without is_active(name)
        return values


def _best_score(tuner):
    try:
        best = tuner.oracle.get_best_trials(1)
    except Exception:  # pragma: no cover - e.g. a remote oracle
        return None
    return best[0].score if best else None


__all__ = [
    "EntropyHyperModel",
    "EntropySearch",
    "HeartbeatClient",
    "KINDS",
    "LogUniform",
    "NO_PLACEMENT",
    "PAPER_LAMS",
    "best_trial_summary",
    "cluster_role",
    "entropy_hypermodel",
    "export_trials",
    "hp_names",
    "log_uniform",
    "make_fault_tolerant",
    "objective",
    "report_trials",
    "run_search",
    "trial_config",
    "trial_records",
]
