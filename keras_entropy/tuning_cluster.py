"""Start a KerasTuner chief and N workers on one machine: `keras_entropy.tuning.distribute.cluster`.

This module name is kept for `python -m keras_entropy.tuning_cluster` and
for `from keras_entropy.tuning_cluster import LoopbackCluster`; the code
lives in `keras_entropy.tuning.distribute.cluster`.
"""

import sys

from keras_entropy.tuning.distribute.cluster import (  # noqa: F401 - re-exported
    CHIEF_ID,
    LoopbackCluster,
    cluster_env,
    free_port,
    main,
    parse_args,
)

__all__ = ["CHIEF_ID", "LoopbackCluster", "cluster_env", "free_port", "main", "parse_args"]

if __name__ == "__main__":
    sys.exit(main())
