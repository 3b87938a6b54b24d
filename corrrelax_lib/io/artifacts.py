"""Per-image artifacts with a checksummed sidecar: complete and verified, or treated as missing.

An artifact is an ``.npz`` and, beside it, a ``.json`` of the same name written last::

    <image_id>.npz     the result (maps, heatmaps, ...), written atomically
    <image_id>.json    {"parameters": {...}, "sha256": "<hex of the npz>", "size": <bytes>}

A run that stops anywhere leaves each artifact complete (both files, checksum matching) or
incomplete (no sidecar, or a sidecar that does not match): :func:`artifact_is_complete` tells
them apart, so a restarted run recomputes exactly the incomplete ones. A file that was changed
after it was written (a flipped byte, a truncated copy) fails its checksum and is recomputed too.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from corrrelax_lib.io.atomic import atomic_path, atomic_write_text

#: Bytes read at a time when hashing a file.
_CHUNK = 1 << 20


class CorruptArtifactWarning(UserWarning):
    """An artifact on disk is incomplete, corrupt or was made with other parameters; it will be recomputed."""


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    """The sidecar of an artifact: ``one.npz`` -> ``one.json``."""
    return Path(path).with_suffix(".json")


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_artifact(
    path: str | os.PathLike[str], save_fn: Callable[[Path], None], parameters: Mapping[str, Any],
) -> None:
    """Write an artifact: ``save_fn`` fills the ``.npz`` (atomically), then the sidecar is written (atomically).

    A sidecar left from an earlier version is removed first, so a stop between the two writes
    leaves an ``.npz`` without sidecar: incomplete, recomputed on the next run.

    Args:
        path: the artifact, e.g. ``<directory>/<image_id>.npz``.
        save_fn: writes the result to the path it is given (a temporary name ending in ``.npz``),
            e.g. :meth:`CorrelaxMaps.save <corrrelax_lib.attribution.correlax_maps.CorrelaxMaps.save>`.
        parameters: JSON-serialisable values that produced the result (checked by :func:`artifact_is_complete`).

    Example:
        >>> write_artifact(directory / "one.npz", maps.save, {"image_id": "one", "n_masks": 32})  # doctest: +SKIP
    """
    path = Path(path)
    sidecar = sidecar_path(path)
    # Canonical JSON first: a parameter that cannot be stored fails before any file is touched.
    stored_parameters = _canonical(parameters)
    sidecar.unlink(missing_ok=True)
    with atomic_path(path) as tmp:
        save_fn(tmp)
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise RuntimeError(f"{path}: save_fn wrote nothing to {tmp.name}")
    record = {"parameters": stored_parameters, "sha256": file_sha256(path), "size": path.stat().st_size}
    atomic_write_text(sidecar, json.dumps(record, indent=1, sort_keys=True) + "\n")


def artifact_is_complete(path: str | os.PathLike[str], parameters: Mapping[str, Any]) -> bool:
    """Whether ``path`` holds a verified artifact made with ``parameters``.

    Returns false, silently, when neither file exists (never computed). Returns false and warns
    (:class:`CorruptArtifactWarning`, naming the file) when the ``.npz`` has no sidecar, the
    sidecar is unreadable, its parameters differ from ``parameters``, or the ``.npz``'s size or
    SHA-256 differs from the recorded ones.
    """
    path = Path(path)
    sidecar = sidecar_path(path)
    if not path.is_file():
        if sidecar.is_file():
            _warn(path, f"its sidecar {sidecar.name} exists but the file does not")
        return False
    if not sidecar.is_file():
        _warn(path, f"no sidecar {sidecar.name} (the run stopped before it was written)")
        return False
    try:
        record = json.loads(sidecar.read_text())
        recorded_parameters, sha256, size = record["parameters"], record["sha256"], record["size"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        _warn(path, f"unreadable sidecar {sidecar.name} ({error!r})")
        return False
    if recorded_parameters != _canonical(parameters):
        changed = sorted(_differing_keys(recorded_parameters, _canonical(parameters)))
        _warn(path, f"made with other parameters (differing: {changed})")
        return False
    if path.stat().st_size != size:
        _warn(path, f"size {path.stat().st_size} bytes, its sidecar records {size}")
        return False
    if file_sha256(path) != sha256:
        _warn(path, "SHA-256 differs from the one its sidecar records (corrupt file)")
        return False
    return True


def remove_partial_files(path: str | os.PathLike[str]) -> list[Path]:
    """Delete what interrupted atomic writes of this artifact left behind; returns the deleted files.

    :func:`~corrrelax_lib.io.atomic.atomic_path` writes ``<dir>/.<stem>.<random>.part<suffix>`` and
    renames it; a killed process leaves it behind (and a ``save_fn`` that is atomic itself nests one
    more: ``..<stem>.<random>.part.<random>.part.npz``). Only this artifact's own leftovers match (an
    artifact named ``one.x.npz`` is not touched by ``one.npz``'s clean-up), so processes working on
    different artifacts of one folder may clean up concurrently.
    """
    path = Path(path)
    pattern = re.compile(rf"\.+{re.escape(path.stem)}(\.[^.]+\.part)+(\.npz|\.json)")
    removed = []
    if path.parent.is_dir():
        for candidate in path.parent.iterdir():
            if pattern.fullmatch(candidate.name):
                candidate.unlink(missing_ok=True)
                removed.append(candidate)
    return sorted(removed)


def _canonical(parameters: Mapping[str, Any]) -> Any:
    """``parameters`` as they read back from JSON (tuples become lists, keys strings)."""
    try:
        return json.loads(json.dumps(dict(parameters), sort_keys=True))
    except TypeError as error:
        raise TypeError(f"artifact parameters must be JSON-serialisable: {error}") from error


def _differing_keys(recorded: Any, expected: Any) -> set[str]:
    """Top-level keys whose values differ (everything, when either side is not a mapping)."""
    if not isinstance(recorded, dict) or not isinstance(expected, dict):
        return {"<all>"}
    return {key for key in recorded.keys() | expected.keys() if recorded.get(key) != expected.get(key)}


def _warn(path: Path, reason: str) -> None:
    warnings.warn(f"{path}: {reason}; treated as missing and recomputed", CorruptArtifactWarning, stacklevel=3)
