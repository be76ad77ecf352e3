"""Train-step cost of every penalty form, against no penalty and OrthogonalRegularizer.

Issue 11's goals, as ratios to a baseline timed in the same run (every
model fitted round by round, one epoch each, the fastest round:
`overhead.time_steps` with `statistic=min`, since on a shared machine
whole rounds fall into slow modes that have nothing to do with the model):

  (a) the paper's 784 -> 260 -> 784 sigmoid autoencoder, batch 256, the
      penalty on the encoder kernel: the volume and normalized forms cost at
      most 1.2x what `keras.regularizers.OrthogonalRegularizer` costs (the
      nearest peer: it also forms the Gram matrix), and the paper form's
      stabilized route at most 1.15x the unpenalised step;
  (b) the paper's 3-block CIFAR-shaped CNN (32x32x3, width 64), batch 128,
      the penalty on the first conv (its 30x30 output, the default grid):
      the volume forms at most 1.25x the unpenalised step. The peer here is
      OrthogonalRegularizer on the kernel reshaped to `(p q c_in, c_out)`
      (Keras's takes rank-2 kernels only).

    KERAS_BACKEND=tensorflow python benchmarks/form_cost.py
    KERAS_BACKEND=jax python benchmarks/form_cost.py --families autoencoder

Prints one markdown table per model: ms per step, ratio to no penalty,
ratio to the peer, and the goal that applies.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
from overhead import autoencoder, cnn, data, time_steps  # noqa: E402

import keras_entropy as ke  # noqa: E402

FORMS = ("paper", "volume", "normalized")
PEER = "OrthogonalRegularizer"


def conv_orthogonal(lam):
    """OrthogonalRegularizer on a conv kernel reshaped to (p q c_in, c_out): rank 2 only in Keras."""
    peer = keras.regularizers.OrthogonalRegularizer(lam)
    return lambda kernel: peer(keras.ops.reshape(kernel, (-1, kernel.shape[-1])))


def penalties(family, lam=0.01):
    """name -> regularizer factory: every form, stabilized and exact, and the peer."""
    if family == "cnn":
        make = lambda form, stab: ke.ConvEntropy(lam, output_shape=(30, 30), form=form, stabilized=stab)  # noqa: E731
    else:
        make = lambda form, stab: ke.DenseEntropy(lam, form=form, stabilized=stab)  # noqa: E731
    peer = (
        (lambda: conv_orthogonal(lam)) if family == "cnn" else (lambda: keras.regularizers.OrthogonalRegularizer(lam))
    )
    out = {"none": None, PEER: peer}
    for form in FORMS:
        for stabilized in (True, False):
            name = f"{form}, {'stabilized' if stabilized else 'exact'}"
            out[name] = lambda form=form, stabilized=stabilized: make(form, stabilized)
    return out


def goal(family, name):
    if family == "autoencoder" and name == "paper, stabilized":
        return "none", 1.15
    if family == "autoencoder" and name.split(",")[0] in ("volume", "normalized"):
        return "peer", 1.2
    if family == "cnn" and name.split(",")[0] in ("volume", "normalized"):
        return "none", 1.25
    return None, None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50, help="train steps per epoch")
    parser.add_argument("--rounds", type=int, default=10, help="timed epochs per configuration")
    parser.add_argument("--families", nargs="+", default=["autoencoder", "cnn"], choices=["autoencoder", "cnn"])
    args = parser.parse_args()
    batch = {"autoencoder": 256, "cnn": 128}
    print(f"backend: {keras.backend.backend()}, {args.steps} steps per round, fastest of {args.rounds} rounds")
    for family in args.families:
        x, y = data(family, batch[family], args.steps)
        build = (lambda p: autoencoder(p)) if family == "autoencoder" else (lambda p: cnn(p, "first", 64))
        models = {name: build(make) for name, make in penalties(family).items()}
        ms = time_steps(models, x, y, batch[family], args.steps, args.rounds, statistic=min)
        print(f"\n{family}, batch {batch[family]}:\n")
        print("| penalty | ms / step | ratio to none | ratio to peer | goal | met |")
        print("| --- | ---: | ---: | ---: | --- | --- |")
        for name in models:
            against, bound = goal(family, name)
            ratio = {"none": ms[name] / ms["none"], "peer": ms[name] / ms[PEER]}
            met = "" if bound is None else ("yes" if ratio[against] <= bound else "no")
            text = "" if bound is None else f"<= {bound}x {against}"
            print(f"| {name} | {ms[name]:.2f} | {ratio['none']:.3f} | {ratio['peer']:.3f} | {text} | {met} |")


if __name__ == "__main__":
    main()
