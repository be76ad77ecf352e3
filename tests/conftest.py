"""Shared test setup: quiet logs, fixed seeds, the backend under test.

The helper functions the tests share are in helpers.py, not here.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# TensorFlow's CPU Conv2D takes channels_first (NCHW) inputs only through its
# oneDNN kernels, which TensorFlow 2.21 no longer enables by default on every
# CPU ("The Conv2D op currently only supports the NHWC tensor format on the
# CPU"); the channels_first tests need them, as a user on a CPU would.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

#: The two classes of test. Every test module says which it is with a module-level
#: `pytestmark = pytest.mark.every_backend` (or `one_backend`); a test may override
#: its module's class with its own mark (the closest mark wins). An unclassified
#: test is a collection error, so the split cannot rot.
EVERY_BACKEND = "every_backend"
ONE_BACKEND = "one_backend"
#: The backend that runs the `one_backend` tests (tests/scripts/run_backends.py).
ONE_BACKEND_NAME = "tensorflow"


def pytest_addoption(parser):
    parser.addoption(
        "--every-backend-only",
        action="store_true",
        help="run only the tests marked every_backend (tests/scripts/run_backends.py passes it to every backend "
        f"but {ONE_BACKEND_NAME}, which runs both classes)",
    )


#: The scripts the tests run as subprocesses (and the test runner), and the fixtures' maker:
#: not test modules, and not to be imported by `--doctest-modules` (importing one would run it).
collect_ignore = ["scripts", "fixtures"]

#: Docstring examples of these packages run once: the harness and tuning do not touch a backend.
ONE_BACKEND_PACKAGES = ("keras_entropy/experiments/", "keras_entropy/tuning/")


def backend_class(item):
    """`every_backend` or `one_backend`: the closest of the two marks on a test, or None.

    A docstring example (`--doctest-modules`) is classed by its module's package.
    """
    if isinstance(item, pytest.DoctestItem):
        path = item.path.as_posix()
        return ONE_BACKEND if any(package in path for package in ONE_BACKEND_PACKAGES) else EVERY_BACKEND
    for node in item.listchain()[::-1]:
        names = {mark.name for mark in node.own_markers} & {EVERY_BACKEND, ONE_BACKEND}
        if len(names) > 1:
            raise pytest.UsageError(f"{node.nodeid} is marked both {EVERY_BACKEND} and {ONE_BACKEND}")
        if names:
            return names.pop()
    return None


def pytest_collection_modifyitems(config, items):
    """Refuse unclassified tests; with --every-backend-only, deselect the one_backend ones."""
    unclassified = sorted({item.nodeid.split("::")[0] for item in items if backend_class(item) is None})
    if unclassified:
        raise pytest.UsageError(
            "test modules without `pytestmark = pytest.mark.every_backend` (outcome can depend on the Keras "
            "backend: runs on TensorFlow, JAX and PyTorch) or `pytest.mark.one_backend` (runs on "
            f"{ONE_BACKEND_NAME} only): " + ", ".join(unclassified)
        )
    if config.getoption("--every-backend-only"):
        keep = [item for item in items if backend_class(item) == EVERY_BACKEND]
        config.hook.pytest_deselected(items=[item for item in items if backend_class(item) != EVERY_BACKEND])
        items[:] = keep


@pytest.fixture(autouse=True)
def _reset_keras_state():
    """Each test starts with float32 policy, a fresh session and fixed seeds."""
    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(1234)
    yield
    keras.config.set_dtype_policy("float32")
    keras.backend.clear_session()


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def backend():
    return keras.backend.backend()
