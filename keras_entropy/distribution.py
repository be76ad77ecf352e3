"""Batch statistics over the global batch of data-parallel training.

Most of the package's terms need nothing from this module: a weight penalty
(`DenseEntropy`, `ConvEntropy`, `EntropyDense`, `EntropyConv2D`) has the same
value on every replica, and Keras already turns per-replica copies of it into
one term. A term that is a *nonlinear function of a batch mean* is different:
the balance term `log N - H(<q>)` of `SoftmaxEntropyLoss` (MATH.md section 5)
computed from each replica's share of the batch is not the term of the whole
batch. This module takes such means over the global batch.

Where the batch is global already, nothing is done:

- JAX (`keras.distribution.DataParallel`, also over several processes with
  `jax.distributed`): the training step is one jit-compiled function of the
  global, sharded batch, so a plain `ops.mean` is the global mean;
- PyTorch: Keras has no multi-device data parallelism for torch, so a batch
  is one device's batch;
- TensorFlow outside a `tf.distribute` replica context, or with one replica.

Under `tf.distribute` (`MirroredStrategy`, `MultiWorkerMirroredStrategy`,
...) each replica traces its own copy of the step, and the mean is an
all-reduce: the SUM of the local sums and the SUM of the local sample counts,
so a last batch split unequally between replicas is still averaged exactly.
The gradient of `ReplicaContext.all_reduce(SUM)` is itself an all-reduce
SUM, which makes the result differentiable with the right gradient once the
per-replica loss is divided by the number of replicas (`scale_loss`; Keras
does the same to its own losses, and the optimizer sums the replicas'
gradients).

This is the one module of the package that touches `tf.distribute`;
TensorFlow is imported only when the Keras backend is TensorFlow.
"""

import itertools
import threading
import weakref

import keras
from keras import ops


def _tf_replica_context():
    """The TF replica context of a step running on several replicas, else None."""
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync <= 1:
        # None: cross-replica context (e.g. inside `strategy.scope()` but not
        # in `strategy.run`); there is no batch of one replica to reduce.
        return None
    return context


def num_replicas():
    """How many replicas compute the current step together (1 if not distributed).

    Only `tf.distribute` replicates the step; under JAX and PyTorch, and on
    TensorFlow outside a replica context, this is 1.
    """
    context = _tf_replica_context()
    return 1 if context is None else context.num_replicas_in_sync


def global_batch_mean(values):
    """Mean over axis 0 of `values`, taken over the global batch.

    Args:
        values: a `(samples, features)` float tensor holding this replica's
            samples.

    Returns:
        A `(features,)` tensor: the sum of `values` over the samples of all
        replicas divided by their total number, identical on every replica.
        Without several `tf.distribute` replicas it is `ops.mean(values, 0)`.
        Differentiable: the gradient reaches every replica's `values`.
    """
    context = _tf_replica_context()
    if context is None:
        return ops.mean(values, axis=0)
    import tensorflow as tf

    count = ops.cast(ops.shape(values)[0], values.dtype)
    local = ops.concatenate([ops.sum(values, axis=0), ops.expand_dims(count, 0)], axis=0)
    total = _all_reduce_sum(tf, context, local)
    return total[:-1] / total[-1]


