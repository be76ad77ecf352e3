"""GPU check: the ops, the penalties' step-time ratios and every example, in prioritised sections that resume.

Runs a list of units, each in its own process (benchmarks/gpu_units.py, or an
example script), in this order of priority:

  ops            every penalty on the accelerator against the CPU, and a finite gradient (per backend);
  ratios         step time of each stabilized form over no penalty: the autoencoder, the CNN and
                 ResNet50 (JAX's jit, PyTorch's eager);
  first_command  examples/compare_penalties.py --quick on the first backend;
  large          VGG16 and the U-Net (JAX's jit, PyTorch's eager), `torch.compile` on the
                 autoencoder and the CNN;
  examples       every examples/*.py --quick, on each backend.

Every measurement is appended to OUT/gpu_check.jsonl as it is made, and
each unit's outcome (ok, failed, timed out) when it ends; OUT/gpu.md is
rewritten from that file after every unit. A time guard (`--time-limit`
seconds, default 460) starts no unit it cannot give 20 s and stops the one
running at the limit, so one call of the device tool returns what it
reached; `--resume FILE` (an earlier gpu_check.jsonl) carries its records
over and runs only the units that have no outcome yet, or that timed out.

    python benchmarks/gpu_check.py --out $OUT --backends jax torch                # on a GPU machine
    python benchmarks/gpu_check.py --out $OUT --resume docs/results/gpu_check.jsonl
    python benchmarks/gpu_check.py --small --out /tmp/gpu --backends jax          # a CPU check that it runs (CI)
    python benchmarks/gpu_check.py --report /tmp/device/gpu_check.jsonl --out docs/results   # here, after

A run writes into --out only, never into docs/results; `--report` writes
docs/results/gpu.md from a run's gpu_check.jsonl and refuses records of a
CPU run or of `--small` (no GPU figures). Every report says on its first
line whether its figures are a GPU's. `--block-tensorflow`
makes `import tensorflow` fail in every unit (what a machine with the JAX or
PyTorch extra alone sees). Exit status 1 if a unit failed or timed out.
"""

import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS_DIR = os.path.join(ROOT, "docs", "results")
UNITS_SCRIPT = os.path.join(ROOT, "benchmarks", "gpu_units.py")
BACKENDS = ("jax", "torch", "tensorflow")
SECTIONS = ("ops", "ratios", "first_command", "large", "examples")
MODELS = ("autoencoder", "cnn", "resnet50", "vgg16", "unet")
#: The mode each backend's ratios run in: compiled by XLA, or PyTorch's eager (its compiled mode is in `large`).
MODE = {"jax": "jit", "tensorflow": "jit", "torch": "eager"}
#: The goal of issue 27: every stabilized form within this factor of the unpenalised step.
RATIO_GOAL = 1.2
#: A unit is not started with less time than this left.
MIN_UNIT_SECONDS = 20
RESULTS_FILE = "gpu_check.jsonl"
REPORT_FILE = "gpu.md"
#: Makes `import tensorflow` (and tensorflow_datasets) fail, as on a machine without them.
BLOCK_TENSORFLOW = """
import sys
class _NoTensorFlow:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "tensorflow_datasets"):
            raise ImportError(f"No module named {name!r} (blocked by gpu_check.py --block-tensorflow)")
sys.meta_path.insert(0, _NoTensorFlow())
"""


def examples():
    return sorted(name[:-3] for name in os.listdir(os.path.join(ROOT, "examples")) if name.endswith(".py"))


def takes_out(name):
    """Whether examples/<name>.py has an --out option."""
    with open(os.path.join(ROOT, "examples", f"{name}.py"), encoding="utf-8") as f:
        return '"--out"' in f.read()


