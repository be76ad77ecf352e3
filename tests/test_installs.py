"""The install extras in pyproject.toml, the README's install commands and .ci/run agree.

Static checks, no network: one TensorFlow distribution (`tensorflow`, never
`tensorflow-cpu`), no CPU-only JAX extra, KerasTuner's undeclared imports
declared, every third-party module that keras_entropy and the examples import
provided by the documented `[tensorflow,examples]` install, and the README's
commands naming extras that exist. .ci/fresh_installs.py installs each extra
in a fresh virtual environment and runs the scripts (slow, a CI step).
"""

import ast
import glob
import os
import re
import sys

import pytest

pytestmark = pytest.mark.one_backend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

# Every distribution that provides a module named `tensorflow`.
TF_DISTRIBUTIONS = {
    "tensorflow",
    "tensorflow-cpu",
    "tensorflow-gpu",
    "tensorflow-intel",
    "tensorflow-macos",
    "intel-tensorflow",
    "tf-nightly",
    "tf-nightly-cpu",
}
# Imported module -> the distribution that provides it.
MODULE_DISTRIBUTIONS = {
    "keras": "keras",
    "numpy": "numpy",
    "tensorflow": "tensorflow",
    "tensorflow_datasets": "tensorflow-datasets",
    "jax": "jax",
    "jaxlib": "jaxlib",
    "torch": "torch",
    "matplotlib": "matplotlib",
    "pandas": "pandas",
    "scipy": "scipy",
    "tqdm": "tqdm",
    "keras_tuner": "keras-tuner",
    "sklearn": "scikit-learn",
    "six": "six",
    "tensorboard": "tensorboard",
    "PIL": "pillow",
    "absl": "absl-py",
    "grpc": "grpcio",
}
# Provided by another listed distribution's own requirements.
INDIRECT = {"pillow": "matplotlib", "jaxlib": "jax", "absl-py": "tensorflow", "grpcio": "keras-tuner"}


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement(spec):
    """(normalized name, set of extras) of a requirement string."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[([^\]]*)\])?", spec)
    extras = {normalize(e) for e in (match.group(3) or "").split(",") if e.strip()}
    return normalize(match.group(1)), extras


@pytest.fixture(scope="module")
def project():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)["project"]


def closure(project, extras):
    """Distribution names installed by `.[extras]` (this package's own requirements, extras expanded)."""
    names, todo, seen = set(), list(extras), set()
    for spec in project["dependencies"]:
        names.add(requirement(spec)[0])
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for spec in project["optional-dependencies"][extra]:
            name, sub = requirement(spec)
            if name == normalize(project["name"]):
                todo.extend(sub)
            else:
                names.add(name)
    return names


def all_requirements(project):
    yield from project["dependencies"]
    for specs in project["optional-dependencies"].values():
        yield from specs


def test_one_tensorflow_distribution_and_no_cpu_only_backend(project):
    names = [requirement(spec) for spec in all_requirements(project)]
    assert {n for n, _ in names} & TF_DISTRIBUTIONS == {"tensorflow"}, "only `tensorflow`, never tensorflow-cpu"
    assert all("cpu" not in extras for n, extras in names if n in ("jax", "tensorflow")), "jax[cpu] pins CPU-only"
    assert closure(project, ["tensorflow"]) >= {"tensorflow"}
    assert "tensorflow" in closure(project, ["data"])
    assert {"jax", "jaxlib"} <= closure(project, ["jax"])
    assert "torch" in closure(project, ["torch"])


def test_tuning_declares_keras_tuners_undeclared_imports(project):
    # keras-tuner 1.4.8 imports six without declaring it, and tensorboard on the TensorFlow backend.
    assert {"keras-tuner", "six", "tensorboard"} <= closure(project, ["tuning"])


def imported_top_level_modules(paths):
    modules = set()
    for path in paths:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules


def test_every_import_of_the_package_and_examples_is_in_an_extra(project):
    """`.[tensorflow,examples]` (the README's first command) provides every example's imports."""
    paths = glob.glob(os.path.join(ROOT, "keras_entropy", "**", "*.py"), recursive=True)
    paths += glob.glob(os.path.join(ROOT, "examples", "*.py"))
    local = {"keras_entropy"} | {os.path.splitext(os.path.basename(p))[0] for p in paths}
    third_party = imported_top_level_modules(paths) - set(sys.stdlib_module_names) - local
    unknown = third_party - set(MODULE_DISTRIBUTIONS)
    assert not unknown, f"add {sorted(unknown)} to MODULE_DISTRIBUTIONS here and its distribution to an extra"
    installed = closure(project, ["tensorflow", "examples"])
    backends = {"jax", "jaxlib", "torch"}  # imported only on their own backend, installed by [jax] / [torch]
    missing = {MODULE_DISTRIBUTIONS[m] for m in third_party} - installed - backends
    missing = {d for d in missing if INDIRECT.get(d) not in installed}
    assert not missing, f'`pip install -e ".[tensorflow,examples]"` lacks {sorted(missing)}'


def readme():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        return f.read()


def test_readme_install_commands_name_existing_extras(project):
    text = readme()
    extras = set(project["optional-dependencies"])
    named = re.findall(r"""(?:keras-entropy|["']?\.)\[([A-Za-z0-9_,-]+)\]""", text)
    assert named, "the README shows at least one install command with extras"
    for group in named:
        assert set(group.split(",")) <= extras, f"README names extras [{group}]; pyproject has {sorted(extras)}"
    for line in text.splitlines():
        if "pip install" in line:
            assert "tensorflow-cpu" not in line.split("pip install", 1)[1].split("pip uninstall")[0], line


def test_ci_runs_the_readmes_test_command_first_then_the_other_steps():
    with open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8") as f:
        run = [line.strip() for line in f if line.strip() and not line.lstrip().startswith("#")]
    test_command = 'pip install -q -c .ci/constraints.txt -e ".[test]" && python tests/scripts/run_backends.py'
    assert test_command in readme()
    steps = [line for line in run if line.startswith("step ")]
    assert steps[0] == f"step tests bash -c '{test_command}'"
    # Later steps: lint, the strict docs build, the slow tests, the built wheel, the fresh installs (each its
    # own step, timed), and the browser check of the built site.
    for needle in ("ruff check", "ruff format --check", "mkdocs build --strict", "-m slow", ".ci/wheel.py"):
        assert any(needle in line for line in steps[1:]), needle
    assert any(".ci/fresh_installs.py" in line for line in steps[1:])
    assert any("python .ci/check_site.py" in line for line in run)
    with open(os.path.join(ROOT, ".ci", "constraints.txt"), encoding="utf-8") as f:
        pins = {requirement(line)[0] for line in f if line.strip() and not line.startswith("#")}
    assert not pins & (TF_DISTRIBUTIONS - {"tensorflow"})


def test_the_version_is_kept_in_pyproject_only(project, monkeypatch):
    """`keras_entropy.__version__` is pyproject's version: from the metadata, or read from the source tree."""
    import importlib.metadata

    import keras_entropy

    assert keras_entropy.__version__ == project["version"] == importlib.metadata.version("keras-entropy")

    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    assert keras_entropy._version() == project["version"]  # a source tree that is not installed
