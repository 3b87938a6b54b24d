"""Vendor the ipywidgets embed scripts into the book's ``_static`` so that widget pages render offline.

myst-nb's default ``nb_ipywidgets_js`` loads RequireJS and ``@jupyter-widgets/html-manager`` from CDNs. The
build instead downloads pinned npm packages once (``npm pack``, cached in ``book/_build/widget_assets/npm/``),
copies the few files a page loads into ``book/_build/widget_assets/static/jupyter-widgets/``, and this module,
as a Sphinx extension, adds that folder to ``html_static_path``, so Sphinx copies it into the HTML's
``_static/jupyter-widgets/``. ``book/_config.yml`` points ``nb_ipywidgets_js`` at those files
(:func:`ipywidgets_js` is that mapping; a test checks they agree).

The files are not put in ``book/_static/``: Jupyter Book adds every ``.js`` file found there to every page.

``embed-amd.js`` bundles the ``@jupyter-widgets/base``, ``controls`` and ``output`` modules that the notebooks'
saved widget state uses. ``offline.js`` (written here) configures RequireJS so that html-manager's fonts are
found beside ``embed-amd.js`` (its CSS takes their folder from the module's URL, before
``__jupyter_widgets_assets_path__`` is read) and so that a widget module it does not bundle is looked up under
``_static/jupyter-widgets/<module>@<version>/dist/`` (same origin), never on a CDN.

Example:
    >>> book = repository_root() / "book"  # doctest: +SKIP
    >>> install_widget_assets(vendored_static_dir(book), book / "_build" / "widget_assets" / "npm")  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class NpmPackage:
    """A pinned npm package: ``name@version`` and the registry's ``sha512-…`` integrity of its tarball."""

    name: str
    version: str
    integrity: str

    @property
    def spec(self) -> str:
        """``name@version`` as npm takes it."""
        return f"{self.name}@{self.version}"


# html-manager 1.0.x renders the widget state of ipywidgets 8 (state format 2, controls 2.0.0, output 1.0.0).
HTML_MANAGER = NpmPackage(
    "@jupyter-widgets/html-manager", "1.0.15",
    "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==")
REQUIREJS = NpmPackage(
    "requirejs", "2.3.8",
    "sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw==")

ASSETS_DIR = "jupyter-widgets"
"""Folder under ``_static`` that holds the vendored files."""

FONT_SUFFIXES = (".woff2", ".woff", ".ttf", ".eot", ".svg")
"""html-manager's ``dist/`` files that ``embed-amd.js`` refers to (Font Awesome, used by its CSS)."""

OFFLINE_JS = """\
// Written by corrrelax_lib.book.widget_assets: ipywidgets' embed scripts come from this folder, never a CDN.
(function () {
  var here = new URL(".", document.currentScript.src).href;
  window.requirejs.config({
    // A widget module that embed-amd.js does not bundle is looked up here (data-jupyter-widgets-cdn="./").
    baseUrl: here,
    // embed-amd.js defines these modules itself; their CSS finds its fonts beside the module's URL.
    paths: {
      "@jupyter-widgets/html-manager": "html-manager/embed-amd",
      "@jupyter-widgets/html-manager/dist/libembed-amd": "html-manager/embed-amd",
    },
  });
})();
"""


def ipywidgets_js() -> dict[str, dict[str, str]]:
    """myst-nb's ``nb_ipywidgets_js``: the vendored scripts, in load order, relative to ``_static``."""
    return {
        f"{ASSETS_DIR}/require.js": {},
        f"{ASSETS_DIR}/offline.js": {},
        f"{ASSETS_DIR}/html-manager/embed-amd.js": {"data-jupyter-widgets-cdn": "./"},
    }


def vendored_static_dir(book_dir: Path) -> Path:
    """The extra Sphinx static folder that holds ``jupyter-widgets/``: ``<book>/_build/widget_assets/static``."""
    return book_dir / "_build" / "widget_assets" / "static"


