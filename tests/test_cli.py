"""``corrrelax explain | evaluate`` on one process, with a hand-made classifier in place of the profile's."""

from __future__ import annotations

import re
import tomllib
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import torch

from corrrelax_lib import cli
from corrrelax_lib.attribution.correlax import CorRELAX
from corrrelax_lib.config import parse_override_pairs
from corrrelax_lib.data.labels import LABELS
from corrrelax_lib.data.phantom import PhantomConfig, write_phantom_dataset
from corrrelax_lib.distributed.gather import MissingArtifactsError
from corrrelax_lib.metrics.pointing_game import PER_IMAGE_ROW, TABLE4_CRITERIA
from corrrelax_lib.paths import repository_root
from corrrelax_lib.pipeline.study import FINDINGS, Study
from corrrelax_lib.testing.explain_job import synthetic_images
from corrrelax_lib.testing.models import QuadrantMeans

#: Tiny CorRELAX settings on top of the tiny profile.
OVERRIDES = ["-p", "correlax.window_size", "16", "-p", "correlax.stride", "8", "-p", "correlax.n_masks", "16",
             "-p", "correlax.mask_chunk", "16", "-p", "correlax.min_foreground", "0.0",
             "-p", "pointing_game.tolerance", "8"]


@pytest.fixture
def inputs(monkeypatch, tmp_path) -> SimpleNamespace:
    """The job's four synthetic images (labels "a" / "b" renamed to the first two findings) and a
    QuadrantMeans "classifier" stand in for the study's; artifacts go to ``tmp_path``."""
    weight = torch.zeros(4, len(LABELS))
    weight[0, LABELS.index(FINDINGS[0])], weight[0, LABELS.index(FINDINGS[1])] = 4.0, -4.0
    run = SimpleNamespace(model=QuadrantMeans(weight, torch.zeros(len(LABELS))), directory=Path("tiny-run"))
    rename = {"a": FINDINGS[0], "b": FINDINGS[1]}
    images = [replace(image, image=image.image.copy(),
                      boxes_by_label={rename[label]: boxes for label, boxes in image.boxes_by_label.items()})
              for image in synthetic_images()]
    for image in images:
        image.image[:2, :] = 120  # a frame, so that Otsu finds a breast in every window row
    monkeypatch.setenv("CORRRELAX_ARTIFACTS", str(tmp_path))
    monkeypatch.setattr(Study, "prepare_data", lambda self, workers=2: self.data_root)
    monkeypatch.setattr(Study, "classifier", lambda self, context=None, *, train=True: run)
    monkeypatch.setattr(Study, "test_images", lambda self: images)
    return SimpleNamespace(run=run, images=images)


def test_explain_then_evaluate_writes_the_maps_and_table_4(inputs, tmp_path, capsys):
    cli.main(["explain", *OVERRIDES])
    maps_dirs = list((tmp_path / "tiny" / "correlax").iterdir())
    assert len(maps_dirs) == 1 and maps_dirs[0].name.startswith("tiny-run-")
    assert sorted(p.name for p in maps_dirs[0].iterdir()) == sorted(
        f"img{i}.{suffix}" for i in range(4) for suffix in ("json", "npz"))
    cli.main(["evaluate", *OVERRIDES])
    table = pd.read_csv(tmp_path / "tiny" / "tables" / "pointing_game.csv", index_col=0)
    assert list(table.columns) == [*TABLE4_CRITERIA, "support"]
    assert list(table.index) == [*FINDINGS, "Weighted mean", PER_IMAGE_ROW]
    assert table.loc[FINDINGS[0], "support"] == 4 and table.loc[FINDINGS[1], "support"] == 2
    assert table.loc[FINDINGS[0], "prediction ≥ 50%"] == 1.0  # the model predicts the first finding from the patch
    assert "Weighted mean" in capsys.readouterr().out


def test_notebooks_read_the_maps_the_command_line_wrote(inputs, monkeypatch):
    cli.main(["explain", *OVERRIDES])
    study = Study.open("tiny", parse_override_pairs(list(zip(OVERRIDES[1::3], OVERRIDES[2::3], strict=True))))

    def no_compute(self, image, foreground=None, **options):
        raise AssertionError("the study recomputed a map the command line had written")

    monkeypatch.setattr(CorRELAX, "explain", no_compute)
    maps = study.correlax_maps()
    assert sorted(maps) == [f"img{i}" for i in range(4)]


