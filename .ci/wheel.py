"""The built package works: build the sdist and the wheel, check them, install the wheel alone and use it.

Under a temporary folder, in order:

1. `python -m build --outdir TMP/dist` builds the sdist, then the wheel from
   the sdist (build's default), so the wheel proves the sdist is complete;
   build isolation installs `setuptools>=77` (pyproject `[build-system]`).
2. `python -m twine check --strict` on both (the README is the long
   description).
3. The embedded MNIST subset (`keras_entropy/datasets/data/mnist_subset.npz`)
   is in the wheel and in the sdist.
4. A fresh virtual environment (`python -m venv`) gets the wheel installed,
   not editable: `pip install -q -c .ci/constraints.txt "WHEEL[tensorflow]"`.
5. `.ci/smoke_wheel.py` runs with that environment's python from a folder
   outside the repository, with KERAS_BACKEND=tensorflow, an empty
   tensorflow-datasets folder and none of this process's PYTHONPATH or
   VIRTUAL_ENV: imports from site-packages, version, embedded data, training
   with `DenseEntropy(form="normalized")`, `.keras` save and load.

    python .ci/wheel.py          # about a minute or two (pip caches wheels)
    python .ci/wheel.py --keep   # keep the temporary folder (its path is printed)

Prints each step's wall time and a last line with the total. Stops at the
first failure and prints the failing command and the end of its output;
exit status 1. The temporary folder is removed unless --keep is given.
"""

import argparse
import glob
import os
import shutil
import sys
import tarfile
import tempfile
import time
import zipfile

from steps import Failed, fresh_venv, run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONSTRAINTS = os.path.join(ROOT, ".ci", "constraints.txt")
SMOKE = os.path.join(ROOT, ".ci", "smoke_wheel.py")
#: Package data that must ship in both the wheel and the sdist.
DATA_FILE = "keras_entropy/datasets/data/mnist_subset.npz"


def check(label, function):
    """A check done here (no command): raise Failed with its message if it fails."""
    start = time.perf_counter()
    print(f"$ {label}", flush=True)
    try:
        function()
    except AssertionError as error:
        raise Failed(f"FAILED: {label}\n  {error}") from None
    seconds = time.perf_counter() - start
    print(f"  ok, {seconds:.0f} s", flush=True)
    return seconds


def only(pattern):
    found = glob.glob(pattern)
    if len(found) != 1:
        raise Failed(f"FAILED: expected one file {pattern}, found {found}")
    return found[0]


def check_contents(wheel, sdist):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert DATA_FILE in names, f"{os.path.basename(wheel)} lacks {DATA_FILE}"
    with tarfile.open(sdist) as archive:
        # Members are "keras_entropy-VERSION/PATH".
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert DATA_FILE in names, f"{os.path.basename(sdist)} lacks {DATA_FILE}"


def check_wheel(tmp):
    timings = {}
    dist = os.path.join(tmp, "dist")
    venv = os.path.join(tmp, "venv")
    work = os.path.join(tmp, "work")
    tfds_home = os.path.join(tmp, "tfds_home")
    os.makedirs(work)
    os.makedirs(tfds_home)
    timings["build"], _ = run(
        [sys.executable, "-m", "build", "--outdir", dist, ROOT],
        cwd=ROOT,
        label=f"python -m build --outdir {dist}  (sdist, then the wheel from the sdist)",
    )
    wheel = only(os.path.join(dist, "*.whl"))
    sdist = only(os.path.join(dist, "*.tar.gz"))
    timings["twine"], _ = run(
        [sys.executable, "-m", "twine", "check", "--strict", wheel, sdist],
        label=f"python -m twine check --strict {dist}/*",
    )
    timings["contents"] = check(f"{DATA_FILE} in the wheel and the sdist", lambda: check_contents(wheel, sdist))
    python, base, timings["venv"] = fresh_venv(venv)
    timings["install"], _ = run(
        [python, "-m", "pip", "install", "-q", "-c", CONSTRAINTS, f"{wheel}[tensorflow]"],
        env=base,
        cwd=work,
        label=f'(venv) pip install -q -c .ci/constraints.txt "{os.path.basename(wheel)}[tensorflow]"',
    )
    env = dict(base, KERAS_BACKEND="tensorflow", TFDS_DATA_DIR=tfds_home, TF_CPP_MIN_LOG_LEVEL="3")
    timings["smoke"], output = run(
        [python, SMOKE],
        env=env,
        cwd=work,
        label="(venv) KERAS_BACKEND=tensorflow python .ci/smoke_wheel.py",
    )
    for line in output.splitlines():
        if line.startswith(("ok:", "smoke test")):
            print(f"    {line}", flush=True)
    return timings


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tmp", help="parent folder of the temporary folder (default: the system's)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (its path is printed)")
    args = parser.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="keras-entropy-wheel-", dir=args.tmp)
    print(f"wheel check in {tmp}", flush=True)
    start = time.perf_counter()
    failed, cleanup = None, ""
    try:
        timings = check_wheel(tmp)
    except Failed as error:
        failed = error
        print(error, file=sys.stderr, flush=True)
    finally:
        if not args.keep:
            # A virtual environment with TensorFlow: thousands of files, tens of seconds on a slow disk.
            removing = time.perf_counter()
            print(f"$ rm -r {tmp}", flush=True)
            shutil.rmtree(tmp, ignore_errors=True)
            cleanup = f", cleanup {time.perf_counter() - removing:.0f} s"
            print(f"  ok, {time.perf_counter() - removing:.0f} s", flush=True)
    if failed is not None:
        print(
            f"wheel check: FAILED (temporary folder {tmp}{' kept' if args.keep else ' removed'})",
            file=sys.stderr,
            flush=True,
        )
        return 1
    print(
        "wheel check: ok in "
        f"{time.perf_counter() - start:.0f} s ("
        + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
        + f"{cleanup})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
