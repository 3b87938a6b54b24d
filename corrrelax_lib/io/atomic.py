"""Atomic file writes: an artifact is either complete or absent, never half-written.

The temporary file is ``<dir>/.<stem>.<owner>~<random>.part<suffix>``, with ``<owner>`` the writing
process's :attr:`~corrrelax_lib.io.owner.Owner.token`, so that a clean-up of leftovers
(:func:`~corrrelax_lib.io.artifacts.remove_partial_files`) can tell a live writer's file from a killed one's.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from corrrelax_lib.io.owner import Owner


@contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target`` (named after this process); rename it onto ``target`` on success.

    On an exception the temporary file is removed and ``target`` is left untouched. The file gets
    the permissions of one created with ``open`` (``0o666`` less the umask), not ``mkstemp``'s
    owner-only ``0o600``, so that the other ranks, nodes and users of a shared artifact folder can read it.

    >>> with atomic_path("table.csv") as tmp:   # doctest: +SKIP
    ...     frame.to_csv(tmp)
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}.{Owner.current().token}~", suffix=f".part{target.suffix}",
                                dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    os.chmod(tmp, 0o666 & ~_umask())
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``target`` atomically."""
    atomic_write_bytes(target, text.encode("utf-8"))


def _umask() -> int:
    """This process's umask (reading it means setting it; it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
