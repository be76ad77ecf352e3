"""The measurements of benchmarks/gpu_check.py: one unit per process, on the backend of KERAS_BACKEND.

Keras picks its backend once per process, so benchmarks/gpu_check.py runs
each unit here in a child process and reads what it appends to the results
file (one JSON line per measurement, written as soon as it is made, so that
a unit stopped by the time guard keeps what it reached):

    KERAS_BACKEND=jax python benchmarks/gpu_units.py ops --results R.jsonl [--small]
    KERAS_BACKEND=torch python benchmarks/gpu_units.py ratios --model cnn --mode eager --results R.jsonl

Units:
  probe   the devices the backend sees and the versions (one line).
  ops     every penalty (paper, volume, normalized; Dense and Conv; exact and
          stabilized) on synthetic kernels of the paper's shapes: its value on
          the accelerator against the same kernel on the CPU, in one process
          (JAX's `jax_default_matmul_precision="highest"`, TF32 off in PyTorch
          and TensorFlow), and whether its gradient on the accelerator is finite.
  ratios  the train-step time of one model with each stabilized form against
          the same model without a penalty, measured interleaved in this
          process (`overhead.time_steps`: every model warmed up, then one
          epoch of each per round, the median over rounds). Models: the
          784-260-784 autoencoder (batch 256, DenseEntropy on both kernels), the
          3-block CNN (64 filters, batch 128), `keras.applications.VGG16` and
          `ResNet50` (`weights=None`, 224x224x3, batch 32) and the U-Net of the
          segmentation example (256x256x3, batch 8), each with `ConvEntropy` on
          every convolution (`keras_entropy.place_penalties(model, "all")`).
          Modes: `jit` (compiled: XLA on JAX and TensorFlow), `eager`
          (PyTorch's eager), `compiled` (PyTorch's `torch.compile`, Keras's
          `jit_compile=True`).

`--small` shrinks every shape (kernels, batch, images, steps, rounds) so the
whole check runs on a CPU in seconds (CI); its figures are no GPU figures.
"""

import argparse
import json
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from overhead import time_steps  # noqa: E402

import keras_entropy as ke  # noqa: E402
from keras_entropy.validation import FORMS  # noqa: E402

MODELS = ("autoencoder", "cnn", "vgg16", "resnet50", "unet")
MODES = ("jit", "eager", "compiled")
#: Kernel shapes of the ops check: the autoencoder's two kernels, a square one; the CNN's first and later convs.
OP_SHAPES = {"dense": [(784, 260), (260, 784), (256, 256)], "conv": [(3, 3, 3, 64), (3, 3, 64, 64)]}
SMALL_OP_SHAPES = {"dense": [(20, 12), (12, 20)], "conv": [(3, 3, 2, 4)]}
#: Relative difference allowed between a penalty on the accelerator and on the CPU, in float32 at full precision.
OP_RTOL = 1e-4
#: (batch, steps per epoch, timed rounds) of the ratios, and the small mode's.
TIMING = {"full": (None, 20, 5), "small": (2, 2, 1)}


def backend():
    return keras.backend.backend()


def full_precision():
    """Matmuls in true float32: GPUs default to TF32, which would differ from the CPU by about 1e-3."""
    if backend() == "jax":
        import jax

        jax.config.update("jax_default_matmul_precision", "highest")
    elif backend() == "torch":
        import torch

        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    elif backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_tensor_float_32_execution(False)


def accelerator():
    """The Keras device name of the first accelerator (`"gpu:0"`), or None."""
    if backend() == "jax":
        import jax

        return "gpu:0" if any(d.platform == "gpu" for d in jax.devices()) else None
    if backend() == "torch":
        import torch

        return "gpu:0" if torch.cuda.is_available() else None
    import tensorflow as tf

    return "gpu:0" if tf.config.list_physical_devices("GPU") else None


