"""JupyterLab or Voilà (:mod:`corrrelax_lib.book.interactive`) as a test fixture: a server on a free 127.0.0.1
port with a token of its own, with the book's Jupyter settings, ready once it says it listens, always stopped.

Example:
    >>> with running_jupyter(lambda port, token: lab_command(port=port, token=token)) as server:  # doctest: +SKIP
    ...     page.goto(server.address("/lab/tree/notebooks/05_correlax_maps.py"))
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from corrrelax_lib.book.interactive import LOOPBACK, jupyter_environment

#: What Jupyter Server logs just before it binds its port (from its event loop, a moment later).
READY = "is running at:"


@dataclass(frozen=True)
class JupyterServer:
    """A running server: its ``url`` (``http://127.0.0.1:<port>``), ``token`` and log lines (growing)."""

    url: str
    token: str
    log: list[str]

    def address(self, path: str) -> str:
        """The URL of ``path`` (e.g. ``/lab/tree/notebooks/05_correlax_maps.py``) with the token."""
        return f"{self.url}{path}?token={self.token}"

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the server's log (kernels' output included), for a failure message."""
        return "\n".join(self.log[-lines:])


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def listening(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:``port``."""
    with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=1):
        return True
    return False


@contextmanager
def running_jupyter(command: Callable[[int, str], list[str]], *, start_timeout: float = 180,
                    stop_timeout: float = 60) -> Iterator[JupyterServer]:
    """Run ``command(port, token)`` (e.g. :func:`~corrrelax_lib.book.interactive.lab_command`) with the book's
    Jupyter settings; yield the server once it listens; stop it (and so its kernels) on the way out.

    Raises:
        RuntimeError: the server exited, or did not listen within ``start_timeout`` seconds (its log quoted).
    """
    port, token = free_port(), secrets.token_hex(16)
    process = subprocess.Popen(command(port, token), env=jupyter_environment(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    server = JupyterServer(f"http://{LOOPBACK}:{port}", token, [])
    said_ready = threading.Event()

    def read_log() -> None:
        for line in process.stdout:
            server.log.append(line.rstrip("\n"))
            if READY in line:
                said_ready.set()
        said_ready.set()  # the server exited: stop waiting

    reader = threading.Thread(target=read_log, daemon=True)
    reader.start()
    deadline = time.monotonic() + start_timeout
    try:
        started = said_ready.wait(start_timeout)
        # The port is bound a moment after READY, with nothing logged: try it until then.
        while started and process.poll() is None and not listening(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        if process.poll() is not None or not listening(port):
            raise RuntimeError(f"the Jupyter server ({process.args[2]}) did not start listening on port {port} "
                               f"within {start_timeout:.0f} s (exit code {process.poll()}):\n{server.log_tail()}")
        yield server
    finally:
        process.terminate()  # Jupyter Server shuts its kernels down on SIGTERM
        try:
            process.wait(stop_timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(stop_timeout)
