"""Numbers the notebooks computed, kept beside the paper's, for the reproduction-status page.

Each chapter writes ``<results_dir>/<chapter>.json`` (atomically, rewritten on every
``record``), a list of entries::

    {"item": "Table 1", "quantity": "Mass (training)", "ours": 41, "paper": 989, "note": "..."}
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from corrrelax_lib.io.atomic import atomic_write_text

Number = int | float | str | None


@dataclass(frozen=True)
class ResultEntry:
    """One computed quantity; ``paper`` is the paper's value (``None`` where it has none)."""

    item: str
    quantity: str
    ours: Number
    paper: Number = None
    note: str = ""


class ResultLog:
    """Collect one chapter's results; every ``record`` rewrites the chapter's JSON file."""

    def __init__(self, results_dir: str | os.PathLike[str], chapter: str) -> None:
        self.path = Path(results_dir) / f"{chapter}.json"
        self.entries: list[ResultEntry] = []

    def record(self, item: str, quantity: str, ours: Number, paper: Number = None, note: str = "") -> None:
        """Add (or replace) the entry ``(item, quantity)`` and save the chapter file."""
        self.entries = [e for e in self.entries if (e.item, e.quantity) != (item, quantity)]
        self.entries.append(ResultEntry(item, quantity, _plain(ours), _plain(paper), note))
        payload = [asdict(entry) for entry in self.entries]
        atomic_write_text(self.path, json.dumps(payload, indent=1) + "\n")


def load_results(results_dir: str | os.PathLike[str]) -> dict[str, list[ResultEntry]]:
    """All chapters' entries, keyed by chapter name, chapters sorted."""
    return {
        path.stem: [ResultEntry(**entry) for entry in json.loads(path.read_text())]
        for path in sorted(Path(results_dir).glob("*.json"))
    }


def _plain(value: object) -> Number:
    """numpy scalars -> Python numbers, so JSON and tables stay exact."""
    if value is None or isinstance(value, (str, int, float)):
        return value
    if hasattr(value, "item"):
        return value.item()  # type: ignore[no-any-return]
    raise TypeError(f"cannot record {value!r} of type {type(value).__name__}")
