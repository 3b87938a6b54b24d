"""The real-data tier: a table of seconds and memory per scan at the end of the test session."""

from __future__ import annotations

from typing import Any

import pytest

_SCAN_COSTS = pytest.StashKey[list[dict[str, Any]]]()


@pytest.fixture(scope="session")
def scan_costs(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    """Rows ``{"scan": ..., "total s": ..., ...}`` the tier appends to; printed after the session."""
    return request.config.stash.setdefault(_SCAN_COSTS, [])


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Print what each full-resolution scan cost (measured, not asserted: speed targets live in ``benchmarks/``)."""
    rows = config.stash.get(_SCAN_COSTS, [])
    if not rows:
        return
    terminalreporter.section("real CBIS-DDSM scans at full resolution: cost per scan")
    names = list(rows[0])
    terminalreporter.write_line(f"{names[0]:<24}" + "".join(f"{name:>14}" for name in names[1:]))
    for row in rows:
        values = list(row.values())
        terminalreporter.write_line(f"{values[0]:<24}" + "".join(f"{value:>14.2f}" for value in values[1:]))
