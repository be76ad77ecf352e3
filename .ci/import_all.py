"""An install is complete: every module of keras_entropy, and every module the examples import, imports.

Run with a fresh environment's python (.ci/fresh_installs.py does):

    python .ci/import_all.py [--examples]         # keras_entropy's modules (and the examples' imports)

`keras_entropy.tuning` and its modules need the `tuning` extra, and the
plotting modules the `plot` extra: `--skip PREFIX ...` leaves modules out by
name prefix, for installs documented without them. The examples' imports are
read from their source (`ast`), at any depth, so an import inside a function
counts too. Prints one line, the number of modules imported; exits 1 naming
the first module that fails.
"""

import argparse
import ast
import glob
import importlib
import os
import pkgutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def package_modules():
    import keras_entropy

    names = ["keras_entropy"]
    for info in pkgutil.walk_packages(keras_entropy.__path__, prefix="keras_entropy."):
        if not info.name.endswith("__main__"):
            names.append(info.name)
    return names


def example_imports():
    names = set()
    for path in glob.glob(os.path.join(ROOT, "examples", "*.py")):
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
    return sorted(names)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", action="store_true", help="also import every module the examples import")
    parser.add_argument("--skip", nargs="+", default=[], metavar="PREFIX", help="leave out modules by name prefix")
    args = parser.parse_args(argv)
    names = package_modules() + (example_imports() if args.examples else [])
    names = [n for n in dict.fromkeys(names) if not any(n == p or n.startswith(p + ".") for p in args.skip)]
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as error:  # any failure is the finding: name it
            print(f"import {name} failed: {type(error).__name__}: {error}", file=sys.stderr)
            return 1
    print(f"{len(names)} modules imported")
    return 0


if __name__ == "__main__":
    sys.exit(main())
