"""Every documented install works alone: one fresh virtual environment per install.

For each install below, this creates a new virtual environment under a
temporary folder (`python -m venv`), installs the package there the way the
README says (`pip install -c .ci/constraints.txt -e ".[EXTRAS]"`), and runs
what proves the install complete, on the matching backend: every import of
the package and the examples and the README's first command in its quick
mode (`[tensorflow,examples]`), `tune_lambda.py --quick` (each tuning
install), the documentation site built strictly (`[docs]`); outputs go to the temporary folder, with an empty
tensorflow-datasets folder (so the examples use the embedded MNIST subset or
tensorflow-datasets mock data). The examples themselves are run by the test
suite. `--documented` runs every example with `--quick` alone in the
`[tensorflow,examples]` environment as well (tens of minutes).
The `[test]` extra installs everything at once and would hide a missing
dependency; these environments do not.

    python .ci/fresh_installs.py                    # all installs (minutes; pip caches wheels)
    python .ci/fresh_installs.py --only jax-tuning  # one of them
    python .ci/fresh_installs.py --list
    python .ci/fresh_installs.py --documented       # and every example's `--quick` (slower)
    python .ci/fresh_installs.py --jobs 1           # one install at a time

`--jobs N` (default 2) checks N installs at once, in the order of INSTALLS (the longest first): an
install waits mostly on pip's downloads, unpacking and byte-compiling, so two
at a time share 2 CPUs well. Each install's lines are printed together when
it ends. At the first failure no further install starts; the failing
command, its environment and the end of its output are printed; exit status
1. The temporary folder is removed unless --keep is given.
"""

import argparse
import concurrent.futures
import glob
import os
import shutil
import sys
import tempfile
import threading
import time

from steps import Failed, fresh_venv, run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONSTRAINTS = os.path.join(ROOT, ".ci", "constraints.txt")

# What each install runs to prove it is complete: every module of keras_entropy
# and every module the examples import (.ci/import_all.py), then the README's
# first command in its quick mode; the tuning installs run tune_lambda.py
# --quick on their backend. The examples themselves are tested by the test
# suite (tests/test_example_*.py and others), in the [test] environment.
# A script is (path from the repository root, arguments); `--out` is added
# for the examples that take it. --documented runs every example with
# `--quick` alone.
IMPORT_ALL = (".ci/import_all.py", ["--examples"])
NO_OUT = {"quickstart", "import_all"}  # scripts without an --out option

# name: (extras, backend, scripts to run).
INSTALLS = {
    # The README's first command, and every import of the package and the examples.
    "tensorflow-examples": (
        "tensorflow,examples",
        "tensorflow",
        [IMPORT_ALL, ("examples/compare_penalties.py", ["--quick"])],
    ),
    # The tuning extra with each backend: the example as documented.
    "tensorflow-tuning": ("tensorflow,tuning", "tensorflow", [("examples/tune_lambda.py", ["--quick"])]),
    "jax-tuning": ("jax,tuning", "jax", [("examples/tune_lambda.py", ["--quick"])]),
    "torch-tuning": ("torch,tuning", "torch", [("examples/tune_lambda.py", ["--quick"])]),
    # The documentation site, as the README builds it (no backend: the docstrings are read, not imported).
    "docs": ("docs", "tensorflow", [(".ci/build_site.py", [])]),
}


def all_examples():
    """Every example with its documented `--quick` (the README's first command first): --documented."""
    names = sorted(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(ROOT, "examples", "*.py")))
    first = [n for n in ("compare_penalties",) if n in names]
    return [(f"examples/{n}.py", ["--quick"]) for n in first + [n for n in names if n not in first]]


def check_install(install, tmp, documented=False, echo=None):
    extras, backend, scripts = INSTALLS[install]
    if documented and install == "tensorflow-examples":
        scripts = [IMPORT_ALL, *all_examples()]
    venv = os.path.join(tmp, install, "venv")
    work = os.path.join(tmp, install, "work")
    tfds_home = os.path.join(tmp, install, "tfds_home")
    os.makedirs(work)
    os.makedirs(tfds_home)
    timings = {}
    python, base, timings["venv"] = fresh_venv(venv, echo=echo)
    timings["install"], _ = run(
        [python, "-m", "pip", "install", "-q", "-c", CONSTRAINTS, "-e", f".[{extras}]"],
        env=base,
        cwd=ROOT,
        label=f'(venv {install}) pip install -q -c .ci/constraints.txt -e ".[{extras}]"',
        echo=echo,
    )
    env = dict(base, KERAS_BACKEND=backend, TFDS_DATA_DIR=tfds_home, TF_CPP_MIN_LOG_LEVEL="3", MPLBACKEND="Agg")
    for script, args in scripts:
        name = os.path.splitext(os.path.basename(script))[0]
        args = list(args)
        if name not in NO_OUT:
            args += ["--out", os.path.join(tmp, install, "out", name)]
        timings[name], _ = run(
            [python, os.path.join(ROOT, script), *args],
            env=env,
            cwd=work,
            label=f"(venv {install}) KERAS_BACKEND={backend} python {script} " + " ".join(args),
            echo=echo,
        )
    return timings


def check_installs(names, tmp, *, jobs=2, documented=False):
    """Check the installs `names`, `jobs` at a time; return [(name, timings)] in the order given.

    Each install's lines are printed together when it ends. Raises Failed (the first failure's,
    with the install's lines before it) once the installs already under way have ended; none
    starts after a failure.
    """
    lock, failed, done = threading.Lock(), [], {}

    def check(name):
        if failed:
            return
        lines = [f"=== {name}"]
        try:
            done[name] = check_install(name, tmp, documented, echo=lines.append)
        except Failed as error:
            failed.append(Failed("\n".join(lines) + "\n" + str(error)))
            raise
        finally:
            with lock:
                print("\n".join(lines), flush=True)

    with concurrent.futures.ThreadPoolExecutor(max(1, jobs)) as pool:
        for future in [pool.submit(check, name) for name in names]:
            try:
                future.result()
            except Failed:
                pass
    if failed:
        raise failed[0]
    return [(name, done[name]) for name in names]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=list(INSTALLS), help="check these installs only")
    parser.add_argument("--list", action="store_true", help="print the installs and their scripts, then exit")
    parser.add_argument("--tmp", help="parent folder of the temporary folder (default: the system's)")
    parser.add_argument(
        "--documented",
        action="store_true",
        help="also run every example as its docstring says (`--quick` alone) in the examples install",
    )
    parser.add_argument("--jobs", type=int, default=2, help="installs checked at once (default 2)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (its path is printed)")
    args = parser.parse_args(argv)
    names = args.only or list(INSTALLS)
    if args.list:
        for name in names:
            extras, backend, scripts = INSTALLS[name]
            print(f'{name}: pip install -e ".[{extras}]"; KERAS_BACKEND={backend}: ' + ", ".join(s for s, _ in scripts))
        return 0
    tmp = tempfile.mkdtemp(prefix="keras-entropy-installs-", dir=args.tmp)
    print(f"fresh installs in {tmp}", flush=True)
    start = time.perf_counter()
    try:
        summary = check_installs(names, tmp, jobs=args.jobs, documented=args.documented)
    except Failed as error:
        print(error, file=sys.stderr, flush=True)
        print(
            f"fresh installs: FAILED (temporary folder {tmp}{' kept' if args.keep else ' removed'})",
            file=sys.stderr,
            flush=True,
        )
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    for name, timings in summary:
        print(f"{name}: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
    print(f"fresh installs: {len(summary)} ok in {time.perf_counter() - start:.0f} s ({args.jobs} at a time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
