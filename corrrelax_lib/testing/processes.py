"""Test jobs as separate processes: their environment, and starting several at the same moment.

Concurrency tests need their processes to overlap: started one after the other, a fast job can be
done before the next has imported torch. :func:`run_together` starts every job, waits until each has
said :data:`READY` (after its imports and set-up, by :func:`wait_for_start`), then lets all go at once.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import corrrelax_lib

#: What a job started by :func:`run_together` prints once it is ready to start.
READY = "ready"


def job_environment() -> dict[str, str]:
    """This environment, with this checkout of ``corrrelax_lib`` first on the path and one thread per process
    (several jobs share a 2-core machine)."""
    package_root = str(Path(corrrelax_lib.__file__).parents[1])
    return {**os.environ, "OMP_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}


def job_command(module: str, *job_args: str | Path) -> list[str]:
    """``python -m <module> <job_args>`` with this interpreter."""
    return [sys.executable, "-m", module, *map(str, job_args)]


def wait_for_start() -> None:
    """In a job started by :func:`run_together`: say :data:`READY`, then wait until every job may start."""
    print(READY, flush=True)
    sys.stdin.readline()


def run_together(commands: Sequence[Sequence[str]], *, timeout: float = 180) -> list[subprocess.CompletedProcess[str]]:
    """Run the ``commands`` (each calls :func:`wait_for_start`) so that they start at the same moment.

    Returns:
        One finished process per command, stdout (after the :data:`READY` line) and stderr captured.

    Raises:
        RuntimeError: a job ended, or did not get ready within ``timeout`` seconds (its stderr quoted).
        subprocess.TimeoutExpired: the jobs did not finish within ``timeout`` seconds (then all are killed).
    """
    deadline = time.monotonic() + timeout
    processes = [subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=job_environment()) for command in commands]
    try:
        for process in processes:
            ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not ready or process.stdout.readline().strip() != READY:
                process.kill()
                raise RuntimeError(f"{process.args} did not get ready:\n{process.communicate()[1][-3000:]}")
        for process in processes:
            process.stdin.write("go\n")
            process.stdin.flush()
        outputs = [process.communicate(timeout=max(0.0, deadline - time.monotonic())) for process in processes]
        return [subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
                for process, (stdout, stderr) in zip(processes, outputs, strict=True)]
    finally:
        for process in processes:
            process.kill()
            process.wait()
