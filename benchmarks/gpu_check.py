"""GPU check: devices, the overhead benchmark and every example's --quick, on each backend asked for.

For each backend (default: KERAS_BACKEND, else tensorflow), in a fresh
process each: prints the devices the backend sees (and `nvidia-smi`, if
present), runs benchmarks/overhead.py and every examples/*.py with --quick
(quickstart.py, which has no --quick, with its defaults), timing each run.
Writes OUT/gpu.md (default docs/results/gpu.md) with the devices, the
versions of Python, Keras and the backend libraries, the wall time of each
example and the overhead table. The examples' own outputs go to --runs
(default OUT/runs when --out is given, else runs/gpu_check).

    python benchmarks/gpu_check.py                                  # KERAS_BACKEND's backend
    python benchmarks/gpu_check.py --backends tensorflow jax torch
    python benchmarks/gpu_check.py --examples dense_autoencoder --overhead-args="--rounds 2" --out /tmp/check

Without an accelerator it refuses to write docs/results/gpu.md (a CPU run
is not a GPU result) unless --allow-cpu is given; any other --out is fine.
Exit status 1 if any run failed (the report says which).
"""

import argparse
import datetime
import glob
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(ROOT, "docs", "results")
BACKENDS = ("tensorflow", "jax", "torch")
NO_QUICK = {"quickstart": []}  # examples without --quick / --out: run with these arguments

# Run in a child process with KERAS_BACKEND set: prints one JSON line.
PROBE = r"""
import json, os, platform
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras
backend = keras.backend.backend()
info = {"backend": backend, "python": platform.python_version(), "versions": {"keras": keras.__version__},
        "devices": [], "accelerator": False}
import importlib.metadata as md
for dist in ("keras-entropy", "numpy"):
    try:
        info["versions"][dist] = md.version(dist)
    except md.PackageNotFoundError:
        pass
if backend == "tensorflow":
    import tensorflow as tf
    info["versions"]["tensorflow"] = tf.__version__
    build = tf.sysconfig.get_build_info()
    if build.get("cuda_version"):
        built = f"{build.get('cuda_version')} / {build.get('cudnn_version')}"
        info["versions"]["tensorflow CUDA / cuDNN (built)"] = built
    for d in tf.config.list_physical_devices():
        name = d.name.replace("/physical_device:", "")
        if d.device_type != "CPU":
            try:
                name += f" ({tf.config.experimental.get_device_details(d).get('device_name', '?')})"
            except Exception:
                pass
            info["accelerator"] = True
        info["devices"].append(name)
elif backend == "jax":
    import jax, jaxlib
    info["versions"]["jax"] = jax.__version__
    info["versions"]["jaxlib"] = jaxlib.__version__
    for d in jax.devices():
        info["devices"].append(f"{d.platform.upper()}:{d.id} ({d.device_kind})")
        info["accelerator"] |= d.platform != "cpu"
elif backend == "torch":
    import torch
    info["versions"]["torch"] = torch.__version__
    if torch.version.cuda:
        info["versions"]["torch CUDA (built)"] = torch.version.cuda
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            info["devices"].append(f"GPU:{i} ({torch.cuda.get_device_name(i)})")
        info["accelerator"] = True
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        info["devices"].append("MPS:0")
        info["accelerator"] = True
    else:
        info["devices"].append("CPU:0")
print("PROBE " + json.dumps(info))
"""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    default_backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    parser.add_argument(
        "--backends",
        nargs="+",
        choices=BACKENDS,
        default=[default_backend],
        help=f"backends to check, one process each (default: KERAS_BACKEND or tensorflow: {default_backend})",
    )
    parser.add_argument(
        "--examples",
        nargs="*",
        default=None,
        metavar="NAME",
        help="examples to run, by file name without .py (default: every examples/*.py; none: give the option alone)",
    )
    parser.add_argument(
        "--overhead-args", default="", help='extra arguments for benchmarks/overhead.py, e.g. "--rounds 3 --steps 10"'
    )
    parser.add_argument("--no-overhead", action="store_true", help="skip the overhead benchmark")
    parser.add_argument("--out", help="folder of gpu.md (default: docs/results)")
    parser.add_argument(
        "--runs", help="folder for the examples' outputs (default: OUT/runs with --out, else runs/gpu_check)"
    )
    parser.add_argument(
        "--allow-cpu", action="store_true", help="write docs/results/gpu.md even when no accelerator is seen"
    )
    args = parser.parse_args(argv)
    available = sorted(
        os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(ROOT, "examples", "*.py"))
    )
    if args.examples is None:
        args.examples = available
    unknown = sorted(set(args.examples) - set(available))
    if unknown:
        parser.error(f"--examples: unknown {', '.join(unknown)}; choose from {', '.join(available)}")
    return args


