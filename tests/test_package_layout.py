"""The package map of docs/design.md, enforced: what may import what.

- the core never imports the experiment harness or tuning (two stated
  exceptions, both for serialization: the package re-exports `BinaryIoU`,
  and the CLI imports the modules that register classes a saved model may
  use);
- the harness may import the core, never tuning;
- tuning may import the core and the harness.
"""

import ast
import os

import pytest

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "keras_entropy")

CORE = {"__init__", "__main__", "ops", "regularizers", "layers", "losses", "validation",
        "distribution", "profile", "callbacks", "placement"}
HARNESS = {"datasets", "sweeps", "stats", "reports", "experiments", "classification",
           "segmentation", "clustering", "sparse_coding", "profile_figures", "script_setup"}
TUNING = {"tuning", "tuning_cluster"}

#: (importing module, imported module): the stated exceptions of docs/design.md.
EXCEPTIONS = {
    ("__init__", "segmentation"),
    ("__main__", "segmentation"),
    ("__main__", "sparse_coding"),
}


def _top_level_modules():
    names = set()
    for entry in os.listdir(PACKAGE):
        if entry.endswith(".py"):
            names.add(entry[:-3])
        elif os.path.isfile(os.path.join(PACKAGE, entry, "__init__.py")):
            names.add(entry)
    return names


def _package_imports(path):
    """The first component after `keras_entropy.` of every import in a file."""
    tree = ast.parse(open(path).read(), path)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for module in modules:
            parts = module.split(".")
            if parts[0] == "keras_entropy" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_every_module_has_a_layer():
    assert _top_level_modules() - {"data"} == CORE | HARNESS | TUNING


@pytest.mark.parametrize("module", sorted(CORE | HARNESS))
def test_layer_imports_follow_the_package_map(module):
    imported = _package_imports(os.path.join(PACKAGE, module + ".py"))
    forbidden = TUNING | (HARNESS if module in CORE else set())
    wrong = {name for name in imported & forbidden if (module, name) not in EXCEPTIONS}
    assert not wrong, f"keras_entropy.{module} imports {sorted(wrong)} (see docs/design.md)"


def test_the_rule_catches_a_core_module_importing_the_harness(tmp_path):
    path = tmp_path / "fake.py"
    path.write_text("from keras_entropy import sweeps\nimport keras_entropy.tuning.spaces\n")
    assert _package_imports(str(path)) == {"sweeps", "tuning"}
