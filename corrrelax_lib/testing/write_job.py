"""Artifact writes from a separate process: several at once for the stress test, or one under a file-size limit.

Run as::

    python -m corrrelax_lib.testing.write_job DIRECTORY [--writes 300] [--artifacts 5] [--size 4096] \\
        [--wait-for-start] [--file-size-limit BYTES]

Write ``i`` (``0 <= i < writes``) cleans up the partial files of ``DIRECTORY/artifact<i % artifacts>.npz``
(:func:`~corrrelax_lib.io.artifacts.remove_partial_files`, as every explain step does before writing)
and writes it (:func:`~corrrelax_lib.io.artifacts.write_artifact`) with ``size`` bytes that depend only
on the artifact's name: whichever of several processes writes an artifact last, it is complete. A
failed write is counted, not fatal; at the end the job prints one JSON line::

    {"writes": 300, "crashes": ["<error type>: <message>", ...]}

``--wait-for-start`` waits for :func:`~corrrelax_lib.testing.processes.run_together`'s signal first;
``--file-size-limit`` sets ``RLIMIT_FSIZE`` (and ignores ``SIGXFSZ``, so that a write past it fails with
``EFBIG`` instead of killing the process): a disk that fills, as far as the writer can tell.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import signal
from pathlib import Path

from corrrelax_lib.io.artifacts import remove_partial_files, write_artifact
from corrrelax_lib.testing.processes import wait_for_start


def artifact_bytes(path: Path, size: int) -> bytes:
    """``size`` bytes that depend only on ``path.name``."""
    block = hashlib.sha256(path.name.encode()).digest()
    return (block * (size // len(block) + 1))[:size]


def write_artifacts(directory: Path, *, writes: int, artifacts: int, size: int) -> list[str]:
    """Clean up and write ``writes`` times, round-robin over ``artifacts`` artifacts; the errors, as text."""
    crashes = []
    for i in range(writes):
        path = directory / f"artifact{i % artifacts}.npz"
        try:
            remove_partial_files(path)
            write_artifact(path, lambda tmp, path=path: tmp.write_bytes(artifact_bytes(path, size)),
                           {"image_id": path.stem, "size": size})
        except Exception as error:  # counted and reported: the test decides
            crashes.append(f"{type(error).__name__}: {error}")
    return crashes


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m corrrelax_lib.testing.write_job``."""
    parser = argparse.ArgumentParser(prog="python -m corrrelax_lib.testing.write_job", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--artifacts", type=int, default=5, help="distinct artifacts the writes go to")
    parser.add_argument("--size", type=int, default=4096, help="bytes of each artifact's npz")
    parser.add_argument("--wait-for-start", action="store_true", help="start on run_together's signal")
    parser.add_argument("--file-size-limit", type=int, help="RLIMIT_FSIZE, bytes (SIGXFSZ ignored)")
    args = parser.parse_args(argv)
    if args.file_size_limit is not None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (args.file_size_limit, args.file_size_limit))
    if args.wait_for_start:
        wait_for_start()
    crashes = write_artifacts(args.directory, writes=args.writes, artifacts=args.artifacts, size=args.size)
    print(json.dumps({"writes": args.writes, "crashes": crashes}))


if __name__ == "__main__":
    main()
