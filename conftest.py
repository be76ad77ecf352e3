"""Doctest setup for the docstring examples under keras_entropy/ (`pytest --doctest-modules keras_entropy`).

Only the docstring examples are touched here: the tests in tests/ have their own
fixtures (tests/conftest.py).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _doctest_setup(request):
    """Each docstring example: float32 policy, seed 0, run in a temporary folder, fresh Keras session.

    Any other test is left as it is: no fixture is requested for it (not even `tmp_path`).
    """
    if not isinstance(request.node, pytest.DoctestItem):
        yield
        return
    import keras

    monkeypatch = request.getfixturevalue("monkeypatch")
    tmp_path = request.getfixturevalue("tmp_path")

    # A fresh session first, so that automatic layer names start at "dense", "conv2d"; without
    # `gc.collect()` (free_memory=False), which would add a third of a second to every example.
    keras.utils.clear_session(free_memory=False)
    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(0)
    monkeypatch.chdir(tmp_path)
    try:
        yield
    finally:
        keras.utils.clear_session(free_memory=False)  # also resets the dtype policy