def test_evaluate_before_explain_says_which_maps_are_missing(inputs, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_missing:
        cli.main(["evaluate", *OVERRIDES, "--output", str(tmp_path / "table.csv")])
    assert exit_missing.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("corrrelax evaluate: error: ") and "Traceback" not in err
    assert re.search(r"correlax/tiny-run-\w+: 4 of 4 image\(s\) have no complete artifact", err)
    with pytest.raises(MissingArtifactsError, match=r"correlax/tiny-run-\w+: 4 of 4 image\(s\)"):
        cli.main(["evaluate", *OVERRIDES, "--output", str(tmp_path / "table.csv"), "--debug"])
    assert not (tmp_path / "table.csv").exists()


def test_unknown_command_is_refused(capsys):
    with pytest.raises(SystemExit):
        cli.main(["fly"])
    assert "invalid choice: 'fly'" in capsys.readouterr().err


def test_every_subcommand_has_its_own_help_and_the_version_is_printed(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    overview = capsys.readouterr().out
    for command in ("check-data", "train", "explain", "evaluate", "book"):
        assert command in overview
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    train_help = capsys.readouterr().out
    assert "--profile" in train_help and "--maps" not in train_help and "--output" not in train_help
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert capsys.readouterr().out.strip() == f"corrrelax {cli.package_version()}"


def test_a_wrong_override_is_one_line_naming_the_profile_and_key(capsys):
    with pytest.raises(SystemExit) as exit_bad:
        cli.main(["train", "-p", "correlax.n_mask", "64"])
    assert exit_bad.value.code == 1
    err = capsys.readouterr().err
    assert "tiny.yml: unknown key 'correlax.n_mask'" in err and "Traceback" not in err


def test_the_corrrelax_script_is_registered():
    scripts = tomllib.loads((repository_root() / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"corrrelax": "corrrelax_lib.cli:main"}


BASELINE_OVERRIDES = ["-p", "baselines.modes", "[whole]", "-p", "baselines.methods_whole", "[RISE, Gradient saliency]",
                      "-p", "baselines.image_size", "32", "-p", "baselines.masks_whole", "16"]


def test_explain_baselines_writes_one_artifact_per_image_and_method(inputs, tmp_path):
    cli.main(["explain", *OVERRIDES, *BASELINE_OVERRIDES, "--maps", "baselines"])
    method_dirs = sorted((tmp_path / "tiny" / "baselines").iterdir())
    assert len(method_dirs) == 2
    for directory in method_dirs:
        assert sorted(p.name for p in directory.glob("*.npz")) == [f"img{i}.npz" for i in range(4)]
    assert not (tmp_path / "tiny" / "correlax").exists()  # only the map sets asked for


def test_evaluate_with_baselines_gathers_the_comparison_table_without_computing(inputs, tmp_path, monkeypatch):
    cli.main(["explain", *OVERRIDES, *BASELINE_OVERRIDES, "--maps", "correlax"])
    with pytest.raises(MissingArtifactsError, match=r"baselines/tiny-run-\w+: 4 of 4 image\(s\)"):
        cli.main(["evaluate", *OVERRIDES, *BASELINE_OVERRIDES, "--maps", "baselines", "--debug"])
    cli.main(["explain", *OVERRIDES, *BASELINE_OVERRIDES, "--maps", "baselines"])
    monkeypatch.setattr(CorRELAX, "explain", lambda *args, **kwargs: pytest.fail("evaluate computed a map"))
    cli.main(["evaluate", *OVERRIDES, *BASELINE_OVERRIDES, "--maps", "baselines"])
    table = pd.read_csv(tmp_path / "tiny" / "tables" / "method_comparison.csv", index_col=0)
    assert list(table.index) == ["CorRELAX prediction", "CorRELAX correlation", "CorRELAX product",
                                 "RISE (whole ROI)", "Gradient saliency (whole ROI)"]
    assert (table["support"] == 6).all()  # the same 6 image-label pairs for every method
    assert table.loc["CorRELAX prediction", FINDINGS[0]] == 1.0  # as in Table 4 from the same maps


def test_check_data_reports_a_broken_vindr_root_and_exits_1(tmp_path, monkeypatch, capsys):
    root = write_phantom_dataset(tmp_path / "vindr", PhantomConfig(seed=3, n_patients=1, image_height_range=(128, 132)))
    monkeypatch.setenv("CORRRELAX_DATA", str(root))
    with pytest.raises(SystemExit) as exit_ok:
        cli.main(["check-data", "--profile", "full"])
    assert exit_ok.value.code == 0 and f"VinDr-Mammo at {root}: OK" in capsys.readouterr().out
    next((root / "images").rglob("*.dicom")).unlink()
    with pytest.raises(SystemExit) as exit_broken:
        cli.main(["check-data", "--profile", "full"])
    assert exit_broken.value.code == 1
    assert "NOT OK" in capsys.readouterr().out
