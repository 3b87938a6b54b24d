"""Execute one jupytext notebook with papermill, atomically and only when its inputs changed."""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jupytext
import nbformat
import papermill

from corrrelax_lib.book.kernel_client import RepollingKernelManager
from corrrelax_lib.environment import locked_requirements
from corrrelax_lib.io.atomic import atomic_path

KERNEL_NAME = "python3"
CACHE_KEY = "corrrelax_cache_key"


def notebook_cache_key(source: Path, settings: dict[str, Any], library_root: Path,
                       data_dirs: Sequence[Path] | None = None) -> str:
    """SHA-256 of the notebook text, the study's resolved settings, every library source file, every file of
    ``data_dirs`` (default: ``data_manifests/`` and ``book/profiles/`` beside ``library_root``, where they exist:
    a chapter may open a profile besides its own, as chapter 13 opens ``as-run``) and the version of every
    installed package (:func:`~corrrelax_lib.environment.locked_requirements`): an upgraded torch, an edited
    manifest or profile or an edited module re-executes the notebook."""
    digest = hashlib.sha256(source.read_bytes())
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for path in sorted(library_root.rglob("*.py")):
        digest.update(path.relative_to(library_root).as_posix().encode() + path.read_bytes())
    if data_dirs is None:
        data_dirs = (library_root.parent / "data_manifests", library_root.parent / "book" / "profiles")
    for directory in data_dirs:
        if directory.is_dir():
            for path in sorted(p for p in directory.rglob("*") if p.is_file()):
                digest.update(f"{directory.name}:{path.relative_to(directory).as_posix()}".encode() + path.read_bytes())
    digest.update("\n".join(locked_requirements()).encode())
    return digest.hexdigest()


def declared_parameters(notebook: nbformat.NotebookNode) -> set[str]:
    """Names assigned in the cell tagged ``parameters``.

    Raises:
        ValueError: no cell, or more than one, is tagged ``parameters``.
    """
    cells = [c for c in notebook.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"expected exactly one cell tagged 'parameters', found {len(cells)}")
    names = set()
    for line in cells[0].source.splitlines():
        name, sep, _ = line.partition("=")
        if sep and name.split(":")[0].strip().isidentifier() and not line.startswith((" ", "#")):
            names.add(name.split(":")[0].strip())
    return names


def execute_notebook(source: Path, output: Path, parameters: dict[str, Any], *, settings: dict[str, Any],
                     cwd: Path, library_root: Path, force: bool = False) -> bool:
    """Convert ``source`` (py:percent) to a notebook, run it with papermill, save to ``output``.

    Only the parameters the notebook declares are injected (``profile`` and ``overrides``). The executed
    notebook is written atomically and stamped with a cache key of its text, ``settings`` (the study's
    resolved configuration, so that an edited profile re-executes) and the library; an up-to-date
    ``output`` is kept unless ``force``. Returns ``True`` when the notebook was executed.

    Raises:
        papermill.PapermillExecutionError: a cell failed (its traceback is in the message).
    """
    notebook = jupytext.read(source)
    used = {k: v for k, v in parameters.items() if k in declared_parameters(notebook)}
    key = notebook_cache_key(source, {"parameters": used, "settings": settings}, library_root)
    if not force and output.is_file() and nbformat.read(output, as_version=4).metadata.get(CACHE_KEY) == key:
        return False
    notebook.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "Python 3", "language": "python"}
    with tempfile.TemporaryDirectory() as scratch, atomic_path(output) as executed:
        unexecuted = Path(scratch) / source.with_suffix(".ipynb").name
        nbformat.write(notebook, unexecuted)
        papermill.execute_notebook(
            str(unexecuted), str(executed), parameters=used, kernel_name=KERNEL_NAME,
            cwd=str(cwd), progress_bar=False, log_output=False, kernel_manager_class=RepollingKernelManager,
        )
        result = nbformat.read(executed, as_version=4)
        result.metadata[CACHE_KEY] = key
        nbformat.write(result, executed)
    return True
