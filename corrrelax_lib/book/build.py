"""Build the book: data, every notebook on a profile, the status page, then Jupyter Book."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from corrrelax_lib.book.execute import execute_notebook
from corrrelax_lib.book.profiles import Profile, load_profile
from corrrelax_lib.book.results import load_results
from corrrelax_lib.book.status import render_status_page
from corrrelax_lib.book.widget_assets import install_widget_assets, vendored_static_dir
from corrrelax_lib.data.sources import prepare_dataset
from corrrelax_lib.io.atomic import atomic_write_text
from corrrelax_lib.paths import repository_root


def notebook_sources(root: Path) -> list[Path]:
    """Chapter sources ``notebooks/NN_*.py``, in chapter order."""
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.py"))


def run_notebooks(profile: Profile, root: Path, *, only: list[str] | None = None, force: bool = False) -> None:
    """Prepare the data and execute every chapter into ``book/chapters/<name>.ipynb``."""
    prepare_dataset(profile.dataset, profile.data_root, root, workers=2)
    parameters = profile.notebook_parameters(relative_to=root)
    for source in notebook_sources(root):
        if only and source.stem not in only:
            continue
        start = time.perf_counter()
        ran = execute_notebook(source, root / "book" / "chapters" / f"{source.stem}.ipynb", parameters,
                               cwd=root, library_root=root / "corrrelax_lib", force=force)
        state = f"executed in {time.perf_counter() - start:.1f} s" if ran else "up to date"
        print(f"[book] {source.name}: {state}", flush=True)
    status = render_status_page(profile, load_results(profile.results_dir))
    atomic_write_text(root / "book" / "reproduction_status.md", status)


def build_html(root: Path) -> Path:
    """Vendor the widget scripts, run ``jupyter-book build`` on all pages (no execution; warnings are errors)
    into a fresh ``book/_build/html`` (no page of an earlier build lingers); return ``index.html``.

    Raises:
        RuntimeError: the widget scripts could not be fetched from npm (see ``widget_assets``).
        subprocess.CalledProcessError: Sphinx reported an error or a warning.
    """
    book = root / "book"
    install_widget_assets(vendored_static_dir(book), book / "_build" / "widget_assets" / "npm")
    shutil.rmtree(book / "_build" / "html", ignore_errors=True)
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book), "build", str(book), "--all", "--warningiserror", "--nitpick", "--keep-going"]
    subprocess.run(command, check=True, cwd=root)
    return book / "_build" / "html" / "index.html"


def build_book(profile_name: str, overrides: dict[str, Any] | None = None, *, only: list[str] | None = None,
               force: bool = False) -> Path:
    """The whole build for one profile; returns the path of ``index.html``."""
    root = repository_root()
    profile = load_profile(profile_name, overrides, root=root)
    run_notebooks(profile, root, only=only, force=force)
    return build_html(root)