def plan(backends, sections, small=False, example_names=None, models=None):
    """The units, in order: (section, key, backend, arguments of the unit's command).

    `models` keeps the ratios of these models only (default: every model of the sections).
    """

    def measure(key, backend, *args):
        return (key, backend, [UNITS_SCRIPT, *args, "--key", key] + (["--small"] if small else []))

    def ratios(section, model, backend, mode):
        key = f"ratios/{model}/{backend}-{mode}"
        return (section, *measure(key, backend, "ratios", "--model", model, "--mode", mode))

    units = []
    for backend in backends:
        units.append(("probe", *measure(f"probe/{backend}", backend, "probe")))
    for backend in backends:
        units.append(("ops", *measure(f"ops/{backend}", backend, "ops")))
    for model in ("autoencoder", "cnn", "resnet50"):
        units += [ratios("ratios", model, backend, MODE[backend]) for backend in backends]
    units.append(("first_command", f"first_command/{backends[0]}", backends[0], ["compare_penalties", "--quick"]))
    for model in ("vgg16", "unet"):
        units += [ratios("large", model, backend, MODE[backend]) for backend in backends]
    if "torch" in backends:
        units += [ratios("large", model, "torch", "compiled") for model in ("autoencoder", "cnn")]
    for backend in backends:
        for name in example_names if example_names is not None else examples():
            units.append(("examples", f"examples/{name}/{backend}", backend, [name, "--quick"]))
    if models is not None:
        units = [u for u in units if not u[1].startswith("ratios/") or u[1].split("/")[1] in models]
    return [u for u in units if u[0] == "probe" or u[0] in sections]


def read_records(path):
    if not path or not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def outcomes(records):
    """{unit key: its last outcome record}."""
    return {r["key"]: r for r in records if "status" in r}


def append(path, record):
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def run_unit(unit, env, out, seconds_left, runs=None):
    """Run one unit's process for at most `seconds_left`; return its outcome record.

    An example writes into `runs`/SECTION/BACKEND/NAME (default: `out`/runs), so the first
    command's run and its run among the examples are two runs, not one resumed.
    """
    section, key, backend, args = unit
    env = dict(env, KERAS_BACKEND=backend)
    if section in ("first_command", "examples"):
        name, *rest = args
        cmd = [sys.executable, os.path.join(ROOT, "examples", f"{name}.py"), *rest]
        where = ["--out", os.path.join(runs or os.path.join(out, "runs"), section, backend, name)]
        if not takes_out(name):  # quickstart.py writes nothing
            where = []
    else:
        cmd, where = [sys.executable, *args], ["--results", os.path.join(out, RESULTS_FILE)]
    # The command as a user types it (where it writes is gpu_check's --out / --runs).
    printable = f"KERAS_BACKEND={backend} python " + " ".join(
        shlex.quote(c) for c in [os.path.relpath(cmd[1], ROOT), *cmd[2:]]
    )
    cmd += where
    print(f"=== {key}: {printable}", flush=True)
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        output, _ = proc.communicate(timeout=seconds_left)
        status = "ok" if proc.returncode == 0 else "failed"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        status = "timed out"
    seconds = time.perf_counter() - start
    lines = output.splitlines()
    banner = next((line for line in lines if line.startswith("backend: ")), "")
    record = {"key": key, "section": section, "backend": backend, "status": status, "seconds": round(seconds, 1)}
    record.update(command=printable, exit=proc.returncode, banner=banner)
    if status != "ok":
        record["tail"] = "\n".join(lines[-25:])
    print(f"    {status} in {seconds:.0f} s" + ("" if status == "ok" else "\n" + record["tail"]), flush=True)
    return record


def nvidia_smi():
    if not shutil.which("nvidia-smi"):
        return None
    try:
        query = ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"]
        return subprocess.run(query, capture_output=True, text=True, timeout=60).stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        return None


def is_results_dir(out):
    return os.path.realpath(out) == os.path.realpath(RESULTS_DIR)


def refuse(out, accelerator, small):
    """The reason not to write figures into `out`, or None."""
    if not is_results_dir(out):
        return None
    if small:
        return "--small figures are no GPU figures: not writing into docs/results (give --out DIR)"
    if not accelerator:
        return "no accelerator seen: a CPU run gives no GPU figures; not writing into docs/results (give --out DIR)"
    return None


# --- the report --------------------------------------------------------------


def fmt(value, digits=3):
    return "" if value is None else f"{value:.{digits}g}"


