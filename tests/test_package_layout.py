"""The package map of docs/design.md, enforced: what may import what.

Three layers, each a place in the tree:

- the core: the modules directly in `keras_entropy/` and the `ops`,
  `profile` and `datasets` packages;
- the experiment harness: `keras_entropy/experiments/`;
- tuning: `keras_entropy/tuning/` (and the `tuning_cluster` alias).

The core never imports the harness or tuning (stated exceptions, all for
serialization: the package's `__init__` imports the harness modules that
register classes a saved model may use, and re-exports `BinaryIoU`); the
harness may import the core, never tuning; tuning may import the core and the
harness. Modules are cut where a concept ends: no line limit.
"""

import ast
import os
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.one_backend

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "keras_entropy")

CORE_MODULES = {
    "__init__",
    "__main__",
    "ops",
    "regularizers",
    "layers",
    "losses",
    "validation",
    "distribution",
    "profile",
    "callbacks",
    "placement",
    "console",
    "datasets",
}

#: (importing file, imported layer-qualified module): the stated exceptions of docs/design.md.
EXCEPTIONS = {
    ("__init__.py", "experiments"),
    ("__init__.py", "experiments.peers"),
    ("__init__.py", "experiments.segmentation"),
    ("__init__.py", "experiments.sparse_coding"),
}


def layer_of(relative_path):
    """'core', 'harness' or 'tuning' for a file path relative to the package."""
    top = relative_path.split(os.sep)[0]
    if top == "experiments":
        return "harness"
    if top in ("tuning", "tuning_cluster.py"):
        return "tuning"
    return "core"


def _package_files():
    for folder, dirs, files in os.walk(PACKAGE):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            if name.endswith(".py"):
                yield os.path.relpath(os.path.join(folder, name), PACKAGE)


def _package_imports(path):
    """Every `keras_entropy.X[.Y]` a file imports, as 'X' or 'X.Y' (the module below the package)."""
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
                found.add(".".join(parts[1:3]))
    return found


def _imported_layer(name):
    return layer_of(name.split(".")[0] + ("" if name.split(".")[0] in ("experiments", "tuning") else ".py"))


def test_every_top_level_module_is_a_core_module():
    modules = {entry[:-3] for entry in os.listdir(PACKAGE) if entry.endswith(".py")}
    packages = {entry for entry in os.listdir(PACKAGE) if os.path.isfile(os.path.join(PACKAGE, entry, "__init__.py"))}
    assert modules - {"tuning_cluster"} | (packages & {"ops", "profile", "datasets"}) == CORE_MODULES
    assert packages == {"ops", "profile", "datasets", "experiments", "tuning"}


@pytest.mark.parametrize("path", sorted(p for p in _package_files() if layer_of(p) != "tuning"))
def test_layer_imports_follow_the_package_map(path):
    imported = _package_imports(os.path.join(PACKAGE, path))
    forbidden = {"tuning"} | ({"harness"} if layer_of(path) == "core" else set())
    wrong = {name for name in imported if _imported_layer(name) in forbidden and (path, name) not in EXCEPTIONS}
    assert not wrong, f"keras_entropy/{path} imports {sorted(wrong)} (see docs/design.md)"


def test_the_rule_catches_a_core_module_importing_the_harness(tmp_path):
    path = tmp_path / "fake.py"
    path.write_text("from keras_entropy.experiments import sweeps\nimport keras_entropy.tuning.spaces\n")
    found = _package_imports(str(path))
    assert found == {"experiments", "experiments.sweeps", "tuning.spaces"}
    assert {_imported_layer(name) for name in found} == {"harness", "tuning"}


def _registering_modules_in_the_tree():
    """`keras_entropy.X` of every package file that registers a serializable class."""
    found = set()
    for path in _package_files():
        if "register_keras_serializable" in open(os.path.join(PACKAGE, path)).read():
            found.add("keras_entropy." + path[:-3].replace(os.sep, ".").removesuffix(".__init__"))
    return found


def test_one_list_names_every_module_that_registers_classes():
    import keras_entropy

    assert set(keras_entropy.REGISTERING_MODULES) == _registering_modules_in_the_tree()
    assert len(set(keras_entropy.REGISTERING_MODULES)) == len(keras_entropy.REGISTERING_MODULES)


