"""Softmax-entropy clustering loss (seed 000; MATH.md section 5)."""

import keras

from keras_entropy import distribution, validation
from keras_entropy import ops as entropy_ops


@keras.saving.register_keras_serializable(package="keras_entropy")
class SoftmaxEntropyLoss(keras.losses.Loss):
    r"""Unsupervised clustering loss: confident per input, balanced overall.

    $$
    L = \operatorname*{mean}_{\text{batch}} H(q) + \mathrm{balance} \cdot \bigl(\log N - H(\langle q\rangle)\bigr),
    \qquad q = \operatorname{softmax}(-\beta X), \quad H(q) = -\sum_i q_i \log q_i
    $$

    For network outputs `X` (`N` units per input) and `q = softmax(-beta X)`:

        L = mean_batch H(q) + balance * (log N - H(<q>))

    with `H(q) = -sum_i q_i log q_i` and `<q>` the batch-mean distribution.
    The first term wants each input's distribution to be a delta; the second
    (the KL divergence of `<q>` from uniform) keeps the batch spread over all
    `N` clusters. `balance=0` leaves the plain mean entropy. Its gradient is
    seed 000's eq. 10, `dH/dX_k = beta^2 q_k (sum_i X_i q_i - X_k)`.

    Labels are ignored: the loss is a property of a batch of outputs, so it
    returns one scalar per batch and `sample_weight` does not apply. Train
    without labels by passing `x` alone:

    >>> import keras, numpy as np, keras_entropy
    >>> model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])
    >>> model.compile(optimizer="adam", loss=keras_entropy.SoftmaxEntropyLoss())
    >>> x = np.random.default_rng(0).normal(size=(32, 64)).astype("float32")
    >>> history = model.fit(x, epochs=1, verbose=0)

    Note the sign: the cluster probabilities are `softmax(-beta X)`, so the
    predicted cluster of an input is `argmin(X)` (seed 000's convention).

    Several devices: "the batch" is the global batch. Under
    `tf.distribute` (`MirroredStrategy`, `MultiWorkerMirroredStrategy`) both
    `mean_batch H(q)` and `<q>` are all-reduced over the replicas (sums of
    the local sums and of the local sample counts, so an unequal last batch
    is exact too; see `keras_entropy.distribution`), and each replica
    returns `L / num_replicas`, the scaling Keras gives its own losses, so
    that the optimizer's sum of the replicas' gradients is the gradient of
    `L`. Training on `R` replicas with a global batch of `B` is then the same
    as training on one device with batches of `B` (to float32 rounding).
    Under JAX (`keras.distribution.DataParallel`) the step is a function of
    the global batch already. A direct call outside a distributed step
    returns `L` of the batch it is given.

    Args:
        beta: inverse temperature, > 0 (default 1.0), in the inverse units of
            the outputs `X`.
        balance: weight of the uniform-marginal term, >= 0 (default 1.0).
            The loss is in nats.
        name: the loss's name (default `"softmax_entropy"`).
        **kwargs: `reduction`, `dtype`: as for `keras.losses.Loss`.
    """

    def __init__(self, beta=1.0, balance=1.0, name="softmax_entropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.beta = validation.validate_positive(beta, "beta")
        self.balance = validation.validate_non_negative(balance, "balance")

    def __call__(self, y_true, y_pred, sample_weight=None):
        if y_true is None:  # unsupervised: `fit(x)` passes no labels
            y_true = keras.ops.zeros((), dtype=self.dtype)
        return super().__call__(y_true, y_pred, sample_weight)

    def call(self, y_true, y_pred):
        del y_true
        loss = entropy_ops.softmax_entropy_clustering_loss(
            y_pred, beta=self.beta, balance=self.balance, batch_mean=distribution.global_batch_mean
        )
        return distribution.scale_loss(loss)

    def get_config(self):
        config = super().get_config()
        config.update({"beta": self.beta, "balance": self.balance})
        return config
