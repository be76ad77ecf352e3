"""Run the test suite on each Keras backend, with coverage, and print one combined count.

Keras picks its backend once per process (`KERAS_BACKEND`), so each backend
gets its own pytest process. Tests come in two classes (tests/conftest.py):
`every_backend` tests, whose outcome can depend on the backend (ops,
penalties, layers, losses, forms, compiled training, saving, several devices,
profiles, the monitor, placement, and the docstring examples of the core),
run on every backend; `one_backend` tests (tables, statistics, argument
parsing, reports, sweep files, tuning bookkeeping, examples run as
subprocesses, the CLI's error paths) run on TensorFlow only. Usage:

    python tests/scripts/run_backends.py [--backends tensorflow jax torch] [--workers N] [--no-cov] [PYTEST ARGS...]

`--workers N` runs each backend's tests in N pytest-xdist processes, a test
module per process at a time (default: 2 where pytest-xdist is installed and
the machine has 2 or more CPUs; 0 runs in one process). Coverage of
`keras_entropy` is measured on every backend, combined and printed; the run
fails below `[tool.coverage.report] fail_under` in pyproject.toml (`--no-cov`
skips it, as does a run given its own test paths or a `-k`/`-m` filter,
which measures only part of the suite).

Exits non-zero if any backend's run fails. The last line is the total,
e.g. `total: 300 passed, 0 failed, 0 skipped in 900 s`.
"""

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

BACKENDS = ("tensorflow", "jax", "torch")
#: The backend that also runs the `one_backend` tests (conftest.ONE_BACKEND_NAME).
ONE_BACKEND_NAME = "tensorflow"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def default_workers():
    if importlib.util.find_spec("xdist") is None:
        return 0
    return 2 if (os.cpu_count() or 1) >= 2 else 0


def parse_args(argv):
    """Our options (`--backends`, `--workers`, `--no-cov`); the rest goes to pytest."""
    backends, rest, argv = [], [], list(argv)
    workers, cov = default_workers(), True
    while argv:
        arg = argv.pop(0)
        if arg == "--backends":
            while argv and argv[0] in BACKENDS:
                backends.append(argv.pop(0))
            if not backends:
                raise SystemExit(f"--backends needs one or more of {', '.join(BACKENDS)}")
        elif arg == "--workers":
            value = argv.pop(0) if argv else ""
            if not value.isdigit():
                raise SystemExit(f"--workers needs a whole number >= 0, got {value!r}")
            workers = int(value)
        elif arg == "--no-cov":
            cov = False
        elif arg in ("-h", "--help"):
            print(__doc__)
            raise SystemExit(0)
        else:
            rest.append(arg)
    partial = any(a in ("-k", "-m") or a.startswith(("-k", "-m")) or not a.startswith("-") for a in rest)
    return argparse.Namespace(backends=backends or list(BACKENDS), workers=workers, cov=cov and not partial), rest


def count(report):
    """passed, failed (failures + errors), skipped in a JUnit XML report."""
    passed = failed = skipped = 0
    for suite in ET.parse(report).getroot().iter("testsuite"):
        tests = int(suite.get("tests", 0))
        bad = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skip = int(suite.get("skipped", 0))
        passed, failed, skipped = passed + tests - bad - skip, failed + bad, skipped + skip
    return passed, failed, skipped


def file_times(report, top=10):
    """The `top` test files of a JUnit XML report by their summed test time: [(file, seconds, tests)].

    With several workers a long file holds one worker while the others finish theirs, so the list says
    where a backend's wall time goes better than the slowest single tests do.
    """
    files = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        name = case.get("classname", "?").replace(".", "/")
        while "/" in name and not os.path.exists(os.path.join(ROOT, name + ".py")):
            name = name.rsplit("/", 1)[0]  # a test class: tests.test_x.TestY
        name += ".py"
        seconds, tests = files.get(name, (0.0, 0))
        files[name] = (seconds + float(case.get("time", 0) or 0), tests + 1)
    return sorted(((f, s, n) for f, (s, n) in files.items()), key=lambda item: -item[1])[:top]


def main(argv=None):
    args, pytest_args = parse_args(sys.argv[1:] if argv is None else argv)
    totals = [0, 0, 0]
    worst = 0
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        coverage_files = []
        for backend in args.backends:
            print(f"=== KERAS_BACKEND={backend}", flush=True)
            report = os.path.join(tmp, f"{backend}.xml")
            env = dict(os.environ, KERAS_BACKEND=backend)
            # --durations: the slowest tests of each backend in the log, so that a regression shows.
            cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--junitxml={report}", "--durations=15"]
            if backend != ONE_BACKEND_NAME:
                cmd.append("--every-backend-only")
            if args.workers:
                cmd += ["-n", str(args.workers), "--dist", "loadfile"]
            if args.cov:
                env["COVERAGE_FILE"] = os.path.join(tmp, f".coverage.{backend}")
                coverage_files.append(env["COVERAGE_FILE"])
                # The floor applies to the combined figure (below), not to one backend's share.
                cmd += ["--cov=keras_entropy", "--cov-report=", "--cov-fail-under=0"]
            backend_start = time.perf_counter()
            code = subprocess.call([*cmd, *pytest_args], cwd=ROOT, env=env)
            seconds = time.perf_counter() - backend_start
            if code not in (0, 5):  # 5: no test collected (e.g. a -k filter)
                worst = max(worst, code)
            if not os.path.exists(report):
                worst = max(worst, 1)
                print(f"{backend}: no report (exit status {code}) after {seconds:.0f} s", flush=True)
                continue
            counts = count(report)
            totals = [a + b for a, b in zip(totals, counts)]
            passed, failed, skipped = counts
            print(f"{backend}: slowest test files (summed test time):", flush=True)
            for name, file_seconds, tests in file_times(report):
                print(f"  {file_seconds:7.1f} s  {tests:4d} tests  {name}", flush=True)
            print(f"{backend}: {passed} passed, {failed} failed, {skipped} skipped in {seconds:.0f} s", flush=True)
        if args.cov and coverage_files and not worst:
            combined = os.path.join(tmp, ".coverage")
            env = dict(os.environ, COVERAGE_FILE=combined)
            present = [f for f in coverage_files if os.path.exists(f)]
            subprocess.call([sys.executable, "-m", "coverage", "combine", "--quiet", *present], cwd=ROOT, env=env)
            print("=== coverage of keras_entropy, every backend combined", flush=True)
            if subprocess.call([sys.executable, "-m", "coverage", "report", "--skip-covered"], cwd=ROOT, env=env):
                worst = max(worst, 1)
                print("coverage is below [tool.coverage.report] fail_under in pyproject.toml", flush=True)
    print(f"total: {totals[0]} passed, {totals[1]} failed, {totals[2]} skipped in {time.perf_counter() - start:.0f} s")
    return 1 if worst or totals[1] else 0


if __name__ == "__main__":
    sys.exit(main())
