"""keras_entropy.tuning._keras_tuner_compat and the layout of keras_entropy.tuning."""

import ast
import glob
import os

import keras_tuner
import pytest

from keras_entropy import tuning
from keras_entropy.tuning import _keras_tuner_compat as compat

pytestmark = pytest.mark.one_backend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "keras_entropy")
TUNING_FILES = sorted(glob.glob(os.path.join(PACKAGE, "tuning", "**", "*.py"), recursive=True))


def test_the_installed_keras_tuner_is_supported():
    assert compat.check_version() == keras_tuner.__version__
    assert compat.check_version("1.4.0") == "1.4.0"
    assert compat.check_version("1.4.8") == "1.4.8"
    assert tuning.SUPPORTED_VERSIONS == compat.SUPPORTED_VERSIONS == ((1, 4), (1, 5))


@pytest.mark.parametrize("version", ["1.3.2", "1.5.0", "2.0", "0.9", "not-a-version"])
def test_an_unsupported_keras_tuner_fails_clearly(version):
    with pytest.raises(ImportError) as info:
        compat.check_version(version)
    message = str(info.value)
    assert f"keras-tuner {version} is installed" in message
    assert compat.SUPPORTED_SPEC in message and "pip install" in message


def test_every_public_name_is_re_exported():
    used = [
        "EntropyHyperModel",
        "EntropySearch",
        "HeartbeatClient",
        "KINDS",
        "LogUniform",
        "NO_PLACEMENT",
        "PAPER_LAMS",
        "best_trial_summary",
        "cluster_role",
        "entropy_hypermodel",
        "export_trials",
        "hp_names",
        "log_uniform",
        "make_fault_tolerant",
        "objective",
        "report_trials",
        "run_search",
        "trial_config",
        "trial_records",
    ]
    for name in used:
        assert name in tuning.__all__ and hasattr(tuning, name), name
    from keras_entropy import tuning_cluster
    from keras_entropy.tuning.distribute import cluster

    assert tuning_cluster.LoopbackCluster is cluster.LoopbackCluster
    assert tuning_cluster.main is cluster.main


def _source(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def test_only_the_adapter_uses_keras_tuner_internals():
    paths = glob.glob(os.path.join(PACKAGE, "**", "*.py"), recursive=True)
    users = sorted(os.path.relpath(p, PACKAGE) for p in paths if "keras_tuner.src" in _source(p))
    assert users == [os.path.join("tuning", "_keras_tuner_compat.py")]


def test_no_class_swapping_and_small_modules():
    for path in TUNING_FILES + [os.path.join(PACKAGE, "tuning_cluster.py")]:
        text = _source(path)
        assert "__class__" not in text, path
        assert len(text.splitlines()) <= 500, path


def test_no_module_uses_another_modules_private_names():
    for path in TUNING_FILES:
        tree = ast.parse(_source(path), path)
        modules = set()  # local names bound to keras_entropy modules
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("keras_entropy"):
                for alias in node.names:
                    # The package's own adapter module is imported as a module, by design.
                    if alias.name.startswith("_") and alias.name != "_keras_tuner_compat":
                        pytest.fail(f"{path}: imports private {node.module}.{alias.name}")
                    modules.add(alias.asname or alias.name)
            elif isinstance(node, ast.Import):
                modules.update(a.asname or a.name for a in node.names if a.name.startswith("keras_entropy"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in modules
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                pytest.fail(f"{path}:{node.lineno}: uses private {node.value.id}.{node.attr}")