def tarball_integrity(path: Path) -> str:
    """npm's integrity string of a file: ``sha512-`` and the base64 SHA-512 digest."""
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def fetch_package(package: NpmPackage, cache_dir: Path) -> Path:
    """The unpacked ``package`` (the folder holding its ``package.json``), downloaded once into ``cache_dir``.

    Raises:
        RuntimeError: npm is not installed, ``npm pack`` failed, or the tarball's integrity is not the pinned one.
    """
    unpacked = cache_dir / package.spec.replace("/", "__")
    if (unpacked / "package.json").is_file():
        return unpacked
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(f"npm not found: the book build downloads {package.spec} from the npm registry to render "
                           "ipywidgets offline; install Node.js and npm (Debian: apt-get install npm)")
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir) as scratch:
        packed = subprocess.run([npm, "pack", package.spec, "--json", "--pack-destination", "."], cwd=scratch,
                                capture_output=True, text=True)
        if packed.returncode != 0:
            raise RuntimeError(f"npm pack {package.spec} failed:\n{packed.stderr.strip()}")
        tarball = Path(scratch) / json.loads(packed.stdout)[0]["filename"]
        if (integrity := tarball_integrity(tarball)) != package.integrity:
            raise RuntimeError(f"{package.spec}: tarball integrity {integrity} is not the pinned {package.integrity}")
        with tarfile.open(tarball) as archive:
            archive.extractall(Path(scratch) / "unpacked", filter="data")
        # An npm tarball holds one top folder, `package/`.
        (Path(scratch) / "unpacked" / "package").rename(unpacked)
    return unpacked


def install_widget_assets(static_dir: Path, cache_dir: Path) -> Path:
    """Fill ``static_dir/jupyter-widgets/`` with RequireJS, html-manager's ``embed-amd.js`` and its fonts.

    The folder is replaced whole, so files of an older pin do not linger. Returns the folder.

    Raises:
        RuntimeError: see :func:`fetch_package`.
    """
    requirejs = fetch_package(REQUIREJS, cache_dir)
    html_manager = fetch_package(HTML_MANAGER, cache_dir)
    target = static_dir / ASSETS_DIR
    with tempfile.TemporaryDirectory(dir=cache_dir) as scratch:
        staged = Path(scratch) / ASSETS_DIR
        (staged / "html-manager").mkdir(parents=True)
        shutil.copyfile(requirejs / "require.js", staged / "require.js")
        (staged / "offline.js").write_text(OFFLINE_JS)
        dist = html_manager / "dist"
        # embed-amd.js holds libembed-amd and the widget modules; embed.js and the source maps are not loaded.
        for path in [dist / "embed-amd.js", *sorted(p for p in dist.iterdir() if p.suffix in FONT_SUFFIXES)]:
            shutil.copyfile(path, staged / "html-manager" / path.name)
        shutil.rmtree(target, ignore_errors=True)
        static_dir.mkdir(parents=True, exist_ok=True)
        shutil.move(staged, target)
    return target


def add_static_path(app: Any, config: Any) -> None:
    """Sphinx ``config-inited``: serve the vendored folder as ``_static/jupyter-widgets/``.

    Raises:
        RuntimeError: the folder is missing (the book was built without ``corrrelax book build``).
    """
    static = vendored_static_dir(Path(app.srcdir))
    if not (static / ASSETS_DIR).is_dir():
        raise RuntimeError(f"{static / ASSETS_DIR} is missing: build the book with `corrrelax book build`, "
                           "which vendors the ipywidgets scripts from npm")
    config.html_static_path = [*config.html_static_path, str(static)]


def setup(app: Any) -> dict[str, Any]:
    """Sphinx extension entry point (``sphinx: extra_extensions`` in ``book/_config.yml``)."""
    app.connect("config-inited", add_static_path)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
