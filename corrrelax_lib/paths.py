"""Where the repository's non-code files live."""

from __future__ import annotations

from pathlib import Path


def repository_root() -> Path:
    """The checkout that holds ``book/``, ``notebooks/`` and ``data_manifests/``."""
    return Path(__file__).resolve().parents[1]


def manifest_path(name: str, root: Path | None = None) -> Path:
    """``data_manifests/<name>.yml``."""
    return (root or repository_root()) / "data_manifests" / f"{name}.yml"
