"""Our implementations against reference libraries (the ``reference`` extra; Quantus with ``--no-deps``).

Each test runs one check of :mod:`corrrelax_lib.book.reference_checks` (the book page reports the same numbers)
and asserts its relation within the check's tolerance. A test is skipped, saying which package is missing, only
when the reference library is not installed; ``make install`` installs all of them.
"""

from __future__ import annotations

import importlib.util

import pytest

from corrrelax_lib.book import reference_checks
from corrrelax_lib.book.reference_checks import REFERENCE_CHECKS, ReferenceCheck, render_reference_page


@pytest.mark.filterwarnings("ignore::UserWarning:captum")
@pytest.mark.parametrize("check", REFERENCE_CHECKS, ids=lambda check: check.__name__.removeprefix("check_"))
def test_ours_matches_the_reference(check):
    result = check()
    if result.skipped:
        pytest.skip(f"reference extra not installed: {result.skipped}")
    assert result.version is not None
    assert result.largest_difference <= result.tolerance, (
        f"{result.name}: {result.relation} fails by {result.largest_difference:.3g} ({result.unit}), "
        f"tolerance {result.tolerance:g}")


def test_the_grad_cam_plus_plus_factor_is_exp_of_the_logit_and_not_one():
    """The documented deviation holds as stated: without the exp(S) factor ours would not match."""
    pytest.importorskip("pytorch_grad_cam", reason="grad-cam (the reference extra) is not installed")
    assert reference_checks.check_gradcam_plus_plus().passed
    # The reference's ε moves the maps by more than float32 rounding, by less than 1e-3 of their largest value.
    difference = reference_checks.check_gradcam_plus_plus_epsilon().largest_difference
    assert 1e-6 < difference < 1e-3


def test_an_uninstalled_reference_is_a_skipped_check(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    check = reference_checks.check_pointing_game()
    assert check.skipped == "quantus is not installed (pip install --no-deps quantus)"
    assert check.largest_difference is None and not check.passed
    assert "skipped: quantus is not installed" in render_reference_page([check])


def test_the_page_lists_every_check_with_its_version_and_number():
    check = ReferenceCheck("Box IoU", "windows.kernel.box_iou", "torchvision.ops.box_iou", "torchvision", "0.29.1",
                           "ours = reference", 0.0, "absolute", 1e-12)
    page = render_reference_page([check])
    assert "| Box IoU | `windows.kernel.box_iou` | torchvision.ops.box_iou | torchvision 0.29.1 | ours = reference | " \
           "0 (absolute) | 1e-12 | pass |" in page
