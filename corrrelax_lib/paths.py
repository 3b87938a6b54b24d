"""Where the project's files live, whatever the working directory a kernel, a server or a test starts in.

In a source checkout (an editable install, or ``PYTHONPATH``) the profiles and data manifests are read from
``book/profiles/`` and ``data_manifests/``; an installed wheel carries the same files as package data
(``corrrelax_lib.profiles``, ``corrrelax_lib.manifests``; see ``pyproject.toml``). Artifacts go to
``$CORRRELAX_ARTIFACTS``, else the checkout's ``artifacts/``, else ``~/.cache/corrrelax/artifacts``.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Literal

ARTIFACTS_ENV_VAR = "CORRRELAX_ARTIFACTS"

#: Each kind of resource: the checkout's folder, and the package that carries it in a wheel.
RESOURCES: dict[str, tuple[str, str]] = {
    "profiles": ("book/profiles", "corrrelax_lib.profiles"),
    "manifests": ("data_manifests", "corrrelax_lib.manifests"),
}


def checkout_root() -> Path | None:
    """The source checkout this package is imported from (it holds ``book/`` and ``data_manifests/``), or
    ``None`` when the package is an installed wheel."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "book" / "_toc.yml").is_file() and (root / "data_manifests").is_dir() else None


def repository_root() -> Path:
    """The checkout that holds ``book/``, ``notebooks/`` and ``data_manifests/``.

    Raises:
        FileNotFoundError: the package is installed from a wheel; the book and its chapters live in the
            repository, which this needs.
    """
    root = checkout_root()
    if root is None:
        raise FileNotFoundError(
            f"{Path(__file__).parent} is an installed copy of corrrelax_lib: the book, its chapters and tests "
            "live in the source repository; run this from a clone (pip install -e .)")
    return root


def resource_dir(kind: Literal["profiles", "manifests"]) -> Path:
    """The folder of the profiles or the data manifests: the checkout's, else the installed package data."""
    folder, package = RESOURCES[kind]
    checkout = checkout_root()
    if checkout is not None:
        return checkout / folder
    # The data folders are namespace packages in the wheel (no __init__.py): their one search location.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"{package}: not installed with corrrelax_lib (reinstall it: pip install .)")
    return Path(next(iter(spec.submodule_search_locations)))


def profile_path(name: str) -> Path:
    """``book/profiles/<name>.yml`` (or its installed copy).

    Raises:
        FileNotFoundError: no such profile; the message lists the available ones.
    """
    path = resource_dir("profiles") / f"{name}.yml"
    if not path.is_file():
        available = sorted(candidate.stem for candidate in path.parent.glob("*.yml"))
        raise FileNotFoundError(f"{path}: no profile {name!r}; available: {available}")
    return path


def manifest_path(name: str) -> Path:
    """``data_manifests/<name>.yml`` (or its installed copy)."""
    return resource_dir("manifests") / f"{name}.yml"


def artifacts_root() -> Path:
    """``$CORRRELAX_ARTIFACTS``, else ``<checkout>/artifacts``, else ``~/.cache/corrrelax/artifacts``; absolute."""
    if os.environ.get(ARTIFACTS_ENV_VAR):
        return Path(os.environ[ARTIFACTS_ENV_VAR]).expanduser().resolve()
    checkout = checkout_root()
    return checkout / "artifacts" if checkout is not None else Path.home() / ".cache" / "corrrelax" / "artifacts"