def report(records):
    """docs/results/gpu.md's text from the records of one or more runs."""
    runs = [r for r in records if "run" in r]
    probes = [r for r in records if "probe" in r]
    accelerator = any(r.get("accelerator") for r in probes)
    small = any(r.get("small") for r in records)
    title = "GPU figures" if accelerator and not small else "**not GPU figures**: a CPU run or `--small`"
    lines = ["# GPU check", "", f"What this is: {title}.", ""]
    for run in runs:
        lines.append(
            f"- {run['date']}: `{run['command']}` on {run['host']}" + (f" ({run['gpu']})" if run["gpu"] else "")
        )
    lines.append("")
    for p in probes:
        versions = ", ".join(f"{k} {v}" for k, v in p["probe"]["versions"].items() if v)
        devices = ", ".join(p["probe"]["devices"])
        lines.append(f"- **{p['backend']}**: devices {devices}; Python {p['probe']['python']}, {versions}")
    if "tensorflow" not in {p["backend"] for p in probes}:
        lines += ["", "TensorFlow was not run (the device has none); the CPU XLA tests cover its path."]
    lines += ["", "## The ops: the accelerator's value against the CPU's", ""]
    ops = [r for r in records if "op" in r]
    if ops:
        lines += [
            "| backend | op | shapes | max relative difference | gradients finite | ok |",
            "| --- | --- | --- | ---: | --- | --- |",
        ]
        groups = {}
        for r in ops:
            groups.setdefault((r["backend"], r["op"]), []).append(r)
        for (backend, op), rows in groups.items():
            diffs = [r["rel_diff"] for r in rows if "rel_diff" in r]
            errors = [r["error"] for r in rows if "error" in r]
            lines.append(
                f"| {backend} | `{op}` | {', '.join('x'.join(map(str, r['shape'])) for r in rows)} | "
                f"{fmt(max(diffs) if diffs else None, 2)} | {all(r.get('grad_finite') for r in rows)} | "
                f"{'yes' if all(r['ok'] for r in rows) else 'NO: ' + '; '.join(errors)[:200]} |"
            )
    else:
        lines.append("Not reached.")
    lines += ["", f"## Step time: each stabilized form over no penalty (goal: at most {RATIO_GOAL}x)", ""]
    ratios = [r for r in records if "ratio" in r]
    if ratios:
        lines += ["| model | backend, mode | batch | no penalty (ms/step) | penalty | ms/step | ratio | goal |"]
        lines += ["| --- | --- | ---: | ---: | --- | ---: | ---: | --- |"]
        base = {(r["model"], r["backend"], r["mode"]): r["ms_per_step"] for r in ratios if r["penalty"] == "none"}
        for r in ratios:
            if r["penalty"] == "none":
                continue
            met = "met" if r["ratio"] <= RATIO_GOAL else "MISSED"
            lines.append(
                f"| {r['model']} | {r['backend']}, {r['mode']} | {r['batch']} | "
                f"{base[(r['model'], r['backend'], r['mode'])]:.2f} | {r['penalty']} | "
                f"{r['ms_per_step']:.2f} | {r['ratio']:.2f} | {met} |"
            )
        lines += [
            "",
            "Median over the timed rounds of one epoch each, all forms interleaved in one process "
            "(`time_steps` of benchmarks/overhead.py).",
        ]
    else:
        lines.append("Not reached.")
    lines += [
        "",
        "## Units",
        "",
        "| unit | status | seconds | what the script printed first |",
        "| --- | --- | ---: | --- |",
    ]
    done = outcomes(records)
    for r in done.values():
        lines.append(f"| `{r['command']}` | {r['status']} | {r['seconds']:.0f} | {r.get('banner', '')[:120]} |")
    planned = [key for run in runs for key in run.get("planned", [])]
    missing = [key for key in dict.fromkeys(planned) if key not in done]
    if missing:
        lines += ["", "Not reached: " + ", ".join(f"`{key}`" for key in missing) + "."]
    failed = [r for r in done.values() if r["status"] != "ok"]
    for r in failed:
        lines += ["", f"### {r['key']}: {r['status']}", "", "```text", r.get("tail", ""), "```"]
    return "\n".join(lines) + "\n"


