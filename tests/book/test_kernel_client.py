"""The papermill kernel client re-polls while it waits, so a lost wake-up cannot stall a build."""

from __future__ import annotations

import asyncio
from queue import Empty

import nbformat
import papermill
import pytest
from jupyter_client.channels import AsyncZMQSocketChannel

from corrrelax_lib.book.kernel_client import (
    POLL_SECONDS,
    RepollingChannel,
    RepollingKernelClient,
    RepollingKernelManager,
)


def _channel_answering(monkeypatch, answers: list) -> tuple[RepollingChannel, list]:
    """A channel whose underlying ``get_msg`` pops ``answers`` (an exception is raised), recording timeouts."""
    asked = []

    async def fake_get_msg(self, timeout=None):
        asked.append(timeout)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(AsyncZMQSocketChannel, "get_msg", fake_get_msg)
    return RepollingChannel.__new__(RepollingChannel), asked


def test_endless_wait_is_a_loop_of_short_polls(monkeypatch):
    channel, asked = _channel_answering(monkeypatch, [Empty(), Empty(), {"msg_type": "execute_reply"}])
    assert asyncio.run(channel.get_msg()) == {"msg_type": "execute_reply"}
    assert asked == [POLL_SECONDS] * 3


def test_a_given_timeout_is_kept(monkeypatch):
    channel, asked = _channel_answering(monkeypatch, [Empty()])
    with pytest.raises(Empty):
        asyncio.run(channel.get_msg(timeout=0.25))
    assert asked == [0.25]


def test_manager_hands_out_repolling_clients_and_papermill_runs_with_it(tmp_path):
    assert isinstance(RepollingKernelManager().client(), RepollingKernelClient)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 6 * 7\nprint(x)")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "in.ipynb")
    papermill.execute_notebook(str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"), kernel_name="python3",
                               progress_bar=False, kernel_manager_class=RepollingKernelManager)
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"] == "42\n"
