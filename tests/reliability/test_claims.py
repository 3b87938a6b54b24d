"""Claims on artifacts: one owner at a time, a live owner's claim respected, an abandoned one taken over at once."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time

import pytest

from corrrelax_lib.io.claims import claim_path, try_claim
from corrrelax_lib.io.owner import STALE_AFTER, Owner

#: A modification time older than STALE_AFTER (whole seconds: exact as a file's mtime).
LONG_AGO = int(time.time() - STALE_AFTER - 60)


def _write_claim_of(owner: Owner, path, *, modified: float | None = None) -> None:
    """A claim file as ``owner`` would have written it, last touched at ``modified`` (default: now)."""
    claim_file = claim_path(path)
    claim_file.write_text(json.dumps({"owner": owner.token, "claimed_at": "2024-01-01T00:00:00+00:00",
                                      "nonce": "0123456789abcdef"}))
    if modified is not None:
        os.utime(claim_file, (modified, modified))


def _finished_process_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_held_claim_excludes_every_other_claim_until_released(tmp_path):
    path = tmp_path / "one.npz"
    with try_claim(path) as claim:
        record = json.loads(claim_path(path).read_text())
        assert record["owner"] == Owner.current().token and record["nonce"] == claim.nonce
        assert try_claim(path) is None  # its owner (this very process) is alive
        assert claim.is_held()
    assert not claim_path(path).exists()
    again = try_claim(path)
    assert again is not None
    again.release()


@pytest.mark.parametrize("how", ["exited", "pid reused"])
def test_a_claim_of_a_process_gone_from_this_machine_is_taken_over_at_once(tmp_path, how):
    here = Owner.current()
    dead = (dataclasses.replace(here, pid=_finished_process_pid()) if how == "exited"
            else dataclasses.replace(here, started=here.started + 1))  # this PID, but a process started later
    path = tmp_path / "one.npz"
    _write_claim_of(dead, path)  # touched just now: only the owner's death tells it is abandoned
    claim = try_claim(path)
    assert claim is not None and json.loads(claim_path(path).read_text())["owner"] == here.token
    claim.release()
    assert sorted(os.listdir(tmp_path)) == []  # the abandoned claim is not left aside either


def test_a_claim_from_another_machine_is_taken_over_only_once_untouched_for_stale_after(tmp_path):
    path = tmp_path / "one.npz"
    elsewhere = dataclasses.replace(Owner.current(), host="other-node")
    _write_claim_of(elsewhere, path)
    assert try_claim(path) is None  # recently touched: its owner may be computing
    os.utime(claim_path(path), (LONG_AGO, LONG_AGO))
    claim = try_claim(path)
    assert claim is not None
    claim.release()


def test_a_claim_file_being_written_counts_as_live_until_stale(tmp_path):
    path = tmp_path / "one.npz"
    claim_path(path).write_text("")  # created with O_EXCL, its record not yet written
    assert try_claim(path) is None
    os.utime(claim_path(path), (LONG_AGO, LONG_AGO))
    claim = try_claim(path)
    assert claim is not None
    claim.release()


def test_a_held_claim_is_refreshed_so_that_it_never_looks_abandoned(tmp_path):
    path = tmp_path / "one.npz"
    with try_claim(path, refresh_interval=0.01) as claim:
        os.utime(claim.path, (LONG_AGO, LONG_AGO))
        deadline = time.monotonic() + 10
        while claim.path.stat().st_mtime == LONG_AGO and time.monotonic() < deadline:
            time.sleep(0.01)  # waiting for the file to change, not for a time to pass
        assert claim.path.stat().st_mtime > LONG_AGO + STALE_AFTER


def test_a_claim_taken_over_by_another_process_is_no_longer_refreshed(tmp_path):
    path = tmp_path / "one.npz"
    with try_claim(path) as claim:  # refreshed every REFRESH_INTERVAL: not during this test
        assert claim.refresh()
        # Another process judged the claim abandoned and holds its own: it is not touched for this one.
        _write_claim_of(dataclasses.replace(Owner.current(), host="other-node"), path, modified=LONG_AGO)
        assert not claim.is_held() and not claim.refresh()
        assert claim.path.stat().st_mtime == LONG_AGO


def test_releasing_a_claim_taken_over_by_another_process_leaves_that_claim(tmp_path):
    path = tmp_path / "one.npz"
    claim = try_claim(path)
    _write_claim_of(dataclasses.replace(Owner.current(), host="other-node"), path)
    claim.release()
    assert json.loads(claim_path(path).read_text())["owner"].startswith("other-node+")
