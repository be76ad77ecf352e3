"""Start a KerasTuner chief and N workers on one machine, on loopback, to try it out.

KerasTuner's distributed mode runs the *same* search script in every
process; the environment tells each process its role:

    KERASTUNER_ORACLE_IP    address of the chief's oracle (here 127.0.0.1)
    KERASTUNER_ORACLE_PORT  its port (here a free port chosen by the OS)
    KERASTUNER_TUNER_ID     "chief" for the chief, "tuner0", "tuner1", ... for workers

Usage (everything after `--` is the search script's command line):

    python -m keras_entropy.tuning_cluster --workers 2 -- \\
        python examples/tune_lambda.py --quick --out runs/tune_cluster

Each process runs in its own process group, with its output prefixed by its
name and copied to `--log-dir`; when the chief exits (the search is done)
the workers get `--grace` seconds to exit, and any process still running
then, or when `--timeout` expires, or on Ctrl-C, is killed with its group.
The exit status is the chief's (124 on timeout).

(`python -m keras_entropy.tuning.distribute.cluster` is the same command.
Besides `keras_entropy.validation`, this module uses the standard library only.)
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from keras_entropy import validation

#: Tuner id of the chief (KerasTuner treats any id containing "chief" as the chief).
CHIEF_ID = "chief"


def free_port(host="127.0.0.1"):
    """A TCP port on `host` that the OS reports free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def cluster_env(tuner_id, port, host="127.0.0.1", base=None):
    """The environment of one process of the cluster (a copy of `base`, default os.environ)."""
    env = dict(os.environ if base is None else base)
    env.update(
        {
            "KERASTUNER_ORACLE_IP": host,
            "KERASTUNER_ORACLE_PORT": str(port),
            "KERASTUNER_TUNER_ID": tuner_id,
        }
    )
    return env


class LoopbackCluster:
    """A chief and `workers` workers running `command`, as separate process groups.

    Use it as a context manager: leaving the block kills whatever still runs.

    Args:
        command: the search script's command line (a list of strings).
        workers: number of workers (>= 1).
        host: address the chief listens on.
        port: the chief's port (None: a free port from the OS).
        env: extra environment variables for every process.
        log_dir: folder for `<name>.log` (None: no log files).
        echo: copy every output line, prefixed `[name]`, to `stream`.
        cwd: working directory of the processes.
        worker_delay: seconds between starting the chief and the workers.
    """

    def __init__(
        self,
        command,
        workers=2,
        *,
        host="127.0.0.1",
        port=None,
        env=None,
        log_dir=None,
        echo=True,
        stream=None,
        cwd=None,
        worker_delay=0.0,
    ):
        if (
            isinstance(command, str)
            or not isinstance(command, (list, tuple))
            or not command
            or not all(isinstance(c, str) for c in command)
        ):
            raise TypeError(f"Argument `command` must be a non-empty list of strings. Received: command={command!r}")
        workers = validation.validate_positive_int(workers, "workers")
        if port is not None and validation.validate_positive_int(port, "port") > 65535:
            raise ValueError(f"Argument `port` must be an int in 1..65535 or None. Received: port={port!r}")
        self.command = list(command)
        self.workers = workers
        self.host = host
        self.port = port or free_port(host)
        self.env = dict(env or {})
        self.log_dir = log_dir
        self.echo = echo
        self.stream = stream or sys.stdout
        self.cwd = cwd
        self.worker_delay = worker_delay
        self.processes = {}  # name -> Popen, in start order
        self._readers = []
        self._lock = threading.Lock()

    @property
    def names(self):
        return [CHIEF_ID] + [f"tuner{i}" for i in range(self.workers)]

    def start(self):
        if self.log_dir:
            os.makedirs(self.log_dir, exist_ok=True)
        base = dict(os.environ, **self.env)
        try:
            for name in self.names:
                if name != CHIEF_ID and self.worker_delay:
                    time.sleep(self.worker_delay)
                process = subprocess.Popen(
                    self.command,
                    env=cluster_env(name, self.port, self.host, base),
                    cwd=self.cwd,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # its own process group, killed as a whole
                )
                self.processes[name] = process
                reader = threading.Thread(target=self._pump, args=(name, process), daemon=True)
                reader.start()
                self._readers.append(reader)
        except BaseException:
            self.close()
            raise
        return self

    def _pump(self, name, process):
        log = open(os.path.join(self.log_dir, f"{name}.log"), "w") if self.log_dir else None
        try:
            for raw in iter(process.stdout.readline, b""):
                line = raw.decode("utf-8", "replace")
                if log is not None:
                    log.write(line)
                    log.flush()
                if self.echo:
                    with self._lock:
                        self.stream.write(f"[{name}] {line}")
                        self.stream.flush()
        finally:
            process.stdout.close()
            if log is not None:
                log.close()

    def log(self, name):
        """The output of process `name` so far (needs `log_dir`)."""
        path = os.path.join(self.log_dir, f"{name}.log")
        if not os.path.exists(path):
            return ""
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def running(self):
        return [name for name, p in self.processes.items() if p.poll() is None]

    def kill(self, name, sig=signal.SIGKILL):
        """Send `sig` to the process group of `name` (e.g. to simulate a dead worker)."""
        process = self.processes[name]
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass

    def wait(self, timeout, grace=30.0):
        """Wait for the chief, then up to `grace` seconds for the workers.

        Returns:
            dict name -> return code (None for a process still running).

        Raises:
            TimeoutError: the chief did not exit within `timeout` seconds.
        """
        chief = self.processes[CHIEF_ID]
        try:
            chief.wait(timeout=timeout)
        except subprocess.TimeoutExpired as error:
            raise TimeoutError(f"The chief did not finish within {timeout} s.") from error
        self._wait_all(grace)
        return {name: p.poll() for name, p in self.processes.items()}

    def _wait_all(self, grace):
        """Wait up to `grace` seconds in all for every process to exit."""
        deadline = time.monotonic() + grace
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass

    def close(self, grace=3.0):
        """Terminate, then kill, every process group still running; reap them all."""
        for name in self.running():
            self.kill(name, signal.SIGTERM)
        self._wait_all(grace)
        for name, process in self.processes.items():
            # Kill the group even if its leader exited: children may remain.
            self.kill(name, signal.SIGKILL)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - unkillable process
                pass
        for reader in self._readers:
            reader.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
        return False


