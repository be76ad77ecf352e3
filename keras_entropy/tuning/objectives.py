"""Objectives: a `keras_tuner.Objective` from a metric name, and the best trial."""

from keras_entropy.tuning._keras_tuner_compat import TrialStatus, keras_tuner

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


def best_trial_summary(tuner):
    """`(hyperparameters, score, objective name)` of the best completed trial."""
    trials = tuner.oracle.get_best_trials(1)
    if not trials or trials[0].status != TrialStatus.COMPLETED:
        raise ValueError("The search has no completed trial.")
    best = trials[0]
    name = getattr(tuner.oracle.objective, "name", str(tuner.oracle.objective))
    return dict(best.hyperparameters.values), best.score, name


__all__ = ["best_trial_summary", "objective"]
