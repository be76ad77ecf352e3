"""Objectives: a `keras_tuner.Objective` from a metric name, and the best trial."""

from keras_entropy import validation
from keras_entropy.experiments.runs import monitor_mode
from keras_entropy.tuning._keras_tuner_compat import TrialStatus, keras_tuner


def objective(name, direction=None):
    """A `keras_tuner.Objective` for a logged metric, direction inferred from its name.

    The direction is `experiments.runs.monitor_mode(name)`, the one the
    sweeps' early stopping uses: "loss", "mse", "mae", "error", ... are
    minimized; "accuracy", "iou", "auc", "precision", "recall", "f1",
    "dice", ... are maximized. Pass `direction` ("min" or "max") for
    anything else.

    >>> goal = objective("val_iou")
    >>> goal.name, goal.direction
    ('val_iou', 'max')
    """
    name = validation.validate_string(name, "name")
    if direction is None:
        direction = monitor_mode(name, default=None)
        if direction is None:
            raise ValueError(
                f"Cannot infer whether to minimize or maximize {name!r}: pass direction='min' "
                f"or 'max'. Received: name={name!r}, direction=None"
            )
    validation.validate_choice(direction, "direction", ("min", "max"))
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
