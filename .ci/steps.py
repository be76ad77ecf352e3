"""What the CI scripts share: a timed command that fails loudly, and a fresh virtual environment.

Imported by .ci/fresh_installs.py and .ci/wheel.py (their folder is on
`sys.path` when they run as scripts).
"""

import os
import subprocess
import sys
import time


class Failed(Exception):
    """A step failed; the message names the command and ends with its output."""


def run(cmd, *, env=None, cwd=None, label, echo=None):
    """Run one command, print its label and wall time; return (seconds, output).

    `echo` takes each line instead of `print` (a caller running several commands at once
    keeps each one's lines together). Raises Failed with the command, its folder and the
    end of its output if it fails.
    """
    echo = echo or (lambda line: print(line, flush=True))
    start = time.perf_counter()
    echo(f"$ {label}")
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise Failed(
            f"FAILED (exit {proc.returncode}, {seconds:.0f} s): {label}\n"
            f"  command: {' '.join(cmd)}\n  cwd: {cwd or os.getcwd()}\n"
            f"--- last lines of its output ---\n{proc.stdout[-6000:]}"
        )
    echo(f"  ok, {seconds:.0f} s")
    return seconds, proc.stdout


def venv_python(venv):
    return os.path.join(venv, "Scripts" if os.name == "nt" else "bin", "python.exe" if os.name == "nt" else "python")


def fresh_venv(venv, echo=None):
    """Create a virtual environment; return (its python, the environment variables of a fresh shell in it).

    Nothing of this process's virtual environment or PYTHONPATH leaks into the new one.
    """
    seconds, _ = run([sys.executable, "-m", "venv", venv], label=f"python -m venv {venv}", echo=echo)
    python = venv_python(venv)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = os.path.dirname(python) + os.pathsep + env.get("PATH", "")
    env["VIRTUAL_ENV"] = venv
    return python, env, seconds
