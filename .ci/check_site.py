"""The built documentation site, opened as a reader would: in a headless Chromium.

Serves `site/` (from `mkdocs build --strict`) on localhost and opens, in
Debian's Chromium driven by Playwright (no browser download):

- the home page: its title, a formula rendered as MathML (a `<math>` element
  with a size on screen), the first command's table;
- an API page (`api/keras_entropy/`): the `DenseEntropy` entry and its
  rendered formula;
- the search: typing "DenseEntropy" lists results;

and checks that no page logged a console error and that nothing was fetched
from outside localhost (the site works offline: no CDN, no web fonts). It
also checks that every public name of `keras_entropy`, `keras_entropy.ops`,
`keras_entropy.profile` and `keras_entropy.tuning` has an entry in the API
reference. `--screenshot PATH` saves the API page as a PNG (the guide shows
one: docs/images/api_reference.png). Prints each check and its time.

    python .ci/check_site.py [--site site] [--chromium /usr/bin/chromium] [--screenshot PATH]
"""

import argparse
import ast
import functools
import http.server
import os
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: The public modules of the API reference and their pages (site paths).
API_PAGES = {
    "keras_entropy": "api/keras_entropy/index.html",
    "keras_entropy.ops": "api/ops/index.html",
    "keras_entropy.profile": "api/profile/index.html",
    "keras_entropy.tuning": "api/tuning/index.html",
}


def public_names():
    """`{module: [names]}`: every public function, class and constant of the documented modules.

    Read from each package's `__all__` without importing it (no Keras needed);
    a name that is a subpackage or module (`keras_entropy.ops`) has its own page.
    """
    names = {}
    for module_name in API_PAGES:
        folder = os.path.join(ROOT, *module_name.split("."))
        tree = ast.parse(open(os.path.join(folder, "__init__.py"), encoding="utf-8").read())
        exported = next(
            ast.literal_eval(node.value)
            for node in tree.body
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets)
        )

        def is_module(name):
            return os.path.exists(os.path.join(folder, name)) or os.path.exists(os.path.join(folder, name + ".py"))

        names[module_name] = [n for n in exported if not is_module(n)]
    return names


def check_entries(site):
    """Every public name has an entry (`id="module.name"`) on its API page."""
    missing = []
    for module_name, names in public_names().items():
        with open(os.path.join(site, API_PAGES[module_name]), encoding="utf-8") as f:
            page = f.read()
        missing += [f"{module_name}.{n}" for n in names if f'id="{module_name}.{n}"' not in page]
    assert not missing, f"no API entry for {missing}"
    return sum(len(n) for n in public_names().values())


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(site):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=site))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", default=os.path.join(ROOT, "site"), help="the built site (default: site/)")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="the Chromium executable")
    parser.add_argument("--screenshot", help="save the API page as this PNG")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    start = time.perf_counter()
    count = check_entries(args.site)
    print(f"API reference: an entry for each of the {count} public names ({time.perf_counter() - start:.1f} s)")
    server = serve(args.site)
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    errors, outside = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))

        def local_only(route):
            if route.request.url.startswith(base):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        page.route("**/*", local_only)

        def check(label, path, title, selector):
            t0 = time.perf_counter()
            page.goto(base + path, wait_until="networkidle")
            assert title in page.title(), f"{label}: title {page.title()!r}"
            formula = page.locator(selector).first
            formula.wait_for(state="visible", timeout=10_000)
            box = formula.bounding_box()
            assert box and box["width"] > 5 and box["height"] > 5, f"{label}: formula not rendered: {box}"
            print(
                f"{label}: {page.title()!r}, a formula rendered {box['width']:.0f} x {box['height']:.0f} px "
                f"({time.perf_counter() - t0:.1f} s)"
            )

        check("home page", "", "keras-entropy", "article math")
        assert page.locator("article table").count() >= 1 or "| config |" in page.content(), "home: no table"
        check("API page", "api/keras_entropy/", "keras_entropy", '[id="keras_entropy.DenseEntropy"] ~ div math')
        if args.screenshot:
            page.locator('[id="keras_entropy.DenseEntropy"]').scroll_into_view_if_needed()
            page.screenshot(path=args.screenshot)
            print(f"wrote {args.screenshot}")
        t0 = time.perf_counter()
        page.goto(base, wait_until="networkidle")
        page.locator("label.md-search__icon, .md-search__input").first.click()
        page.locator(".md-search__input").press_sequentially("DenseEntropy", delay=50)
        results = page.locator(".md-search-result__item")
        results.first.wait_for(state="attached", timeout=30_000)
        print(f"search: {results.count()} results for 'DenseEntropy' ({time.perf_counter() - t0:.1f} s)")
        browser.close()
    server.shutdown()
    assert not errors, "console errors:\n" + "\n".join(errors)
    assert not outside, "fetched from outside localhost (the site must work offline):\n" + "\n".join(outside)
    print(f"no console errors, nothing fetched from outside localhost; {time.perf_counter() - start:.1f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
