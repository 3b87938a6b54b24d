"""Build the book: data and maps (as the command line computes them), every chapter on a profile, the status
page, then Jupyter Book. ``corrrelax book build`` runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from corrrelax_lib.book.execute import execute_notebook
from corrrelax_lib.book.reference_checks import render_reference_page, run_reference_checks
from corrrelax_lib.book.results import load_results
from corrrelax_lib.book.status import render_status_page
from corrrelax_lib.book.widget_assets import install_widget_assets, vendored_static_dir
from corrrelax_lib.config import config_as_dict
from corrrelax_lib.environment import recorded_environment
from corrrelax_lib.io.atomic import atomic_write_text
from corrrelax_lib.paths import repository_root
from corrrelax_lib.pipeline.study import PROGRESS_ENV_VAR, Study


def notebook_sources(root: Path) -> list[Path]:
    """Chapter sources ``notebooks/NN_*.py``, in chapter order."""
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.py"))


def compute_results(study: Study) -> None:
    """What the chapters read, computed first by the functions behind ``corrrelax train`` and ``corrrelax
    explain --maps correlax baselines external``: the data, the classifier, and every map of the test images and
    of the external scans. Already computed results are verified (checksums) and kept."""
    study.prepare_data()
    study.classifier()
    study.correlax_maps()
    study.baseline_maps()
    study.external_maps()


def run_notebooks(profile: str, overrides: Mapping[str, Any] | None = None, *, only: list[str] | None = None,
                  force: bool = False) -> Study:
    """Compute (:func:`compute_results`), then execute every chapter into ``book/chapters/<name>.ipynb`` and write
    the status page (with the environment it ran in) and the reference-checks page; returns the study. With
    ``only``, just those chapters run, each computing what it lacks.

    Each chapter is injected ``profile`` and ``overrides`` only and opens the same study; progress bars are off
    (``CORRRELAX_PROGRESS=0`` for this process and its kernels), so the executed chapters hold none.
    """
    root = repository_root()
    with _environment(PROGRESS_ENV_VAR, "0"):
        study = Study.open(profile, overrides)
        if only:
            study.prepare_data()
        else:
            compute_results(study)
        parameters = {"profile": profile, "overrides": dict(overrides or {})}
        for source in notebook_sources(root):
            if only and source.stem not in only:
                continue
            start = time.perf_counter()
            # The kernel starts in notebooks/, as JupyterLab's does: chapters resolve every path themselves.
            ran = execute_notebook(source, root / "book" / "chapters" / f"{source.stem}.ipynb", parameters,
                                   settings=config_as_dict(study.config), cwd=root / "notebooks",
                                   library_root=root / "corrrelax_lib", force=force)
            state = f"executed in {time.perf_counter() - start:.1f} s" if ran else "up to date"
            print(f"[book] {source.name}: {state}", flush=True)
    status = render_status_page(study.config, load_results(study.results_dir), recorded_environment(root))
    atomic_write_text(root / "book" / "reproduction_status.md", status)
    atomic_write_text(root / "book" / "reference_checks.md", render_reference_page(run_reference_checks()))
    return study


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


def build_book(profile: str, overrides: Mapping[str, Any] | None = None, *, only: list[str] | None = None,
               force: bool = False) -> Path:
    """The whole build for one profile (:func:`run_notebooks`, then :func:`build_html`); returns ``index.html``."""
    run_notebooks(profile, overrides, only=only, force=force)
    return build_html(repository_root())


@contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    """Set the environment variable ``name`` (seen by the kernels this process starts), then restore it."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous
