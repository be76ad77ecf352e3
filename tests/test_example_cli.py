"""Every example's command line: --help without Keras or logs; bad input named in one error line (exit status 2).

Examples parse their arguments with argparse alone, before they import Keras
or keras_entropy: --help and argument errors are argparse's own (an error is
the usage, then `<script>: error: ...`). Bad data found once Keras started
(a --data-dir without the data set) is one `error:` line after TensorFlow's
own start-up lines.
"""

import os
import re
import subprocess
import sys

import pytest

from helpers import EXAMPLES_DIR, ROOT

pytestmark = pytest.mark.one_backend

EXAMPLES = sorted(f[:-3] for f in os.listdir(EXAMPLES_DIR) if f.endswith(".py") and not f.startswith("_"))
WITH_DATA_DIR = [name for name in EXAMPLES if name != "quickstart"]
MNIST_EXAMPLES = [
    "compare_penalties",
    "dense_autoencoder",
    "sparse_autoencoder",
    "tune_lambda",
    "unsupervised_clustering",
]
# TensorFlow's C++ logs, absl's and TensorFlow's Python loggers.
LOG_LINE = re.compile(
    r"^([IWEF]\d{4} |WARNING: All log messages|To enable the following instructions"
    r"|(WARNING|INFO|ERROR):(absl|tensorflow):)"
)


def error_line(proc, name):
    """The one `<name>.py: error: ...` line of stderr, after TensorFlow's log lines and argparse's usage."""
    lines = [line for line in proc.stderr.splitlines() if not LOG_LINE.match(line)]
    if lines and lines[0].startswith("usage: "):
        lines = [line for line in lines if not line.startswith(("usage: ", " "))]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"{name}.py: error: "), proc.stderr
    return lines[0]


