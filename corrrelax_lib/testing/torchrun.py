"""Run a test job under ``torchrun`` on this machine: several gloo processes on a free local port."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from corrrelax_lib.testing.processes import job_environment


def run_torchrun(module: str, *job_args: str | Path, nproc: int = 2,
                 timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """``python -m torch.distributed.run --nproc_per_node <nproc> -m <module> <job_args>``, output captured.

    One thread per process (two ranks on a 2-core machine), no restarts, a 0.1 s monitor interval
    (a killed rank ends the job at once), and this checkout of ``corrrelax_lib`` on the ranks' path.

    Example:
        >>> result = run_torchrun("corrrelax_lib.testing.explain_job", "maps/", "table.csv")  # doctest: +SKIP
        >>> result.returncode
        0
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc),
               "--master_addr", "127.0.0.1", "--master_port", str(port), "--max_restarts", "0",
               "--monitor_interval", "0.1", "-m", module, *map(str, job_args)]
    return subprocess.run(command, env=job_environment(), capture_output=True, text=True, timeout=timeout)