def parse_args(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" in argv:
        split = argv.index("--")
        own, command = argv[:split], argv[split + 1 :]
    else:
        own, command = argv, []
    parser = argparse.ArgumentParser(
        prog="python -m keras_entropy.tuning_cluster",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="%(prog)s [options] -- COMMAND [ARGS...]",
    )
    parser.add_argument("--workers", type=int, default=2, help="number of workers (default 2)")
    parser.add_argument("--host", default="127.0.0.1", help="address of the chief (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port of the chief (default: a free port)")
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds before everything is killed (default 3600)"
    )
    parser.add_argument(
        "--grace", type=float, default=60.0, help="seconds the workers get to exit after the chief (default 60)"
    )
    parser.add_argument("--log-dir", help="folder for chief.log, tuner0.log, ...")
    parser.add_argument("--quiet", action="store_true", help="do not echo the processes' output")
    args = parser.parse_args(own)
    if not command:
        parser.error("give the search script after `--`, e.g. -- python examples/tune_lambda.py --quick")
    if args.workers < 1:
        parser.error(f"--workers must be >= 1, got {args.workers}")
    return args, command


def main(argv=None):
    args, command = parse_args(argv)
    cluster = LoopbackCluster(
        command, args.workers, host=args.host, port=args.port, log_dir=args.log_dir, echo=not args.quiet
    )
    print(f"cluster: chief + {args.workers} workers on {cluster.host}:{cluster.port}: {' '.join(command)}", flush=True)
    with cluster:
        try:
            codes = cluster.wait(args.timeout, grace=args.grace)
        except TimeoutError as error:
            print(f"cluster: {error} Killing every process.", flush=True)
            return 124
        except KeyboardInterrupt:
            print("cluster: interrupted; killing every process.", flush=True)
            return 130
    print("cluster: exit codes " + ", ".join(f"{n}={c}" for n, c in codes.items()), flush=True)
    return codes[CHIEF_ID] or 0


if __name__ == "__main__":
    sys.exit(main())
