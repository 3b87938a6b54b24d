"""Which process wrote a temporary file or holds a claim, and whether that process still runs.

Several processes may write one artifact folder: the ranks of a ``torchrun`` job, two jobs started
on one machine, jobs on several nodes of a cluster sharing the folder over NFS. A file that a
process is still writing must not be cleaned up by another, and a file that a killed process left
must not block a restarted run. So temporary files and claims carry their owner's
:attr:`Owner.token`, and :func:`abandoned` decides, by one rule, whether anyone still owns them:

- **on this machine** (same host name and PID namespace) the owner is alive while a process with its
  PID runs and started when it did (a reused PID has another start time): a killed owner's files
  are abandoned at once, a live owner's never;
- **on another machine** (another node, or a PID that cannot be checked from here) the file is
  abandoned once nothing touched it for :data:`STALE_AFTER`. Claims are touched every
  :data:`~corrrelax_lib.io.claims.REFRESH_INTERVAL` by their owner, temporary files while they are
  written; the clocks of the nodes may differ by less than :data:`STALE_AFTER`.
"""

from __future__ import annotations

import functools
import os
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path

#: How long a file of an owner that cannot be checked from here (another node) may go untouched
#: before it counts as abandoned, seconds.
STALE_AFTER = 600.0

#: The token's field separator: absent from sanitised host names and from integers.
_SEPARATOR = "+"


@dataclass(frozen=True)
class Owner:
    """A process, named so that other processes can tell whether it still runs.

    Attributes:
        host: the host name, with every character other than letters, digits and ``-`` made ``-``.
        pid_namespace: inode of the process's PID namespace (0 where ``/proc`` does not say): two
            containers of one host with separate PID namespaces are different machines here.
        pid: the process id.
        started: the process's start time, clock ticks after boot (``/proc/<pid>/stat``; 0: unknown).

    Example:
        >>> Owner.from_token("node-17+4026531836+4242+93817").pid
        4242
    """

    host: str
    pid_namespace: int
    pid: int
    started: int

    @classmethod
    def current(cls) -> Owner:
        """This process (computed once per process: a forked child gets its own)."""
        return _owner_of_pid(os.getpid())

    @property
    def token(self) -> str:
        """``<host>+<pid namespace>+<pid>+<start time>``, safe in a file name (no ``.``, ``/`` or ``~``)."""
        return _SEPARATOR.join((self.host, str(self.pid_namespace), str(self.pid), str(self.started)))

    @classmethod
    def from_token(cls, token: str) -> Owner | None:
        """The owner a :attr:`token` names; ``None`` for anything else (e.g. a file of an older version)."""
        fields = token.split(_SEPARATOR)
        if len(fields) != 4 or not all(field.isdigit() for field in fields[1:]) or int(fields[2]) < 1:
            return None
        host, pid_namespace, pid, started = fields
        return cls(host, int(pid_namespace), int(pid), int(started))

    def is_running(self) -> bool | None:
        """Whether this process still runs: true or false on this machine, ``None`` where it cannot be told
        (another machine, or a system without ``/proc``)."""
        here = Owner.current()
        if (self.host, self.pid_namespace) != (here.host, here.pid_namespace):
            return None
        try:
            os.kill(self.pid, 0)  # signal 0: only checks that the process exists
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # it exists, and belongs to another user
        process = _state_and_start_time(self.pid)
        if process is None or not self.started:
            return None
        state, started = process
        # A zombie (``Z``) or dying (``X``) process has exited, only its parent has not yet reaped it.
        return state not in ("Z", "X") and started == self.started


def abandoned(owner: Owner | None, modified: float, *, stale_after: float = STALE_AFTER) -> bool:
    """Whether a file of ``owner`` (``None``: unknown), last modified at ``modified`` (epoch seconds), is
    owned by no live process; see the module docstring for the rule."""
    running = owner.is_running() if owner is not None else None
    if running is not None:
        return not running
    return time.time() - modified > stale_after


@functools.cache
def _owner_of_pid(pid: int) -> Owner:
    """The :class:`Owner` of this process, which has PID ``pid`` (the cache key: a fork changes it)."""
    host = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "unknown"
    try:
        pid_namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        pid_namespace = 0
    process = _state_and_start_time(pid)
    return Owner(host, pid_namespace, pid, process[1] if process else 0)


def _state_and_start_time(pid: int) -> tuple[str, int] | None:
    """``(state, start time)`` of process ``pid`` (``"R"``, ``"S"``, ... ``"Z"``; clock ticks after boot),
    ``None`` when ``/proc/<pid>/stat`` cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name (in parentheses, may hold spaces): state is field 3, starttime 22 (proc(5)).
    fields = stat.rsplit(")", 1)[1].split()
    return fields[0], int(fields[19])
