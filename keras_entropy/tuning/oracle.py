"""Fault tolerance for the chief's oracle: re-issue the trials of silent workers.

`FaultTolerantOracle` is a mixin for any KerasTuner oracle class;
`fault_tolerant_class(cls)` is the subclass `FaultTolerant<cls>` (one per
oracle class), constructed like `cls` plus a `trial_timeout` argument.
`make_fault_tolerant(oracle)` makes such an oracle from one a tuner already
made (the oracle's state carries over; the tuner must use the returned
oracle, which `keras_entropy.tuning.run_search` arranges).
"""

import copy
import time

from keras_entropy import validation
from keras_entropy.tuning._keras_tuner_compat import Oracle, Trial, TrialStatus, synchronized

#: Default seconds of silence after which a worker is taken for dead.
DEFAULT_TRIAL_TIMEOUT = 600.0


class FaultTolerantOracle:
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

    Mix it in before a KerasTuner oracle class (`fault_tolerant_class` does):
    `__init__` takes the oracle's arguments plus `trial_timeout`.

    Attributes:
        trial_timeout: the seconds of silence above (default 600).
        reissued: the ids of the trials handed to another worker.

    `run_search` makes the chief's oracle fault tolerant by itself; by hand:

    >>> import keras_tuner
    >>> from keras_entropy.tuning import fault_tolerant_class
    >>> cls = fault_tolerant_class(keras_tuner.oracles.RandomSearchOracle)
    >>> oracle = cls(objective="val_loss", max_trials=4, trial_timeout=60)
    >>> cls.__name__, oracle.trial_timeout
    ('FaultTolerantRandomSearchOracle', 60.0)
    """

    def __init__(self, *args, trial_timeout=DEFAULT_TRIAL_TIMEOUT, **kwargs):
        super().__init__(*args, **kwargs)
        self.init_fault_tolerance(trial_timeout)

    @classmethod
    def from_oracle(cls, oracle, trial_timeout=DEFAULT_TRIAL_TIMEOUT):
        """A new oracle of this class with the state of `oracle` (of a base class of `cls`).

        The new oracle shares `oracle`'s containers (trials, ongoing trials,
        ...): use it instead of `oracle`, not beside it.
        """
        if not isinstance(oracle, Oracle) or type(oracle) not in cls.__mro__:
            raise TypeError(
                f"Argument `oracle` must be an oracle of a base class of {cls.__name__}. Received: oracle={oracle!r}"
            )
        new = cls.__new__(cls)
        new.__dict__.update(vars(oracle))  # the same trials, space, project directory, ...
        for name, value in vars(oracle).items():
            if getattr(value, "oracle", None) is oracle:  # e.g. KerasTuner's display
                value = copy.copy(value)
                value.oracle = new
                new.__dict__[name] = value
        new.init_fault_tolerance(trial_timeout)
        return new

    def init_fault_tolerance(self, trial_timeout, clock=time.monotonic):
        """Set `trial_timeout` and start with no worker seen (`clock` gives the time)."""
        self.trial_timeout = validation.validate_positive(trial_timeout, "trial_timeout")
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
            if (
                trial is not None
                and trial.trial_id not in self.end_order
                and trial.trial_id not in self._retry_queue
                and all(t.trial_id != trial.trial_id for t in self.ongoing_trials.values())
            ):
                self._retry_queue.append(trial.trial_id)
                self.reissued.append(trial.trial_id)
                message += f"; trial {trial.trial_id} will run on another worker"
            print(message, flush=True)
        if changed:
            self.save()

    @synchronized
    def reap(self):
        """Forget the workers silent for more than `trial_timeout` seconds."""
        self._reap()

    @synchronized
    def create_trial(self, tuner_id):
        self._touch_tuner(tuner_id)
        self._reap()
        trial = super().create_trial(tuner_id)
        if trial.status == TrialStatus.STOPPED:
            if self.ongoing_trials:
                # Others are still running: wait, in case one of them dies.
                self.tuner_ids.add(tuner_id)
                return Trial(self.get_space(), trial_id=trial.trial_id, status=TrialStatus.IDLE)
            self._last_seen.pop(tuner_id, None)
        return trial

    @synchronized
    def get_trial(self, trial_id):
        self._touch_trial(trial_id)
        return super().get_trial(trial_id)

    @synchronized
    def update_trial(self, trial_id, metrics, step=0):
        self._touch_trial(trial_id)
        if trial_id in self.end_order:
            return self.trials[trial_id]  # a late result of a re-issued trial
        return super().update_trial(trial_id, metrics, step=step)

    @synchronized
    def end_trial(self, trial):
        self._touch_trial(trial.trial_id)
        if trial.trial_id in self.end_order:
            print(f"[fault tolerance] trial {trial.trial_id} already ended: late result ignored", flush=True)
        else:
            super().end_trial(trial)
        if trial.trial_id in self.end_order:
            # Whoever else still runs it (a presumed-dead worker) is no longer tracked.
            for tuner_id in [t for t, o in self.ongoing_trials.items() if o.trial_id == trial.trial_id]:
                self.ongoing_trials.pop(tuner_id)


_CLASSES = {}


def fault_tolerant_class(oracle_class):
    """The oracle class `FaultTolerant<oracle_class>`: `FaultTolerantOracle` + `oracle_class`.

    Made once per class. Construct it as `oracle_class`, plus `trial_timeout`.
    """
    if not isinstance(oracle_class, type) or not issubclass(oracle_class, Oracle):
        raise TypeError(
            f"Argument `oracle_class` must be a subclass of keras_tuner.Oracle. Received: oracle_class={oracle_class!r}"
        )
    if issubclass(oracle_class, FaultTolerantOracle):
        return oracle_class
    if oracle_class not in _CLASSES:
        _CLASSES[oracle_class] = type(
            f"FaultTolerant{oracle_class.__name__}",
            (FaultTolerantOracle, oracle_class),
            {"__module__": __name__, "__doc__": FaultTolerantOracle.__doc__},
        )
    return _CLASSES[oracle_class]


def make_fault_tolerant(oracle, trial_timeout=DEFAULT_TRIAL_TIMEOUT):
    """A fault-tolerant (chief's) oracle with the state of `oracle`.

    Works for the oracle of any KerasTuner tuner: returns an oracle of
    `fault_tolerant_class(type(oracle))` that carries `oracle`'s state (the
    same trials, space and project directory); use it instead of `oracle`,
    e.g. `tuner.oracle = make_fault_tolerant(tuner.oracle)`. An oracle that
    is already fault tolerant is returned with its `trial_timeout` updated.
    """
    if not isinstance(oracle, Oracle):
        raise TypeError(f"Argument `oracle` must be a keras_tuner.Oracle. Received: oracle={oracle!r}")
    trial_timeout = validation.validate_positive(trial_timeout, "trial_timeout")
    if isinstance(oracle, FaultTolerantOracle):
        oracle.trial_timeout = trial_timeout
        return oracle
    return fault_tolerant_class(type(oracle)).from_oracle(oracle, trial_timeout)


__all__ = ["DEFAULT_TRIAL_TIMEOUT", "FaultTolerantOracle", "fault_tolerant_class", "make_fault_tolerant"]