def probe():
    """Devices and versions of this process's backend."""
    import importlib.metadata as metadata

    info = {"python": platform.python_version(), "versions": {"keras": keras.__version__}, "devices": []}
    for dist in ("keras-entropy", "numpy", "jax", "jaxlib", "torch", "tensorflow"):
        try:
            info["versions"][dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    if backend() == "jax":
        import jax

        info["devices"] = [f"{d.platform}:{d.id} ({d.device_kind})" for d in jax.devices()]
    elif backend() == "torch":
        import torch

        info["versions"]["torch CUDA (built)"] = torch.version.cuda
        info["devices"] = [f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(torch.cuda.device_count())]
        info["devices"] = info["devices"] or ["cpu"]
    else:
        import tensorflow as tf

        info["devices"] = [d.name for d in tf.config.list_physical_devices()]
    return info


# --- ops -------------------------------------------------------------------


def penalties(kind):
    """(name, regularizer) of every form, exact and stabilized, of one layer kind."""
    for form in FORMS:
        for stabilized in (True, False):
            name = f"{'Dense' if kind == 'dense' else 'Conv'}Entropy(form={form!r}, stabilized={stabilized})"
            if kind == "dense":
                yield name, ke.DenseEntropy(0.01, stabilized=stabilized, form=form)
            else:
                yield name, ke.ConvEntropy(0.01, output_shape=(32, 32), stabilized=stabilized, form=form)


def value_and_gradient(regularizer, kernel, device):
    """The penalty of `kernel` and its gradient, computed on `device` (a Keras device name)."""
    with keras.device(device):
        if backend() == "jax":
            import jax

            x = jax.device_put(kernel, jax.devices("gpu" if device.startswith("gpu") else "cpu")[0])
            value, grad = jax.value_and_grad(lambda w: regularizer(w))(x)
            return float(value), np.asarray(grad)
        if backend() == "torch":
            import torch

            x = torch.tensor(kernel, device="cuda" if device.startswith("gpu") else "cpu", requires_grad=True)
            value = regularizer(x)
            value.backward()
            return float(value.detach().cpu()), x.grad.cpu().numpy()
        import tensorflow as tf

        x = tf.Variable(kernel)
        with tf.GradientTape() as tape:
            value = regularizer(x)
        return float(value), tape.gradient(value, x).numpy()


def ops_unit(args, write, device):
    full_precision()
    shapes = SMALL_OP_SHAPES if args.small else OP_SHAPES
    rng = np.random.default_rng(0)
    for kind, kind_shapes in shapes.items():
        for shape in kind_shapes:
            fan_in = int(np.prod(shape[:-1]))
            kernel = rng.normal(scale=1 / np.sqrt(fan_in), size=shape).astype("float32")
            for name, regularizer in penalties(kind):
                record = {"op": name, "shape": list(shape), "device": device or "cpu"}
                try:
                    cpu, _ = value_and_gradient(regularizer, kernel, "cpu:0")
                    on_device, grad = value_and_gradient(regularizer, kernel, device or "cpu:0")
                    diff = abs(on_device - cpu) / max(abs(cpu), 1e-12)
                    record.update(
                        cpu=cpu,
                        on_device=on_device,
                        rel_diff=diff,
                        grad_finite=bool(np.isfinite(grad).all()),
                        ok=bool(np.isfinite(on_device) and diff <= OP_RTOL and np.isfinite(grad).all()),
                    )
                except Exception as error:  # a failing op is a finding: record it, go on with the others
                    record.update(ok=False, error=f"{type(error).__name__}: {error}"[:500])
                write(record)


# --- ratios ----------------------------------------------------------------


def build(model_name, small):
    """(the unpenalised functional model, its inputs' shape, its batch size, its loss, its target kind)."""
    if model_name == "autoencoder":
        model = keras.Sequential(
            [
                keras.Input((784,)),
                keras.layers.Dense(260, activation="sigmoid"),
                keras.layers.Dense(784, activation="sigmoid"),
            ]
        )
        return model, (784,), 256, "mse", "input"
    if model_name == "cnn":
        filters = 8 if small else 64
        inputs = keras.Input((32, 32, 3))
        x = inputs
        for _ in range(3):
            x = keras.layers.Conv2D(filters, 3)(x)
            x = keras.layers.LeakyReLU()(x)
            x = keras.layers.MaxPooling2D(2)(x)
        outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(x))
        return keras.Model(inputs, outputs), (32, 32, 3), 128, "sparse_categorical_crossentropy", "classes"
    if model_name in ("vgg16", "resnet50"):
        side = 32 if small else 224
        application = keras.applications.VGG16 if model_name == "vgg16" else keras.applications.ResNet50
        model = application(weights=None, input_shape=(side, side, 3), classes=10)
        return model, (side, side, 3), 32, "sparse_categorical_crossentropy", "classes"
    if model_name == "unet":
        from keras_entropy.experiments.segmentation import unet

        side = 32 if small else 256
        model = unet((side, side, 3), base_filters=4 if small else 16)
        return model, (side, side, 3), 8, "binary_crossentropy", "mask"
    raise ValueError(f"unknown model {model_name!r}; choose from {MODELS}")


