"""Search spaces of entropy penalties: strength, placement, exact/stabilized, form.

`EntropySearch` is the space of one layer kind (`"conv"` or `"dense"`);
`EntropySearch.declare(hp, kind)` declares its hyperparameters, named by
`hp_names(kind)`, in a `keras_tuner.HyperParameters` and returns the trial's
choice. Placement, exact/stabilized and form are conditional on the penalty
being on, so a search spends no trials on variants of the `lambda = 0`
baseline.
"""

import math
import numbers

from keras_entropy import ops as entropy_ops
from keras_entropy import profile, validation
from keras_entropy.experiments.paper import PAPER_LAMS
from keras_entropy.placement import STRATEGIES

#: The layer kinds a hypermodel can search penalties for, in placement order
#: (those of `keras_entropy.profile.KINDS`). The default lambda grid is
#: `keras_entropy.experiments.paper.PAPER_LAMS` (0 = no penalty, the baseline).
KINDS = tuple(profile.KINDS)


def hp_names(kind):
    """The hyperparameter names used for one layer kind ("conv" or "dense").

    Returns:
        dict with `lam` (`<kind>_lam`), `switch` (`<kind>_entropy`, the
        on/off Boolean of a log-uniform range with a baseline), `placement`
        (`<kind>_placement`), `stabilized` (`<kind>_stabilized`) and `form`
        (`<kind>_form`: `"paper"`, `"volume"` or `"normalized"`).

    >>> hp_names("conv")["lam"], hp_names("dense")["placement"]
    ('conv_lam', 'dense_placement')
    """
    _check_kind(kind)
    return {
        "lam": f"{kind}_lam",
        "switch": f"{kind}_entropy",
        "placement": f"{kind}_placement",
        "stabilized": f"{kind}_stabilized",
        "form": f"{kind}_form",
    }


def _check_kind(kind):
    if kind not in KINDS:
        raise ValueError(f"Argument `kind` must be one of {KINDS}. Received: kind={kind!r}")


class LogUniform:
    """A log-uniform range of entropy strengths, optionally with 0 as a baseline.

    With `baseline=True` the space has a Boolean `<kind>_entropy` (on by
    default) and, when it is on, a `<kind>_lam` drawn log-uniformly from
    `[low, high]`; when it is off the model gets no penalty (lambda = 0).

    Args:
        low: the lower bound, `0 < low < high`, finite.
        high: the upper bound, finite.
        baseline: include "no penalty" in the search (default True).

    A strength between 1e-4 and 0.1, or none: `EntropySearch(lam=LogUniform(1e-4, 1e-1))`.

    >>> LogUniform(1e-4, 1e-1)
    LogUniform(low=0.0001, high=0.1, baseline=True)
    """

    def __init__(self, low, high, baseline=True):
        self.low = validation.validate_positive(low, "low")
        self.high = validation.validate_positive(high, "high")
        if not self.low < self.high:
            raise ValueError(f"Argument `low` must be < `high`. Received: low={low!r}, high={high!r}")
        self.baseline = validation.validate_bool(baseline, "baseline")

    def __repr__(self):
        return f"LogUniform(low={self.low!r}, high={self.high!r}, baseline={self.baseline!r})"


def log_uniform(low, high, baseline=True):
    """Shorthand for `LogUniform(low, high, baseline)`.

    >>> log_uniform(1e-4, 1e-1, baseline=False)
    LogUniform(low=0.0001, high=0.1, baseline=False)
    """
    return LogUniform(low, high, baseline)


def _validate_lam_space(lam):
    if isinstance(lam, LogUniform):
        return lam
    if isinstance(lam, str):
        if lam != "paper":
            raise ValueError(
                f"Argument `lam` must be a float, a list of floats, 'paper' or a LogUniform. Received: lam={lam!r}"
            )
        return list(PAPER_LAMS)
    if isinstance(lam, (list, tuple)):
        if not lam:
            raise ValueError(f"Argument `lam` must not be an empty list. Received: lam={lam!r}")
        values = []
        for value in lam:
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise ValueError(f"Argument `lam` must contain finite numbers. Received: lam={lam!r}")
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
                raise TypeError(f"Keys of `placement` must be non-empty strings. Received: placement={placement!r}")
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
        if (
            not stabilized
            or not all(isinstance(s, bool) for s in stabilized)
            or len(set(stabilized)) != len(stabilized)
        ):
            raise ValueError(
                "Argument `stabilized` must be True, False or a list of distinct booleans, "
                f"e.g. [True, False]. Received: stabilized={stabilized!r}"
            )
        return list(stabilized)
    return [validation.validate_bool(stabilized, "stabilized")]


