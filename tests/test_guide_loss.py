"""docs/guide.md, "Reading `loss` with penalties": the snippet runs as written (issue 24)."""

import pathlib
import re

import keras
import numpy as np
import pytest

pytestmark = pytest.mark.every_backend

GUIDE = pathlib.Path(__file__).resolve().parents[1] / "docs" / "guide.md"


def guide_snippet():
    text = GUIDE.read_text(encoding="utf-8")
    section = text.split("## Reading `loss` with penalties", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    return code


def test_penalty_logger_snippet_logs_the_penalty_alone():
    namespace = {}
    exec(compile(guide_snippet(), str(GUIDE), "exec"), namespace)  # noqa: S102 - the guide's own code
    history, model = namespace["history"], namespace["model"]
    logs = history.history
    assert len(logs["penalty"]) == 3 and len(logs["mse"]) == 3
    # The last value is the penalty of the final weights, both layers' terms.
    model(namespace["x"][:1])
    final = sum(float(keras.ops.convert_to_numpy(loss)) for loss in model.losses)
    assert len(model.losses) == 2
    np.testing.assert_allclose(logs["penalty"][-1], final, rtol=1e-5)
    # normalized penalties are >= 0; `loss` is the task loss plus the penalties (its epoch mean: the
    # penalty falls during an epoch, so `loss - mse` is the same size as the end-of-epoch value, not equal).
    assert all(value >= 0 for value in logs["penalty"])
    extra = np.array(logs["loss"]) - np.array(logs["mse"])
    assert np.all(extra > 0)
    np.testing.assert_allclose(extra, logs["penalty"], rtol=1.0, atol=2e-3)