def run(cmd, env, cwd):
    """Run `cmd`, echoing its output as it comes; returns (exit code, wall seconds, output)."""
    print("$ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:
        sys.stdout.write(line)
        lines.append(line)
    code = proc.wait()
    sys.stdout.flush()
    return code, time.perf_counter() - start, "".join(lines)


def nvidia_smi():
    if not shutil.which("nvidia-smi"):
        return None
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def overhead_rows(output):
    """The rows of overhead.py's markdown table: (model, penalty, ms / step, ratio)."""
    rows = []
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and re.fullmatch(r"[\d.]+", cells[2]) and re.fullmatch(r"[\d.]+", cells[3]):
            rows.append(cells[:4])
    return rows


def check_backend(backend, args, runs_dir):
    env = dict(
        os.environ,
        KERAS_BACKEND=backend,
        TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3"),
        MPLBACKEND=os.environ.get("MPLBACKEND", "Agg"),
    )
    result = {"backend": backend, "examples": [], "overhead": None, "failures": []}
    print(f"=== KERAS_BACKEND={backend}", flush=True)
    code, _, output = run([sys.executable, "-c", PROBE], env, ROOT)
    probe = next((line[6:] for line in output.splitlines() if line.startswith("PROBE ")), None)
    if code != 0 or probe is None:
        result["failures"].append(f"device probe (exit {code})")
        result["info"] = {"devices": ["?"], "versions": {}, "accelerator": False}
        return result
    result["info"] = json.loads(probe)
    print(f"devices: {', '.join(result['info']['devices'])}", flush=True)
    if not args.no_overhead:
        cmd = [sys.executable, os.path.join(ROOT, "benchmarks", "overhead.py"), *shlex.split(args.overhead_args)]
        code, seconds, output = run(cmd, env, ROOT)
        result["overhead"] = {
            "command": "python benchmarks/overhead.py " + args.overhead_args,
            "seconds": seconds,
            "header": next((ln for ln in output.splitlines() if ln.startswith("backend:")), ""),
            "rows": overhead_rows(output),
            "code": code,
        }
        if code != 0:
            result["failures"].append(f"benchmarks/overhead.py (exit {code})")
    for name in args.examples:
        if name in NO_QUICK:
            example_args = list(NO_QUICK[name])
        else:
            example_args = ["--quick", "--out", os.path.join(runs_dir, backend, name)]
        cmd = [sys.executable, os.path.join(ROOT, "examples", f"{name}.py"), *example_args]
        code, seconds, output = run(cmd, env, ROOT)
        banner = next((ln for ln in output.splitlines() if ln.startswith("backend:")), "")
        result["examples"].append(
            {
                "name": name,
                "args": " ".join(example_args[:1] if name not in NO_QUICK else example_args),
                "seconds": seconds,
                "code": code,
                "banner": banner,
            }
        )
        if code != 0:
            result["failures"].append(f"examples/{name}.py (exit {code})")
    return result


def report(results, args, started):
    lines = [
        "# GPU check",
        "",
        f"Written by `python benchmarks/gpu_check.py {' '.join(shlex.quote(a) for a in sys.argv[1:])}` "
        f"on {started:%Y-%m-%d %H:%M} UTC ({platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}).",
        "",
    ]
    smi = nvidia_smi()
    if smi:
        lines += ["`nvidia-smi` (name, driver, memory):", "", "```text", smi, "```", ""]
    if not any(r["info"].get("accelerator") for r in results):
        lines += ["**No accelerator was seen: every figure below is a CPU figure.**", ""]
    for r in results:
        info = r["info"]
        lines += [
            f"## Backend: {r['backend']}",
            "",
            f"Devices: {', '.join(info['devices'])}",
            "",
            "Versions: " + ", ".join(f"{k} {v}" for k, v in info.get("versions", {}).items()),
            "",
        ]
        if r["examples"]:
            lines += [
                "| example | arguments | wall time (s) | status | devices (the example's banner) |",
                "| --- | --- | ---: | --- | --- |",
            ]
            for e in r["examples"]:
                status = "ok" if e["code"] == 0 else f"FAILED (exit {e['code']})"
                devices = e["banner"].split("devices: ", 1)[1].split(";")[0] if "devices: " in e["banner"] else ""
                lines.append(
                    f"| {e['name']} | {e['args'] or '(defaults)'} | {e['seconds']:.1f} | {status} | {devices} |"
                )
            lines.append("")
        o = r["overhead"]
        if o:
            lines += [f"Overhead (`{o['command'].strip()}`, {o['seconds']:.0f} s; {o['header']}):", ""]
            if o["rows"]:
                lines += ["| model | penalty | ms / step | ratio to none |", "| --- | --- | ---: | ---: |"]
                lines += [f"| {' | '.join(row)} |" for row in o["rows"]]
            else:
                lines.append(f"(no table: exit {o['code']})")
            lines.append("")
        if r["failures"]:
            lines += ["Failed: " + "; ".join(r["failures"]), ""]
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    started = datetime.datetime.now(datetime.timezone.utc)
    out = os.path.abspath(args.out or DEFAULT_OUT)
    runs_dir = os.path.abspath(
        args.runs or (os.path.join(out, "runs") if args.out else os.path.join(ROOT, "runs", "gpu_check"))
    )
    results = [check_backend(backend, args, runs_dir) for backend in args.backends]
    text = report(results, args, started)
    accelerator = any(r["info"].get("accelerator") for r in results)
    if not accelerator and out == os.path.abspath(DEFAULT_OUT) and not args.allow_cpu:
        print(text)
        print(
            "\nNo accelerator seen: not writing docs/results/gpu.md (give --out DIR, or --allow-cpu).", file=sys.stderr
        )
        return 1
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "gpu.md")
    with open(path, "w") as f:
        f.write(text + "\n")
    print(f"\nwrote {path}")
    failures = [f"{r['backend']}: {f}" for r in results for f in r["failures"]]
    if failures:
        print("FAILED: " + "; ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
