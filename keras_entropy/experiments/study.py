"""The machinery of a tuned study: grid searches on a validation split, in portions bounded by CPU time.

The studies of issue 12 (examples/dense_autoencoder_study.py,
examples/cnn_study.py) search each configuration's hyperparameters with a
KerasTuner grid search (`keras_entropy.tuning.grid_search`), then train the
chosen ones with several seeds. Both run for hours on a CPU, so they run in
portions: a CPU-time budget (`--cpu-minutes`: `deadline`, `time_is_up`,
`TimeUp`) stops them between two trials or runs,
and the same command resumes, from KerasTuner's project directories and
the sweep's results file. `study_command` and `finish` are the summary's
command and the script's last words.

Only the standard library is imported here, so that a script's --help starts no Keras.
"""

import math
import os
import time


class TimeUp(Exception):
    """The CPU budget is used up: no new trial or run starts."""


#: What a study prints when its budget stops it.
TIME_UP_MESSAGE = "--cpu-minutes reached: finished trials and runs are saved; run the same command again to resume"


def deadline(cpu_minutes):
    """The process CPU time (seconds, all threads) at which a budget of `cpu_minutes` ends (None: never).

    The budget is the whole process's, Keras's start-up included, as --cpu-minutes says.
    """
    return 60 * cpu_minutes if cpu_minutes else math.inf


def time_is_up(deadline_s):
    """True once the process's CPU time (all threads) passed `deadline_s` seconds."""
    return time.process_time() > deadline_s


def finish(run, summary, table, sentences):
    """A study's last words: the report (`run.report`), the verdict's sentences; an empty `tuner/` removed."""
    import shutil

    run.report(summary, table, writes="tuner/, trials.jsonl, trials.csv, figures")
    for sentence in sentences:
        print(sentence)
    if os.path.isdir(run.path("tuner")) and not os.listdir(run.path("tuner")):
        shutil.rmtree(run.path("tuner"))


#: The environment a study's command states (OpenBLAS threads: the JAX backend's linear algebra runs through
#: the OpenBLAS that scipy bundles, whose idle threads spin and slow a shared CPU several times).
ENVIRONMENT = ("KERAS_BACKEND", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")


def study_command(script, argv):
    """A study's command for its summary.md: its `ENVIRONMENT`, the script and its arguments (but --report-only)."""
    from keras_entropy.experiments.script_setup import command_line

    env = [f"{name}={os.environ[name]}" for name in ENVIRONMENT if name in os.environ]
    return " ".join(env + [command_line(script, argv)])


__all__ = [
    "ENVIRONMENT",
    "TIME_UP_MESSAGE",
    "TimeUp",
    "deadline",
    "finish",
    "study_command",
    "time_is_up",
]
