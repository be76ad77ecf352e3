"""Run the test suite once per Keras backend and print one combined count.

Keras picks its backend once per process (`KERAS_BACKEND`), so each backend
gets its own pytest process. Usage:

    python tests/run_backends.py [--backends tensorflow jax torch] [PYTEST ARGS...]

Exits non-zero if any backend's run fails. The last line is the total,
e.g. `total: 300 passed, 0 failed, 0 skipped`.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

BACKENDS = ("tensorflow", "jax", "torch")


def parse_args(argv):
    """`--backends NAME [NAME ...]` (backend names only); the rest goes to pytest."""
    backends, rest, argv = [], [], list(argv)
    while argv:
        arg = argv.pop(0)
        if arg == "--backends":
            while argv and argv[0] in BACKENDS:
                backends.append(argv.pop(0))
            if not backends:
                raise SystemExit(f"--backends needs one or more of {', '.join(BACKENDS)}")
        elif arg in ("-h", "--help"):
            print(__doc__)
            raise SystemExit(0)
        else:
            rest.append(arg)
    return argparse.Namespace(backends=backends or list(BACKENDS)), rest


def main(argv=None):
    args, pytest_args = parse_args(sys.argv[1:] if argv is None else argv)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    worst = 0
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends:
            print(f"=== KERAS_BACKEND={backend}", flush=True)
            report = os.path.join(tmp, f"{backend}.xml")
            env = dict(os.environ, KERAS_BACKEND=backend)
            code = subprocess.call(
                [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--junitxml={report}", *pytest_args],
                cwd=root,
                env=env,
            )
            if code not in (0, 5):  # 5: no test collected (e.g. a -k filter)
                worst = max(worst, code)
            if not os.path.exists(report):
                worst = max(worst, 1)
                continue
            for suite in ET.parse(report).getroot().iter("testsuite"):
                tests = int(suite.get("tests", 0))
                failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
                skipped = int(suite.get("skipped", 0))
                totals["passed"] += tests - failed - skipped
                totals["failed"] += failed
                totals["skipped"] += skipped
    print(f"total: {totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped")
    return 1 if worst or totals["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
