"""A kernel client for papermill that never waits on a wake-up that was lost.

jupyter_client's asyncio channels wait for a message with ``socket.poll(None)``, which resolves on
an edge-triggered ZeroMQ file-descriptor event. When that edge is consumed elsewhere, a message that
is already in the socket is never noticed: papermill then waits forever while the kernel has
finished and is idle (seen here on chapter 05's widget cell: the kernel had run the cell, the client
had received nothing). A new poll checks the socket's events first, so waiting in short polls
instead of one endless poll always finds such a message.
"""

from __future__ import annotations

from queue import Empty
from typing import Any

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.manager import AsyncKernelManager
from traitlets import DottedObjectName, Type

#: Seconds of one poll while waiting without a timeout.
POLL_SECONDS = 1.0


class RepollingChannel(AsyncZMQSocketChannel):
    """A shell or IOPub channel whose endless wait is a loop of :data:`POLL_SECONDS` polls."""

    async def get_msg(self, timeout: float | None = None) -> dict[str, Any]:
        """The next message; with ``timeout=None`` wait as long as it takes, re-polling the socket.

        Raises:
            queue.Empty: no message within ``timeout`` seconds (only when a timeout is given).
        """
        if timeout is not None:
            return await super().get_msg(timeout)
        while True:
            try:
                return await super().get_msg(POLL_SECONDS)
            except Empty:
                continue


class RepollingKernelClient(AsyncKernelClient):
    """:class:`AsyncKernelClient` with :class:`RepollingChannel` for the shell and IOPub channels."""

    shell_channel_class = Type(RepollingChannel)
    iopub_channel_class = Type(RepollingChannel)


class RepollingKernelManager(AsyncKernelManager):
    """:class:`AsyncKernelManager` whose clients are :class:`RepollingKernelClient`; pass it to
    ``papermill.execute_notebook(..., kernel_manager_class=RepollingKernelManager)``."""

    client_class = DottedObjectName("corrrelax_lib.book.kernel_client.RepollingKernelClient")
    client_factory = Type(RepollingKernelClient, klass=AsyncKernelClient)
