"""The hypermodel: a model-building function plus the trial's entropy penalties.

`EntropyHyperModel` (and its decorator form `entropy_hypermodel`) builds
the user's model, places the penalties each `EntropySearch` chose for the
trial, and records each trial's history in its directory for
`keras_entropy.tuning.export`.
"""

import inspect
import json
import numbers
import os
import time

import keras

from keras_entropy.experiments import runs, sweeps
from keras_entropy.placement import place_penalties
from keras_entropy.tuning._keras_tuner_compat import keras_tuner
from keras_entropy.tuning.spaces import EntropySearch

#: Name of the hyperparameter that seeds a trial (see `EntropyHyperModel`).
SEED_HP = "seed"

#: File that `EntropyHyperModel.fit` writes into each trial's directory.
TRIAL_RECORD_FILE = "entropy_run.json"


def _takes_hp(build):
    try:
        parameters = inspect.signature(build).parameters.values()
    except (TypeError, ValueError):  # builtins, some callables
        return True
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
    return bool(positional)


class EntropyHyperModel(keras_tuner.HyperModel):
    """A KerasTuner hypermodel: a model-building function plus entropy penalties.

    `build(hp)` calls the function (with `hp` if it takes an argument, so
    the function can tune its own hyperparameters too), then adds to the
    model it returns the entropy penalties the trial chose (strength,
    placement, exact/stabilized and form), with
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
        name: as for `keras_tuner.HyperModel`.
        tunable: as for `keras_tuner.HyperModel`.

    A trial that chose `dense_lam` 1e-3 gets `DenseEntropy(1e-3)` on the
    first Dense layer:

    >>> import keras
    >>> import keras_tuner
    >>> def build():
    ...     model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(8), keras.layers.Dense(16)])
    ...     model.compile("adam", "mse")
    ...     return model
    >>> hypermodel = EntropyHyperModel(build, dense=EntropySearch(lam=[0.0, 1e-3], placement="first"))
    >>> hp = keras_tuner.HyperParameters()
    >>> _ = hp.Fixed("dense_lam", 1e-3)
    >>> [type(layer.kernel_regularizer).__name__ for layer in hypermodel.build(hp).layers]
    ['DenseEntropy', 'NoneType']
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
        return {kind: space.declare(hp, kind) for kind, space in self.spaces.items() if space is not None}

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
                model,
                choice["where"],
                choice["lam"],
                kinds=(kind,),
                stabilized=choice["stabilized"],
                epsilon=space.epsilon,
                reference=space.reference,
                k=space.k,
                statistic=space.statistic,
                form=choice["form"],
                grid=space.grid,
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
            values = {
                name: [None if v is None else float(v) for v in series] for name, series in history.history.items()
            }
            record = {
                "history": values,
                "initial_epoch": int(kwargs.get("initial_epoch", 0) or 0),
                "wall_time_s": round(wall, 3),
                "penalties": {
                    k: {kk: vv for kk, vv in c.items() if kk != "where"} for k, c in self.choices(hp.copy()).items()
                },
                **runs.runtime_info(),
            }
            _write_json(os.path.join(trial_dir, TRIAL_RECORD_FILE), record)
        return history


def _validate_seeds(seeds):
    if seeds is None:
        return None
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        return [int(seeds)]
    if (
        isinstance(seeds, (list, tuple))
        and seeds
        and all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in seeds)
    ):
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"Argument `seeds` contains duplicates. Received: seeds={seeds!r}")
        return [int(s) for s in seeds]
    raise TypeError(f"Argument `seeds` must be None, an int or a non-empty list of ints. Received: seeds={seeds!r}")


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
        json.dump(sweeps.canonical(data), f, allow_nan=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


__all__ = ["EntropyHyperModel", "SEED_HP", "TRIAL_RECORD_FILE", "entropy_hypermodel"]
