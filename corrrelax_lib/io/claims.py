"""Claims on artifacts: which process computes an artifact, so that processes sharing a folder split the work.

A process that is about to compute ``<dir>/<stem>.npz`` first creates the claim file
``<dir>/.<stem>.claim`` with ``O_CREAT | O_EXCL``: of several processes that try at once exactly one
succeeds, on one machine and on NFS (version 3 and later), Lustre or GPFS shared by several nodes.
The file records the owner (:class:`~corrrelax_lib.io.owner.Owner`: host, PID namespace, PID, start
time), when it was claimed, and a random nonce; it is deleted when the artifact is written (or the
computation fails). While the claim is held, a thread touches the file every :data:`REFRESH_INTERVAL`.

A process that finds an artifact claimed leaves it to the owner, unless the claim is abandoned
(:func:`~corrrelax_lib.io.owner.abandoned`): its owner ran on this machine and is gone (killed,
preempted: taken over at once, so a restarted run resumes without waiting), or it ran elsewhere and
the file was not touched for :data:`~corrrelax_lib.io.owner.STALE_AFTER` (a node that died). An
abandoned claim is moved aside under a name of the process taking over, checked, and removed.

Why claim files and not ``fcntl`` locks: a lock disappears with its process, which is what one
wants, but over NFS it lives in a separate lock service (a crashed node's lock can outlive it until
that node reboots), on Lustre it needs a mount option (without it locks are local to a node, or fail),
and a lock file can never be deleted safely. An exclusive create works wherever the artifacts can
be written, and the rule above bounds how long a dead owner's claim can hold anyone up.

A claim only saves work: an artifact is complete or not by its checksum alone
(:mod:`corrrelax_lib.io.artifacts`), so a claim taken over from an owner that was only slow
(suspended longer than :data:`~corrrelax_lib.io.owner.STALE_AFTER`) costs a computation twice, at worst
an artifact that fails its checksum and is recomputed; never a wrong result.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from corrrelax_lib.io.artifacts import ArtifactWriteError
from corrrelax_lib.io.owner import STALE_AFTER, Owner, abandoned

#: How often the owner of a claim touches its file, seconds (much less than ``STALE_AFTER``).
REFRESH_INTERVAL = 30.0


def claim_path(path: str | os.PathLike[str]) -> Path:
    """The claim file of an artifact: ``<dir>/one.npz`` -> ``<dir>/.one.claim``."""
    path = Path(path)
    return path.with_name(f".{path.stem}.claim")


class Claim:
    """A held claim on one artifact: refreshed in the background until :meth:`release` (or the ``with`` ends).

    Made by :func:`try_claim`, never directly.
    """

    def __init__(self, path: Path, nonce: str, refresh_interval: float) -> None:
        self.path, self.nonce, self.refresh_interval = path, nonce, refresh_interval
        self._released = threading.Event()
        self._refresher = threading.Thread(target=self._refresh_until_released, name=f"claim {path.name}",
                                           daemon=True)
        self._refresher.start()

    def is_held(self) -> bool:
        """Whether the claim file is still this claim (not released, not taken over as abandoned)."""
        return _read_nonce(self.path) == self.nonce

    def refresh(self) -> bool:
        """Touch the claim file, so that it does not look abandoned; false once it is no longer this claim."""
        if not self.is_held():
            return False
        with contextlib.suppress(OSError):  # gone meanwhile, or a passing filesystem error: the next refresh tells
            os.utime(self.path)
        return True

    def release(self) -> None:
        """Stop refreshing and delete the claim file, if it is still this claim."""
        self._released.set()
        self._refresher.join()
        if self.is_held():
            self.path.unlink(missing_ok=True)

    def _refresh_until_released(self) -> None:
        while not self._released.wait(self.refresh_interval):
            if not self.refresh():
                return

    def __enter__(self) -> Claim:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None,
    ) -> None:
        self.release()


def try_claim(
    path: str | os.PathLike[str], *, stale_after: float = STALE_AFTER, refresh_interval: float = REFRESH_INTERVAL,
) -> Claim | None:
    """Claim artifact ``path`` for this process; ``None`` when a live owner holds it.

    An abandoned claim (see the module docstring) is taken over. Use the claim as a context
    manager around computing and writing the artifact.

    Args:
        path: the artifact, e.g. ``<directory>/<image_id>.npz`` (its folder is created if need be).
        stale_after: seconds after which an untouched claim of an owner on another machine is abandoned.
        refresh_interval: seconds between two touches of the claim file while it is held.

    Raises:
        ArtifactWriteError: the claim file cannot be written (e.g. the folder is not writable).

    Example:
        >>> claim = try_claim(directory / "one.npz")   # doctest: +SKIP
        >>> if claim is not None:
        ...     with claim:
        ...         write_artifact(directory / "one.npz", compute().save, parameters)
    """
    claim_file = claim_path(path)
    nonce = secrets.token_hex(8)
    record = {"owner": Owner.current().token, "claimed_at": datetime.now(UTC).isoformat(timespec="seconds"),
              "nonce": nonce}
    while True:
        try:
            claim_file.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(claim_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            if not _remove_if_abandoned(claim_file, stale_after=stale_after):
                return None
            continue  # the abandoned claim is gone: try again (another process may be quicker)
        except OSError as error:
            raise ArtifactWriteError.of(path, error, f" (its claim {claim_file.name})") from error
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump(record, handle)
        except BaseException as error:
            claim_file.unlink(missing_ok=True)  # half a claim (a full disk, an interrupt) would hold others up
            if isinstance(error, OSError):
                raise ArtifactWriteError.of(path, error, f" (its claim {claim_file.name})") from error
            raise
        return Claim(claim_file, nonce, refresh_interval)


def _remove_if_abandoned(claim_file: Path, *, stale_after: float) -> bool:
    """Remove ``claim_file`` if no live process owns it; whether it is gone (removed here or by its owner).

    The claim is renamed to a name of this process's first, so that of several processes taking over
    one abandoned claim only one removes it; if what was renamed turns out to be a newer claim (another
    process took over and claimed between our look and our rename), it is put back.
    """
    try:
        seen = claim_file.read_text(encoding="utf-8")
        modified = claim_file.stat().st_mtime
    except FileNotFoundError:
        return True
    if not abandoned(_owner_of(seen), modified, stale_after=stale_after):
        return False
    aside = claim_file.with_name(f"{claim_file.name}.{Owner.current().token}~{secrets.token_hex(4)}.abandoned")
    try:
        os.rename(claim_file, aside)
    except FileNotFoundError:
        return True
    try:
        # Should a third claim be there by now, the one put aside costs its owner's work twice at worst.
        if aside.read_text(encoding="utf-8") != seen:
            with contextlib.suppress(OSError):
                os.link(aside, claim_file)
    finally:
        aside.unlink()
    return True


def _owner_of(claim_text: str) -> Owner | None:
    """The owner a claim file names; ``None`` when it cannot be read (e.g. being written this instant)."""
    try:
        return Owner.from_token(json.loads(claim_text)["owner"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _read_nonce(claim_file: Path) -> str | None:
    """The nonce of the claim in ``claim_file``; ``None`` when there is none (or it cannot be read)."""
    try:
        return json.loads(claim_file.read_text(encoding="utf-8"))["nonce"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