def write_report(records, out):
    path = os.path.join(out, REPORT_FILE)
    with open(path, "w", encoding="utf-8") as f:
        f.write(report(records))
    return path


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--out", required=True, help="folder of gpu_check.jsonl, gpu.md and runs/ (with --report: of gpu.md)"
    )
    parser.add_argument("--runs", help="folder of the examples' outputs (default: OUT/runs)")
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=["jax", "torch"])
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--models", nargs="+", choices=MODELS, help="the models of the ratios (default: all)")
    parser.add_argument("--examples", nargs="*", metavar="NAME", help="the examples of `examples` (default: all)")
    parser.add_argument("--time-limit", type=float, default=460, help="seconds for the whole check (default 460)")
    parser.add_argument(
        "--resume", help="an earlier gpu_check.jsonl: its records carry over, its done units are skipped"
    )
    parser.add_argument("--small", action="store_true", help="tiny shapes, one round: a CPU check that it runs")
    parser.add_argument("--block-tensorflow", action="store_true", help="every unit runs as if TensorFlow were absent")
    parser.add_argument("--report", metavar="JSONL", help="only write OUT/gpu.md from this results file")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.examples or []) - set(examples()))
    if unknown:
        parser.error(f"--examples: unknown {', '.join(unknown)}; choose from {', '.join(examples())}")
    if args.time_limit <= 0:
        parser.error(f"--time-limit must be > 0 seconds, got {args.time_limit}")
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    deadline = time.monotonic() + args.time_limit
    out = os.path.abspath(args.out)
    if args.report:
        records = read_records(args.report)
        reason = refuse(
            out, any(r.get("accelerator") for r in records if "probe" in r), any(r.get("small") for r in records)
        )
        if reason:
            print(f"gpu_check.py: error: {reason}", file=sys.stderr)
            return 2
        print(f"wrote {write_report(records, out)}")
        return 0
    if is_results_dir(out):
        print(
            "gpu_check.py: error: a run writes into --out DIR (the device's $OUT, a temporary folder); "
            "docs/results gets its figures from `--report DIR/gpu_check.jsonl --out docs/results`, "
            "which checks that they are a GPU's",
            file=sys.stderr,
        )
        return 2
    os.makedirs(out, exist_ok=True)
    results = os.path.join(out, RESULTS_FILE)
    carried = read_records(args.resume)
    if os.path.abspath(args.resume or "") != results:
        with open(results, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in carried)
    done = {k: r for k, r in outcomes(carried).items() if r["status"] != "timed out"}
    units = plan(args.backends, args.sections, args.small, args.examples, args.models)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    env["TFDS_DATA_DIR"] = tempfile.mkdtemp(prefix="gpu-check-no-tfds-")  # examples use the embedded data
    if args.block_tensorflow:
        blocker = tempfile.mkdtemp(prefix="gpu-check-no-tf-")
        with open(os.path.join(blocker, "sitecustomize.py"), "w", encoding="utf-8") as f:
            f.write(BLOCK_TENSORFLOW)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (blocker, ROOT, env.get("PYTHONPATH")) if p)
    else:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    append(
        results,
        {
            "run": True,
            "key": "run",
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "command": "python benchmarks/gpu_check.py " + " ".join(shlex.quote(a) for a in argv),
            "host": f"{platform.system()} {platform.machine()}",
            "gpu": nvidia_smi(),
            "small": args.small,
            "planned": [key for _, key, _, _ in units],
        },
    )
    bad = 0
    for unit in units:
        if unit[1] in done:
            continue
        left = deadline - time.monotonic()
        if left < MIN_UNIT_SECONDS:
            print(f"time limit: {left:.0f} s left; the remaining units are for a later call (--resume)", flush=True)
            break
        record = run_unit(unit, env, out, left, args.runs)
        append(results, record)
        bad += record["status"] != "ok"
        write_report(read_records(results), out)
    write_report(read_records(results), out)
    print(f"wrote {results} and {os.path.join(out, REPORT_FILE)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
