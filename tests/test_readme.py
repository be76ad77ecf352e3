"""The README's API example runs as written, on a few random images in place of MNIST."""

import os
import re

import numpy as np
import pytest

pytestmark = pytest.mark.one_backend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_readme_api_example_runs(capsys):
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        (code, *_) = re.findall(r"```python\n(.*?)```", f.read(), flags=re.S)
    x_train = np.random.default_rng(0).uniform(0, 1, (64, 784)).astype("float32")
    namespace = {"x_train": x_train}
    exec(compile(code.replace("epochs=40", "epochs=2, verbose=0"), "README.md", "exec"), namespace)
    model = namespace["model"]
    assert model.layers[0].kernel_regularizer.form == "normalized"
    assert "dense" in capsys.readouterr().out