def penalised(model_name, form, small):
    """The model with the stabilized `form` on every kernel of its kind (None: no penalty)."""
    model, shape, batch, loss, target = build(model_name, small)
    if form is not None:
        kinds = ("dense",) if model_name == "autoencoder" else ("conv",)
        ke.place_penalties(model, "all", 0.01, kinds=kinds, form=form)
    return model, shape, batch, loss, target


def synthetic(shape, batch, steps, target):
    rng = np.random.default_rng(0)
    n = batch * steps
    x = rng.uniform(size=(n, *shape)).astype("float32")
    if target == "input":
        return x, x
    if target == "mask":
        return x, (x[..., :1] > 0.5).astype("float32")
    return x, rng.integers(0, 10, n)


def ratios_unit(args, write):
    batch_small, steps, rounds = TIMING["small" if args.small else "full"]
    if args.mode == "eager" and backend() != "torch":
        raise SystemExit(f"mode eager is PyTorch's; on {backend()} use jit")
    models, data = {}, None
    for form in (None, *FORMS):
        model, shape, batch, loss, target = penalised(args.model, form, args.small)
        batch = batch_small or batch
        model.compile(optimizer="adam", loss=loss, jit_compile=args.mode != "eager")
        models["none" if form is None else form] = model
        data = data or synthetic(shape, batch, steps, target)
    start = time.perf_counter()
    ms = time_steps(models, *data, batch, steps, rounds)
    seconds = time.perf_counter() - start
    for name, value in ms.items():
        write(
            {
                "model": args.model,
                "mode": args.mode,
                "penalty": name,
                "batch": batch,
                "ms_per_step": value,
                "ratio": value / ms["none"],
                "steps": steps,
                "rounds": rounds,
                "unit_seconds": seconds,
            }
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("unit", choices=("probe", "ops", "ratios"))
    parser.add_argument("--results", required=True, help="the JSON-lines file each measurement is appended to")
    parser.add_argument("--key", default=None, help="the unit's key in the results (default: the unit's name)")
    parser.add_argument("--model", choices=MODELS, default="autoencoder")
    parser.add_argument("--mode", choices=MODES, default="jit")
    parser.add_argument("--small", action="store_true", help="tiny shapes: a CPU check that the code runs")
    args = parser.parse_args(argv)
    key = args.key or args.unit
    device = accelerator()

    def write(record):
        record = {"key": key, "backend": backend(), "accelerator": device is not None, "small": args.small, **record}
        with open(args.results, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        print(json.dumps(record), flush=True)

    if args.unit == "probe":
        write({"probe": probe()})
    elif args.unit == "ops":
        ops_unit(args, write, device)
    else:
        ratios_unit(args, write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
