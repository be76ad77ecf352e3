"""The worker's side: heartbeats to the chief while a trial runs, patience when idle."""

import threading
import time

from keras_entropy import validation
from keras_entropy.tuning._keras_tuner_compat import TrialStatus


class HeartbeatClient:
    """Wraps a worker's `OracleClient`: heartbeats while a trial runs, waits when idle.

    While a trial runs, a daemon thread calls the chief's `get_trial` every
    `interval` seconds, so the chief knows the worker is alive. When the
    chief answers IDLE, the worker waits `idle_interval` seconds before asking
    again (KerasTuner would otherwise ask in a tight loop). Every other call
    goes to `client` unchanged.

    Args:
        client: the worker's KerasTuner `OracleClient` (`tuner.oracle` on a
            worker).
        interval: seconds between two heartbeats (default 10).
        idle_interval: seconds to wait after an IDLE answer (default 1).

    On a worker, `run_search` does this by itself (with its
    `heartbeat_interval`):

    ```python
    tuner.oracle = HeartbeatClient(tuner.oracle, interval=10.0)
    ```
    """

    def __init__(self, client, interval=10.0, idle_interval=1.0):
        self._client = client
        self.interval = validation.validate_positive(interval, "interval")
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
        if trial.status == TrialStatus.RUNNING:
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._beat,
                args=(trial.trial_id, self._stop),
                name=f"keras-entropy-heartbeat-{trial.trial_id}",
                daemon=True,
            )
            self._thread.start()
        elif trial.status == TrialStatus.IDLE:
            time.sleep(self.idle_interval)
        return trial

    def end_trial(self, trial):
        self._stop_heartbeat()
        return self._client.end_trial(trial)


__all__ = ["HeartbeatClient"]
