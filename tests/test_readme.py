"""The README's API example runs as written (but for `epochs`), on the MNIST subset it loads itself."""

import os
import re

import numpy as np
import pytest

pytestmark = pytest.mark.one_backend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def readme_api_example():
    """The first ```python block of README.md (the one-line API)."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        (code, *_) = re.findall(r"```python\n(.*?)```", f.read(), flags=re.S)
    return code


def test_readme_api_example_runs(capsys):
    code = readme_api_example()
    assert "x_train = " in code.split("model.fit")[0], "the example defines the data it trains on"
    shortened, n = re.subn(r"epochs=\d+", "epochs=1, verbose=0", code)
    assert n == 1, code
    namespace = {}  # nothing defined for it: the example loads its own data
    exec(compile(shortened, "README.md", "exec"), namespace)
    model, x_train = namespace["model"], namespace["x_train"]
    assert x_train.shape == (6000, 784) and x_train.dtype == np.float32
    assert 0.0 <= x_train.min() and x_train.max() == 1.0
    assert model.layers[0].kernel_regularizer.form == "normalized"
    assert "dense" in capsys.readouterr().out