def _all_reduce_sum(tf, context, value):
    """Differentiable all-reduce SUM of `value` over the replicas.

    `ReplicaContext.all_reduce` is the public route, and its gradient is an
    all-reduce SUM too. With several replicas in one process
    (`MirroredStrategy`) it goes through `merge_call`, which pauses this
    replica's thread while the others run their step up to the same point:
    a layer's `add_loss` list (shared by the replicas' threads, cleared at
    the start of each call) then holds another replica's terms when this
    replica reads `model.losses`, and those terms' gradients are lost.
    Inside a `tf.function`, `MirroredStrategy` can launch its collective ops
    from the replica itself, without `merge_call` (what it does under XLA on
    GPUs); that route is taken here when the strategy has them, through
    collective ops of this module's own (`_own_collective_ops`): the
    strategy's would reuse the collective keys of an earlier strategy.
    """
    extended = context.strategy.extended
    # Private TensorFlow attributes (TF 2.16-2.21): the strategy's collective
    # ops and this replica's index among the local devices. Without them,
    # the public route.
    collective = getattr(extended, "_collective_ops", None)
    local_replicas = len(getattr(extended, "worker_devices", ()))
    replica_id = getattr(context, "_replica_id", None)
    if replica_id is not None and not isinstance(replica_id, int):
        replica_id = tf.get_static_value(replica_id)
    if (
        local_replicas < 2
        or tf.executing_eagerly()
        or type(collective).__name__ != "CollectiveAllReduce"
        or not hasattr(collective, "_all_reduce")
        or replica_id is None
        or (own := _own_collective_ops(extended, collective)) is None
    ):
        return context.all_reduce(tf.distribute.ReduceOp.SUM, value)
    # RING: no NCCL launch to order against the strategy's own collectives.
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.RING
    )

    @tf.custom_gradient
    def reduce(x):
        def grad(dy):
            return own._all_reduce(tf.distribute.ReduceOp.SUM, dy, replica_id, options)

        return own._all_reduce(tf.distribute.ReduceOp.SUM, x, replica_id, options), grad

    return reduce(value)


#: Group keys of `_own_collective_ops`, one per strategy, far above the
#: strategies' own (which start at 1).
_GROUP_KEYS = itertools.count(1 << 30)
#: `MirroredExtended` (or `CollectiveAllReduceExtended`) -> its `_own_collective_ops`.
_OWN_COLLECTIVE_OPS = weakref.WeakKeyDictionary()
_OWN_COLLECTIVE_OPS_LOCK = threading.Lock()


def _own_collective_ops(extended, collective):
    """Collective all-reduce over `collective`'s devices, under a group key of its own.

    Every `tf.distribute` strategy numbers its collectives from the same
    start (group key 1, instance keys 100, 101, ...), while TensorFlow's
    collective runtime remembers, for the life of the process, the shape of
    each (group, instance) it has run. The strategy's own collective ops
    thus fail on a second strategy in the process as soon as an instance
    key comes back with another shape ("Shape mismatch in the collective
    instance 100"); TensorFlow's own gradient all-reduce has that bug too
    (tensorflow/tensorflow#62790). These ops, built once per strategy
    (under a lock: the replicas trace the step in their own threads), take
    a group key that no strategy and no earlier call here took, and number
    their instances within it. The keys are drawn in the order strategies
    first reduce here, the same on every worker of a multi-worker strategy
    that runs the same program. None where TensorFlow lacks the private
    classes used here (the caller then takes the public route).
    """
    try:
        from tensorflow.python.distribute import cross_device_ops, cross_device_utils
    except ImportError:
        return None
    with _OWN_COLLECTIVE_OPS_LOCK:
        own = _OWN_COLLECTIVE_OPS.get(extended)
        if own is None:
            own = cross_device_ops.CollectiveAllReduce(
                devices=collective._devices,
                group_size=collective._group_size,
                options=collective._options,
                collective_keys=cross_device_utils.CollectiveKeys(group_key_start=next(_GROUP_KEYS)),
                canonicalize_devices=collective._canonicalize_devices,
            )
            _OWN_COLLECTIVE_OPS[extended] = own
        return own


def scale_loss(value):
    """`value / num_replicas()`: a loss computed identically on every replica.

    A global-batch loss (e.g. one built on `global_batch_mean`) has the same
    value on every replica; the optimizer sums the replicas' gradients, so
    each replica contributes `1 / num_replicas` of it. This is the scaling
    Keras's own losses get (`keras.losses.Loss` with the default reduction);
    a loss returning a scalar from `call` does not get it, so it applies it
    itself.
    """
    replicas = num_replicas()
    if replicas == 1:
        return value
    return value * ops.cast(1.0 / replicas, value.dtype)


__all__ = ["global_batch_mean", "num_replicas", "scale_loss"]
