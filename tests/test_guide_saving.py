"""docs/guide.md, "Saving and loading": its code runs as written, and the import it says is needed is needed.

Each script runs in its own Python process, as a user's would: the loading script
starts with nothing of keras_entropy imported but what it imports itself.
"""

import os
import pathlib
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.one_backend

ROOT = pathlib.Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "guide.md"
IMPORT_LINE = re.compile(r"^import keras_entropy\b.*\n", flags=re.M)


def guide_blocks():
    """The section's blocks: (the saving script, the loading script, the command line)."""
    text = GUIDE.read_text(encoding="utf-8")
    section = text.split("\n## Saving and loading\n", 1)[1].split("\n## ", 1)[0]
    save, load = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    (command,) = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    return save, load, command.strip()


def run(args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_the_guide_saves_loads_and_profiles_a_model_as_written(tmp_path):
    save, load, command = guide_blocks()
    shortened, n = re.subn(r"epochs=\d+", "epochs=1, verbose=0", save)
    assert n == 1, save
    proc = run([sys.executable, "-c", shortened], tmp_path)
    assert proc.returncode == 0 and (tmp_path / "m.keras").is_file(), proc.stderr[-3000:]

    # The loading script, as written, in a fresh process.
    assert len(IMPORT_LINE.findall(load)) == 1, load
    proc = run([sys.executable, "-c", load], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["DenseEntropy", "normalized"], proc.stdout

    # The same script without `import keras_entropy` fails as the guide says.
    proc = run([sys.executable, "-c", IMPORT_LINE.sub("", load)], tmp_path)
    assert proc.returncode != 0
    error = proc.stderr[proc.stderr.rindex("\nTypeError: ") + 1 :].strip()  # the exception raised last
    assert error.startswith("TypeError: <class 'keras.src.models.sequential.Sequential'> could not be deserialized")
    last = error.splitlines()[-1]
    assert last.startswith("Exception encountered: Could not interpret regularizer identifier: {"), last
    assert last.endswith("'registered_name': 'keras_entropy>DenseEntropy'}"), last

    # The command line loads it with nothing imported by the user.
    assert command == "python -m keras_entropy profile m.keras"
    proc = run([sys.executable, *command.split()[1:]], tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "dense" in proc.stdout and "entropy_dense" in proc.stdout, proc.stdout