def test_the_harness_modules_of_the_list_are_stated_exceptions_of_the_package():
    # `import keras_entropy` imports every module of the list; those in the harness are its stated exceptions.
    import keras_entropy

    harness = {
        name.split(".", 1)[1]
        for name in keras_entropy.REGISTERING_MODULES
        if _imported_layer(name.split(".", 1)[1]) == "harness"
    }
    assert harness == {name for path, name in EXCEPTIONS if path == "__init__.py"} - {"experiments"}


#: Modules whose `__all__` re-exports names on purpose: a package's `__init__`, the adapter that
#: hands KerasTuner's public classes to the tuning modules, and the `tuning_cluster` entry point.
RE_EXPORTERS = {os.path.join("tuning", "_keras_tuner_compat.py"), "tuning_cluster.py"}


def _all_and_defined(path):
    """(names in the `__all__` of the module at `path`, names it defines at the top level)."""
    tree = ast.parse(open(path).read(), path)
    exported, defined = [], set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    defined.add(target.id)
                    if target.id == "__all__":
                        exported = [element.value for element in node.value.elts]
    return exported, defined


@pytest.mark.parametrize(
    "path", sorted(p for p in _package_files() if not p.endswith("__init__.py") and p not in RE_EXPORTERS)
)
def test_a_module_exports_only_what_it_defines(path):
    # One home per name: a module's __all__ lists no name it imports from another module.
    exported, defined = _all_and_defined(os.path.join(PACKAGE, path))
    assert not set(exported) - defined, f"keras_entropy/{path} re-exports {sorted(set(exported) - defined)}"


def test_the_export_rule_catches_a_re_export(tmp_path):
    path = tmp_path / "fake.py"
    path.write_text("from os import sep\n\ndef f():\n    pass\n\n__all__ = ['f', 'sep']\n")
    assert _all_and_defined(str(path)) == (["f", "sep"], {"f", "__all__"})


def test_an_unclassified_test_module_is_a_collection_error(tmp_path):
    """Every test says whether it runs on every backend or on one (tests/conftest.py)."""
    shutil.copy(os.path.join(os.path.dirname(os.path.abspath(__file__)), "conftest.py"), tmp_path)
    (tmp_path / "test_marked.py").write_text(
        "import pytest\npytestmark = pytest.mark.one_backend\n\n\ndef test_a():\n    pass\n"
    )
    (tmp_path / "test_unmarked.py").write_text("def test_b():\n    pass\n")
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-p", "no:xdist", str(tmp_path)]
    command += ["-o", "markers=every_backend\none_backend", "--rootdir", str(tmp_path), "-c", os.devnull]
    env = dict(os.environ, KERAS_BACKEND="jax")  # the quickest to import; no backend is exercised
    proc = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR, proc.stdout + proc.stderr
    assert "test_unmarked.py" in proc.stderr and "test_marked.py" not in proc.stderr, proc.stderr
    (tmp_path / "test_unmarked.py").write_text(
        "import pytest\n\n\n@pytest.mark.every_backend\ndef test_b():\n    pass\n"
    )
    # Once every test is marked, both classes collect; --every-backend-only keeps the every_backend one.
    proc = subprocess.run(
        [*command, "--every-backend-only"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300
    )
    assert proc.returncode == 0 and "1 passed, 1 deselected" in proc.stdout, proc.stdout + proc.stderr


def harness_closure(path):
    """The harness modules a file needs: the closure of its `keras_entropy.experiments` imports."""
    harness = {name[:-3] for name in os.listdir(os.path.join(PACKAGE, "experiments")) if name.endswith(".py")}

    def needs(file):
        found = set()
        for name in _package_imports(file):
            first, _, second = name.partition(".")
            if first == "experiments" and second in harness - {"__init__"}:
                found.add(second)
        return found

    seen, todo = set(), needs(path)
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo |= needs(os.path.join(PACKAGE, "experiments", module + ".py"))
    return seen, harness - {"__init__"}


def test_the_first_command_needs_few_harness_modules():
    """examples/compare_penalties.py's table needs 10 of the harness's modules (17 of 29 before issue 25)."""
    needed, harness = harness_closure(os.path.join(os.path.dirname(PACKAGE), "examples", "compare_penalties.py"))
    print(f"{len(needed)} of {len(harness)} harness modules: {sorted(needed)}")
    assert needed == {
        "analysis",
        "datasets",
        "figures",
        "loading",
        "paper",
        "runs",
        "script_setup",
        "stats",
        "survival",
        "sweeps",
    }
