"""The README's docs command in a fresh install: `mkdocs build --strict`, into --out.

Run by .ci/fresh_installs.py in a virtual environment with the `[docs]` extra
alone (the generator reads the docstrings without importing keras_entropy).

    python .ci/build_site.py --out DIR
"""

import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="the site's folder")
    args = parser.parse_args(argv)
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", os.path.abspath(args.out)]
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    pages = sum(name == "index.html" for _, _, files in os.walk(args.out) for name in files)
    print(f"built {pages} pages into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