def _validate_form_space(form):
    """The forms searched (one: a fixed form)."""
    forms = [form] if isinstance(form, str) else form
    if not isinstance(forms, (list, tuple)) or not forms:
        raise ValueError(
            f"Argument `form` must be one of {validation.FORMS} or a non-empty list of them, "
            f"e.g. ['paper', 'normalized']. Received: form={form!r}"
        )
    forms = [validation.validate_form(value, "form") for value in forms]
    if len(set(forms)) != len(forms):
        raise ValueError(f"Argument `form` contains duplicates. Received: form={form!r}")
    return forms


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
        form: the entropy change penalised (see `keras_entropy.DenseEntropy`
            and `ConvEntropy`): `"paper"` (default), `"volume"`,
            `"normalized"`, or a list of them to search (a `Choice`). A
            fixed form other than `"paper"` is a `Fixed` hyperparameter, so
            exported trials record it; a fixed `"paper"` declares nothing.
        grid: the frequency grid of the conv volume forms (None: their
            default, `keras_entropy.regularizers.default_grid`).
        epsilon: the surrogate's epsilon.
        reference: for the `"empirical"` strategy; see `keras_entropy.select_layers`.
        k: for the `"empirical"` strategy; see `keras_entropy.select_layers`.
        statistic: for the `"empirical"` strategy; see `keras_entropy.select_layers`.

    The hyperparameters are named by `hp_names(kind)`. Placement,
    exact/stabilized and form only exist (are active) in trials where the
    penalty is on, so a search does not spend trials on variants of the
    baseline.

    >>> space = EntropySearch(lam=[0.0, 1e-3], form=["paper", "normalized"])
    >>> space.forms
    ['paper', 'normalized']
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
        form="paper",
        grid=None,
    ):
        self.lam = _validate_lam_space(lam)
        self.placements, self.where = _validate_placement_space(placement)
        self.stabilized = _validate_stabilized_space(stabilized)
        self.forms = _validate_form_space(form)
        self.grid = validation.validate_grid(grid)
        self.epsilon = validation.validate_epsilon(epsilon)
        self.reference = reference
        self.k = k
        self.statistic = statistic

    @property
    def tunes_placement(self):
        return len(self.placements) > 1

    def __repr__(self):
        return (
            f"EntropySearch(lam={self.lam!r}, placement={self.placements!r}, "
            f"stabilized={self.stabilized!r}, form={self.forms!r})"
        )

    def declare(self, hp, kind):
        """Declare this space's hyperparameters in `hp`; return the trial's choice.

        Returns:
            dict with `lam` (float, 0 = no penalty), `placement` (the label,
            or None when the penalty is off), `where` (what `place_penalties`
            gets), `stabilized` and `form` (None when the penalty is off).
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
        off = {"lam": 0.0, "placement": None, "where": None, "stabilized": None, "form": None}
        if condition is None and isinstance(lam, float) and lam == 0:
            return off  # a fixed 0: no penalty, nothing else to choose

        def declare_rest():
            placement = self.placements[0]
            if self.tunes_placement:
                placement = hp.Choice(names["placement"], self.placements)
            stabilized = self.stabilized[0]
            if len(self.stabilized) > 1:
                stabilized = hp.Boolean(names["stabilized"], default=True)
            form = self.forms[0]
            if len(self.forms) > 1:
                form = hp.Choice(names["form"], self.forms)
            elif form != "paper":
                form = hp.Fixed(names["form"], form)
            return placement, stabilized, form

        if condition is None:
            placement, stabilized, form = declare_rest()
        else:
            with hp.conditional_scope(*condition):
                placement, stabilized, form = declare_rest()
        if isinstance(lam, float) and lam == 0:
            return off
        return {
            "lam": lam,
            "placement": placement,
            "where": self.where[placement],
            "stabilized": bool(stabilized),
            "form": form,
        }


__all__ = ["EntropySearch", "KINDS", "LogUniform", "hp_names", "log_uniform"]
