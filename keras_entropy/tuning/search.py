"""Run a search: `run_search` (fault tolerant when distributed) and `report_trials`.

`run_search(tuner, ...)` is `tuner.search(...)` in a single process; in a
distributed search it makes the chief's oracle fault tolerant
(`keras_entropy.tuning.oracle`) and serves it (`distribute.chief`), and
gives each worker heartbeats (`distribute.worker`). `report_trials` prints
one line per finished trial.
"""

import time

from keras_entropy import validation
from keras_entropy.experiments import sweeps
from keras_entropy.tuning.distribute import HeartbeatClient, cluster_role, serve_chief
from keras_entropy.tuning.oracle import DEFAULT_TRIAL_TIMEOUT, make_fault_tolerant


def run_search(
    tuner,
    *fit_args,
    trial_timeout=DEFAULT_TRIAL_TIMEOUT,
    heartbeat_interval=10.0,
    idle_interval=1.0,
    poll_interval=0.5,
    progress=False,
    **fit_kwargs,
):
    """`tuner.search(*fit_args, **fit_kwargs)`, fault tolerant when distributed.

    Not distributed (no `KERASTUNER_ORACLE_IP`): exactly `tuner.search`.
    On the chief (`KERASTUNER_TUNER_ID` contains "chief"): sets
    `tuner.oracle = make_fault_tolerant(tuner.oracle, trial_timeout)` and
    serves it until every trial has ended and every worker has been told to
    stop or forgotten, then returns. On a worker: runs trials,
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
            (`keras_entropy.experiments.sweeps.Progress`); pair it with `verbose=0`.
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
        tuner.oracle = make_fault_tolerant(tuner.oracle, trial_timeout)
        if "verbose" in fit_kwargs:
            tuner.oracle.verbose = fit_kwargs["verbose"]
        tuner.save()
        serve_chief(tuner, poll_interval)
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
    (best so far ...), T s`; see `keras_entropy.experiments.sweeps.Progress`.

    Args:
        tuner: a KerasTuner tuner.
        total: the trials expected (None: unknown, e.g. Hyperband).
        log: function for the lines (default `print`; None: silent).

    `run_search` reports its trials so; around a search of your own:

    ```python
    with report_trials(tuner, total=12):
        tuner.search(x, y, epochs=5, validation_data=(x_val, y_val))
    ```
    """

    def __init__(self, tuner, total=None, log=print):
        self.tuner = tuner
        self.total = total
        self.log = log

    def __enter__(self):
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


__all__ = ["report_trials", "run_search"]