def run(name, args, tmp_path, timeout=300):
    """`python examples/<name>.py args` in `tmp_path`, without TF_CPP_MIN_LOG_LEVEL, nor a tensorflow-datasets copy."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["TFDS_DATA_DIR"] = str(tmp_path / "tfds_home")
    return subprocess.run(
        [sys.executable, os.path.join(EXAMPLES_DIR, f"{name}.py"), *args],
        cwd=str(tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_every_example_is_covered():
    assert len(EXAMPLES) >= 9 and "quickstart" in EXAMPLES and "tune_lambda" in EXAMPLES


@pytest.mark.parametrize("name", EXAMPLES)
def test_help_prints_no_logs_and_does_not_start_keras(name, tmp_path):
    proc = run(name, ["--help"], tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.startswith("usage: ")
    assert not [line for line in proc.stdout.splitlines() if LOG_LINE.match(line)]
    assert "shared/" not in proc.stdout  # users have no ../shared folder
    assert "--verbose" in proc.stdout
    if name in MNIST_EXAMPLES:
        for file in (
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
        ):
            assert file in proc.stdout
    # The arguments are parsed (argparse alone) before Keras or keras_entropy is imported.
    probe = (
        "import runpy, sys\n"
        f"sys.argv = [{os.path.join(EXAMPLES_DIR, name + '.py')!r}, '--help']\n"
        "try:\n    runpy.run_path(sys.argv[0], run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print('IMPORTED', sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=str(tmp_path), capture_output=True, text=True, timeout=120
    ).stdout
    assert out.splitlines()[-1] == "IMPORTED []"


def test_tune_lambda_help_names_only_existing_flags(tmp_path):
    text = run("tune_lambda", ["--help"], tmp_path, timeout=120).stdout
    usage = text.split("\n\n")[0] + "\n" + text.split("options:")[1].split("\n\n")[0]
    flags = set(re.findall(r"(--[a-z][a-z-]+)", usage))
    mentioned = set(re.findall(r"(--[a-z][a-z-]+)", text))
    assert "--max-epochs" not in mentioned
    assert mentioned <= flags | {"--workers"}  # --workers belongs to keras_entropy.tuning_cluster


#: The examples whose models carry an entropy penalty, and their form options.
FORM_FLAGS = {
    "dense_autoencoder": {"--form", "--forms"},
    "cnn_classification": {"--form"},
    "large_cnn_classification": {"--form"},
    "unet_segmentation": {"--form"},
    "tune_lambda": {"--forms"},
}
DOCS = [os.path.join(ROOT, "docs", name) for name in ("experiments.md", "tuning.md")]
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z-]+)")


def help_flags(name, tmp_path):
    """The flags `examples/<name>.py --help` lists."""
    text = run(name, ["--help"], tmp_path, timeout=120).stdout
    return set(FLAG.findall(text.split("\n\n")[0] + "\n" + text.split("options:")[1].split("\n\n")[0]))


def test_every_example_with_a_penalty_takes_its_form(tmp_path):
    for name, flags in FORM_FLAGS.items():
        assert flags <= help_flags(name, tmp_path), name
    proc = run("cnn_classification", ["--form", "area"], tmp_path, timeout=120)
    assert proc.returncode == 2
    line = error_line(proc, "cnn_classification")
    assert "--form" in line and "'area'" in line and all(form in line for form in ("paper", "volume", "normalized"))


def test_every_flag_in_the_docs_is_a_real_flag(tmp_path):
    text = "\n".join(open(path, encoding="utf-8").read() for path in DOCS).replace("\\\n", " ")
    commands = re.findall(r"python examples/(\w+)\.py([^\n`]*)", text)
    flags = {name: help_flags(name, tmp_path) for name in sorted({name for name, _ in commands})}
    for name, arguments in commands:  # a command line: the flags of that example
        unknown = set(FLAG.findall(arguments.split("#")[0])) - flags[name]
        assert not unknown, f"python examples/{name}.py{arguments}: {sorted(unknown)}"
    # In prose: a flag of some example, or of the tuning cluster launcher.
    with open(os.path.join(ROOT, "keras_entropy", "tuning", "distribute", "cluster.py"), encoding="utf-8") as f:
        cluster = f.read()  # python -m keras_entropy.tuning_cluster's options
    every = set().union(*flags.values(), *(help_flags(name, tmp_path) for name in EXAMPLES if name not in flags))
    unknown = {flag for flag in FLAG.findall(text) if flag not in every and f'"{flag}"' not in cluster}
    assert not unknown, sorted(unknown)


@pytest.mark.parametrize("name", WITH_DATA_DIR)
def test_missing_data_dir_is_one_error_line_exit_2_and_writes_nothing(name, tmp_path):
    missing, out = tmp_path / "nonexistent", tmp_path / "out"
    proc = run(name, ["--data-dir", str(missing), "--out", str(out)], tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr[-3000:]
    line = error_line(proc, name)
    assert f"--data-dir {missing}: no such folder" in line, line
    assert "Traceback" not in line and "data_dir=" not in line and "download=True" not in line
    assert proc.stdout == ""
    assert os.listdir(tmp_path) == []  # no --out folder, nothing else


def test_data_dir_without_the_data_set_is_one_error_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run("dense_autoencoder", ["--data-dir", str(empty), "--out", str(tmp_path / "out")], tmp_path)
    assert proc.returncode == 2
    line = error_line(proc, "dense_autoencoder")
    assert f"--data-dir {empty}: holds neither the four MNIST IDX files" in line
    assert "t10k-labels-idx1-ubyte.gz" in line
    assert sorted(os.listdir(tmp_path)) == ["empty"]


def test_data_set_missing_after_keras_started_is_one_error_line(tmp_path):
    # No --data-dir: Keras and tensorflow-datasets start, look into an empty data directory and give up.
    proc = run("dense_autoencoder", ["--no-download", "--out", str(tmp_path / "out")], tmp_path)
    assert proc.returncode == 2, proc.stderr[-3000:]
    line = error_line(proc, "dense_autoencoder")
    assert line.startswith("dense_autoencoder.py: error: mnist is not in tensorflow-datasets' data directory")
    assert str(tmp_path / "tfds_home") in line and "--no-download" in line and "--data-dir DIR" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "name, args, flag",
    [
        ("quickstart", ["--latent", "0"], "--latent"),
        ("cnn_classification", ["--widths", "0"], "--widths"),
        ("unsupervised_clustering", ["--methods", "dbscan"], "--methods dbscan"),
        ("entropy_profiles", ["--weights", "alexnet=x.h5"], "--weights alexnet=x.h5"),
        ("tune_lambda", ["--max-epochs", "3"], "--max-epochs"),
    ],
)
def test_bad_arguments_are_named_in_one_error_line_exit_2(name, args, flag, tmp_path):
    proc = run(name, args, tmp_path, timeout=120)
    assert proc.returncode == 2
    assert flag in error_line(proc, name)
    assert os.listdir(tmp_path) == []


def test_a_summarys_command_is_the_one_that_made_the_records():
    from keras_entropy.experiments import script_setup

    script = os.path.join("examples", "compare_penalties.py")
    assert script_setup.command_line(script, ["--seeds", "5", "--report-only", "--out", "x"]) == (
        "python examples/compare_penalties.py --seeds 5 --out x"
    )
