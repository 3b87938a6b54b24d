"""Per-image artifacts with a checksummed sidecar: complete and verified, or treated as missing.

An artifact is an ``.npz`` and, beside it, a ``.json`` of the same name written last::

    <image_id>.npz     the result (maps, heatmaps, ...), written atomically
    <image_id>.json    {"parameters": {...}, "sha256": "<hex of the npz>", "size": <bytes>}

A run that stops anywhere leaves each artifact complete (both files, checksum matching) or
incomplete (no sidecar, or a sidecar that does not match): :func:`artifact_problem` tells
them apart, so a restarted run recomputes exactly the incomplete ones. A file that was changed
after it was written (a flipped byte, a truncated copy) fails its checksum and is recomputed too.
A write that fails (a full disk, a file-size limit, an unwritable folder) raises
:class:`ArtifactWriteError` naming the artifact and leaves neither file of it.

Several processes may write one folder at once: each removes only the temporary files that no
live process owns (:func:`remove_partial_files`). Two processes writing the *same* artifact at once
may leave the ``.npz`` of one and the sidecar of the other, which then fails its checksum; a
process that computes an artifact holds its claim (:mod:`corrrelax_lib.io.claims`) so that this
does not happen.
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
from corrrelax_lib.io.owner import STALE_AFTER, Owner, abandoned

#: Bytes read at a time when hashing a file.
_CHUNK = 1 << 20


#: What :func:`artifact_problem` says of an artifact of which neither file exists.
NOT_WRITTEN = "not written"


class CorruptArtifactWarning(UserWarning):
    """An artifact on disk is incomplete, corrupt or was made with other parameters (the warning says what
    the caller does with it: recompute it, or report it missing)."""


class ArtifactWriteError(OSError):
    """An artifact could not be written (full disk, file-size limit, unwritable folder); nothing of it is left.

    ``errno`` is the cause's, the message names the artifact; the cause is chained (``__cause__``).
    """

    @classmethod
    def of(cls, path: str | os.PathLike[str], cause: OSError, which: str = "") -> ArtifactWriteError:
        """The error of artifact ``path`` that ``cause`` stopped; ``which`` names the file of it that failed,
        if not the npz, e.g. ``" (its sidecar one.json)"``. Raise it ``from cause``."""
        message = f"cannot write artifact {path}{which}: {cause.strerror or cause}"
        return cls(cause.errno, message) if cause.errno is not None else cls(message)


def parameters_key(parameters: Mapping[str, Any], length: int = 12) -> str:
    """The first ``length`` hex digits of the SHA-256 of ``parameters`` as canonical JSON (sorted keys).

    The one key of every cached result: a folder of maps, a trained model, an executed notebook are named
    by the key of what made them, so a changed parameter makes a new folder and an unchanged one finds the old.

    >>> parameters_key({"stride": 48, "window_size": 256}) == parameters_key({"window_size": 256, "stride": 48})
    True
    """
    return hashlib.sha256(json.dumps(_canonical(parameters), sort_keys=True).encode()).hexdigest()[:length]


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
        parameters: JSON-serialisable values that produced the result (checked by :func:`artifact_problem`).

    Raises:
        ArtifactWriteError: a file of the artifact could not be written; neither file is left (an
            ``.npz`` of an earlier write that was not replaced stays, without its sidecar: incomplete).

    Example:
        >>> write_artifact(directory / "one.npz", maps.save, {"image_id": "one", "n_masks": 32})  # doctest: +SKIP
    """
    path = Path(path)
    sidecar = sidecar_path(path)
    # Canonical JSON first: a parameter that cannot be stored fails before any file is touched.
    stored_parameters = _canonical(parameters)
    try:
        sidecar.unlink(missing_ok=True)
        with atomic_path(path) as tmp:
            save_fn(tmp)
            if not tmp.is_file() or tmp.stat().st_size == 0:
                raise RuntimeError(f"{path}: save_fn wrote nothing to {tmp.name}")
            # The checksum of the bytes this process wrote (not of whatever ``path`` holds after the rename).
            record = {"parameters": stored_parameters, "sha256": file_sha256(tmp), "size": tmp.stat().st_size}
    except OSError as error:
        raise ArtifactWriteError.of(path, error) from error
    try:
        atomic_write_text(sidecar, json.dumps(record, indent=1, sort_keys=True) + "\n")
    except OSError as error:
        path.unlink(missing_ok=True)  # without its sidecar the npz is only a partial artifact
        raise ArtifactWriteError.of(path, error, f" (its sidecar {sidecar.name})") from error


