"""Distributed search: one chief serves the oracle, workers run trials.

KerasTuner's distributed mode runs the same search script in every process;
the `KERASTUNER_ORACLE_IP`, `KERASTUNER_ORACLE_PORT` and `KERASTUNER_TUNER_ID`
environment variables give each process its role (`cluster_role`).

- `chief.serve_chief`: the chief's gRPC server, which reaps silent workers
  (with a `keras_entropy.tuning.oracle.FaultTolerantOracle`);
- `worker.HeartbeatClient`: a worker's oracle client that sends heartbeats;
- `cluster.LoopbackCluster`: a chief and N workers on one machine
  (`python -m keras_entropy.tuning.distribute.cluster`, also
  `python -m keras_entropy.tuning_cluster`); standard library (and
  `keras_entropy.validation`) only, and not imported here, so that `python -m` runs it cleanly.
"""

from keras_entropy.tuning import _keras_tuner_compat as compat
from keras_entropy.tuning.distribute.chief import serve_chief
from keras_entropy.tuning.distribute.worker import HeartbeatClient


def cluster_role():
    """`"chief"`, `"worker"` or None (not distributed), from the KERASTUNER_* variables."""
    if not compat.has_chief_oracle():
        return None
    return "chief" if compat.is_chief_oracle() else "worker"


__all__ = ["HeartbeatClient", "cluster_role", "serve_chief"]
