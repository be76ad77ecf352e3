"""A CPU-time budget (`--cpu-minutes`): long searches and sweeps stop between two trials or runs, and resume.

The tuned studies (examples/dense_autoencoder_study.py, examples/cnn_study.py)
run for hours on a CPU, so they run in portions: `deadline` turns the budget
into a process CPU time, `time_is_up` is checked before each trial
(`keras_entropy.tuning.grid_search`) and each final run
(`keras_entropy.experiments.study.StudyPlan.budgeted`), and `TimeUp` carries
the stop to the script, which prints `TIME_UP_MESSAGE`. Standard library
only, so that `keras_entropy.tuning` imports it without the harness.

>>> deadline(0.5), deadline(None)
(30.0, inf)
>>> time_is_up(deadline(None))
False
"""

import math
import time


class TimeUp(Exception):
    """The CPU budget is used up: no new trial or run starts."""


#: What a study prints when its budget stops it.
TIME_UP_MESSAGE = "--cpu-minutes reached: finished trials and runs are saved; run the same command again to resume"


def deadline(cpu_minutes):
    """The process CPU time (seconds, all threads) at which a budget of `cpu_minutes` ends (None or 0: never).

    The budget is the whole process's, Keras's start-up included, as --cpu-minutes says.
    """
    return 60 * cpu_minutes if cpu_minutes else math.inf


def time_is_up(deadline_s):
    """True once the process's CPU time (all threads) passed `deadline_s` seconds."""
    return time.process_time() > deadline_s


__all__ = ["TIME_UP_MESSAGE", "TimeUp", "deadline", "time_is_up"]
