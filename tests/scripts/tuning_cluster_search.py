"""A tiny search script run by every process of the loopback cluster in tests/test_tuning_distribute.py.

Not a test module (pytest collects `test_*.py` only). Settings come from the
environment:

    SEARCH_DIR        KerasTuner directory (shared by chief and workers)
    SEARCH_RUN_LOG    JSON Lines file: one line when a worker starts a trial,
                      one when it finishes it
    SEARCH_TRIALS     max_trials
    SEARCH_SLEEP      seconds each epoch sleeps (to have trials in flight)
    SEARCH_TIMEOUT    trial_timeout of run_search
    SEARCH_HEARTBEAT  heartbeat_interval of run_search

The chief prints `BEST <json>` (hyperparameters and score of the best
trial) and `EXPORTED <n>` when the search is done.
"""

import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import keras_tuner  # noqa: E402
import numpy as np  # noqa: E402

from keras_entropy import tuning  # noqa: E402

RUN_LOG = os.environ["SEARCH_RUN_LOG"]
TUNER_ID = os.environ.get("KERASTUNER_TUNER_ID", "tuner0")


def log(event, trial_id):
    line = json.dumps({"event": event, "trial_id": trial_id, "tuner_id": TUNER_ID, "pid": os.getpid()}) + "\n"
    with open(RUN_LOG, "a") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


class Sleep(keras.callbacks.Callback):
    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def on_epoch_end(self, epoch, logs=None):
        time.sleep(self.seconds)


class LoggedRandomSearch(keras_tuner.RandomSearch):
    def run_trial(self, trial, *args, **kwargs):
        log("start", trial.trial_id)
        result = super().run_trial(trial, *args, **kwargs)
        log("end", trial.trial_id)
        return result


@tuning.entropy_hypermodel(
    dense=tuning.EntropySearch(lam=tuning.log_uniform(1e-3, 1.0), placement=["first", "all"]),
    seeds=0,
)
def tiny(hp):
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(4, activation="sigmoid"),
            keras.layers.Dense(6, activation="sigmoid"),
        ]
    )
    model.compile("adam", "mse")
    return model


def main():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(32, 6)).astype("float32")
    tuner = LoggedRandomSearch(
        tiny,
        objective="val_loss",
        max_trials=int(os.environ["SEARCH_TRIALS"]),
        seed=3,
        directory=os.environ["SEARCH_DIR"],
        project_name="search",
    )
    tuning.run_search(
        tuner,
        x,
        x,
        validation_data=(x, x),
        epochs=2,
        batch_size=16,
        verbose=0,
        callbacks=[Sleep(float(os.environ.get("SEARCH_SLEEP", "0")))],
        trial_timeout=float(os.environ["SEARCH_TIMEOUT"]),
        heartbeat_interval=float(os.environ["SEARCH_HEARTBEAT"]),
        idle_interval=0.2,
        poll_interval=0.2,
    )
    if tuning.cluster_role() == "chief":
        values, score, name = tuning.best_trial_summary(tuner)
        out = tuning.export_trials(tuner, os.path.join(os.environ["SEARCH_DIR"], "results.jsonl"))
        print("EXPORTED", out["exported"], flush=True)
        print("REISSUED " + json.dumps(list(tuner.oracle.reissued)), flush=True)
        print("BEST " + json.dumps({"hyperparameters": values, "score": score, "objective": name}), flush=True)


if __name__ == "__main__":
    main()
