"""Bad annotation files: the loader names the file and line, ``check-data`` exits 1, no command shows a traceback.

Each case breaks a copy of a small phantom root in the VinDr-Mammo layout the way a user's files can be
broken; before this suite, ``check-data`` said OK for most of them and training then died with a bare
traceback (or, for a header-only file, computed Table 1 of zeros without a word).
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from corrrelax_lib import cli
from corrrelax_lib.data.phantom import PhantomConfig, write_phantom_dataset
from corrrelax_lib.data.validation import validate_dataset
from corrrelax_lib.data.vindr import BREAST_CSV, FINDINGS_CSV, AnnotationError, read_finding_annotations
from corrrelax_lib.paths import manifest_path

CONFIG = PhantomConfig(seed=5, n_patients=2, test_fraction=0.5, image_height_range=(128, 140),
                       finding_image_fraction=1.0)


@pytest.fixture(scope="module")
def phantom_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_phantom_dataset(tmp_path_factory.mktemp("master") / "vindr", CONFIG)


@pytest.fixture
def root(phantom_master: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the phantom, as ``$CORRRELAX_DATA`` of the ``full`` profile."""
    copy = Path(shutil.copytree(phantom_master, tmp_path / "vindr"))
    monkeypatch.setenv("CORRRELAX_DATA", str(copy))
    monkeypatch.setenv("CORRRELAX_ARTIFACTS", str(tmp_path / "artifacts"))
    return copy


def _edit_first_box_row(edit: Callable[[list[str], list[str]], list[str]]) -> Callable[[str], tuple[str, int | None]]:
    """A breakage that rewrites the first findings row with a box; returns (text, its line)."""
    def breakage(text: str) -> tuple[str, int | None]:
        lines = text.splitlines()
        header = next(csv.reader([lines[0]]))
        index = next(i for i, line in enumerate(lines[1:], start=1)
                     if next(csv.reader([line]))[header.index("xmin")])
        fields = next(csv.reader([lines[index]]))
        lines[index] = ",".join(f'"{field}"' if "," in field else field for field in edit(header, fields))
        return "\n".join(lines) + "\n", index + 1
    return breakage


def _set(column: str, value: str) -> Callable[[list[str], list[str]], list[str]]:
    def edit(header: list[str], fields: list[str]) -> list[str]:
        fields[header.index(column)] = value
        return fields
    return edit


#: (name, breakage of the findings CSV's text -> (new text, the CSV line to be named or None), expected message)
BREAKAGES = [
    ("non-numeric coordinate", _edit_first_box_row(_set("xmin", "abc")), "xmin 'abc' is not a number"),
    ("empty file", lambda text: ("", None), "empty file: no header and no annotations"),
    ("header only", lambda text: (text.splitlines()[0] + "\n", None),
     "no annotations: the file has a header and no rows"),
    ("row missing its last field", _edit_first_box_row(lambda header, fields: fields[:-1]),
     "15 fields, the header has 16"),
    ("row with an extra field", _edit_first_box_row(lambda header, fields: [*fields, "x"]),
     "17 fields, the header has 16"),
    ("box entirely outside", _edit_first_box_row(lambda h, f: _set("xmax", "99999")(h, _set("xmin", "99990")(h, f))),
     "lies entirely outside"),
    ("inverted box", _edit_first_box_row(lambda h, f: _set("xmax", "1")(h, _set("xmin", "50")(h, f))),
     "is empty or inverted"),
    ("incomplete box", _edit_first_box_row(_set("ymax", "")), "incomplete box"),
    ("empty image_id", _edit_first_box_row(_set("image_id", "")), "image_id is empty"),
    ("non-numeric width", _edit_first_box_row(_set("width", "wide")), "width 'wide' is not a number"),
    ("unknown split", _edit_first_box_row(_set("split", "validation")), "split 'validation' is not one of"),
    ("categories not a list", _edit_first_box_row(_set("finding_categories", "Mass")), "is not a list"),
]


@pytest.mark.parametrize(("name", "breakage", "message"), BREAKAGES, ids=[case[0] for case in BREAKAGES])
def test_bad_findings_csv_is_named_by_loader_check_data_and_train(root, capsys, name, breakage, message):
    csv_file = root / FINDINGS_CSV
    text, line = breakage(csv_file.read_text())
    csv_file.write_text(text)
    where = f"{csv_file}, line {line}: " if line else f"{csv_file}: "

    with pytest.raises(AnnotationError) as raised:
        read_finding_annotations(csv_file)
    first_line = str(raised.value).splitlines()[0]
    assert first_line.startswith(where) and message in first_line

    report = validate_dataset(root, manifest_path("vindr-mammo"))
    assert not report.ok
    with pytest.raises(SystemExit) as check:
        cli.main(["check-data", "--profile", "full"])
    assert check.value.code == 1
    out = capsys.readouterr().out
    assert "NOT OK" in out and where.rstrip(": ") in out and message in out

    with pytest.raises(SystemExit) as train:
        cli.main(["train", "--profile", "full"])
    assert train.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("corrrelax train: error: ") and message in err and "Traceback" not in err


def test_debug_shows_the_traceback(root):
    (root / FINDINGS_CSV).write_text("")
    with pytest.raises(Exception, match="empty file"):
        cli.main(["train", "--profile", "full", "--debug"])


@pytest.mark.parametrize(("text", "message"), [("", "empty file"), (None, "no annotations")])
def test_bad_breast_csv_fails_check_data(root, capsys, text, message):
    csv_file = root / BREAST_CSV
    csv_file.write_text(text if text is not None else csv_file.read_text().splitlines()[0] + "\n")
    with pytest.raises(SystemExit) as check:
        cli.main(["check-data", "--profile", "full"])
    assert check.value.code == 1
    assert f"{csv_file}: {message}" in capsys.readouterr().out