def artifact_problem(path: str | os.PathLike[str], parameters: Mapping[str, Any]) -> str | None:
    """Why ``path`` is not a verified artifact made with ``parameters``; ``None`` when it is one.

    :data:`NOT_WRITTEN` when neither file exists (never computed), else what is wrong: the ``.npz``
    has no sidecar, the sidecar is unreadable, its parameters differ from ``parameters`` (naming
    the differing keys), or the ``.npz``'s size or SHA-256 differs from the recorded ones.

    >>> artifact_problem(directory / "one.npz", {"image_id": "one"})  # doctest: +SKIP
    'no sidecar one.json (the run stopped before it was written)'
    """
    path = Path(path)
    sidecar = sidecar_path(path)
    if not path.is_file():
        return f"its sidecar {sidecar.name} exists but the file does not" if sidecar.is_file() else NOT_WRITTEN
    if not sidecar.is_file():
        return f"no sidecar {sidecar.name} (the run stopped before it was written)"
    try:
        record = json.loads(sidecar.read_text())
        recorded_parameters, sha256, size = record["parameters"], record["sha256"], record["size"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        return f"unreadable sidecar {sidecar.name} ({error!r})"
    if recorded_parameters != _canonical(parameters):
        changed = sorted(_differing_keys(recorded_parameters, _canonical(parameters)))
        return f"made with other parameters (differing: {changed})"
    if path.stat().st_size != size:
        return f"size {path.stat().st_size} bytes, its sidecar records {size}"
    if file_sha256(path) != sha256:
        return "SHA-256 differs from the one its sidecar records (corrupt file)"
    return None


def artifact_is_complete(path: str | os.PathLike[str], parameters: Mapping[str, Any], *, consequence: str) -> bool:
    """Whether ``path`` holds a verified artifact made with ``parameters`` (:func:`artifact_problem` is ``None``).

    Returns false, silently, when neither file exists (never computed). Returns false and warns
    (:class:`CorruptArtifactWarning`) when the artifact is there but incomplete, corrupt or made with
    other parameters: the warning names the file, what is wrong, and ``consequence``.

    Args:
        consequence: what the caller does with such an artifact, e.g. ``"recomputed"`` or ``"counted as
            missing"``: the warning ends ``"<path>: <problem>; <consequence>"``.
    """
    problem = artifact_problem(path, parameters)
    if problem is not None and problem != NOT_WRITTEN:
        warnings.warn(f"{path}: {problem}; {consequence}", CorruptArtifactWarning, stacklevel=2)
    return problem is None


def remove_partial_files(path: str | os.PathLike[str], *, stale_after: float = STALE_AFTER) -> list[Path]:
    """Delete what interrupted atomic writes of this artifact left behind; returns the deleted files.

    :func:`~corrrelax_lib.io.atomic.atomic_path` writes ``<dir>/.<stem>.<owner>~<random>.part<suffix>``
    and renames it; a killed process leaves it behind (and a ``save_fn`` that is atomic itself nests
    one more: ``..<stem>.<owner>~<random>.part.<owner>~<random>.part.npz``). A file is deleted only when
    no live process owns it (:func:`~corrrelax_lib.io.owner.abandoned`): its owner ran on this machine
    and is gone, or it ran elsewhere (or the name has no owner, as an older version wrote them) and
    the file was not modified for ``stale_after`` seconds. Only this artifact's own leftovers match
    (an artifact named ``one.x.npz`` is not touched by ``one.npz``'s clean-up). So any process may
    clean up while others write the same folder, even the same artifact.
    """
    path = Path(path)
    pattern = re.compile(rf"\.+{re.escape(path.stem)}\.([^.]+)\.part(\.[^.]+\.part)*(\.npz|\.json)")
    removed = []
    if path.parent.is_dir():
        for candidate in path.parent.iterdir():
            match = pattern.fullmatch(candidate.name)
            if match and _is_abandoned(candidate, owner_segment=match.group(1), stale_after=stale_after):
                candidate.unlink(missing_ok=True)
                removed.append(candidate)
    return sorted(removed)


def _is_abandoned(partial_file: Path, *, owner_segment: str, stale_after: float) -> bool:
    """Whether no live process owns ``partial_file``, whose outermost ``<owner>~<random>`` is ``owner_segment``."""
    token, separator, _ = owner_segment.rpartition("~")
    owner = Owner.from_token(token) if separator else None
    try:
        modified = partial_file.stat().st_mtime
    except FileNotFoundError:  # its writer renamed or removed it meanwhile
        return False
    return abandoned(owner, modified, stale_after=stale_after)


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
