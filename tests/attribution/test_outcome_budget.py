"""Outcome-aware mask budget: refine only the windows under a map maximum or criterion still undecided."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from corrrelax_lib.attribution.correlax import CorRELAX
from corrrelax_lib.attribution.outcome_budget import OutcomeBudget
from corrrelax_lib.models.classifier import MultiLabelClassifier
from corrrelax_lib.windows.reconstruction import smooth_window_map

GRID = (9, 12)
KERNEL = np.full((3, 3), 1 / 9)  # radius 1: a window reaches the cells next to it


def _rule(**options):
    budget = OutcomeBudget(first_masks=16, **options)
    return budget.for_windows(GRID, np.arange(GRID[0] * GRID[1]), KERNEL)


def _rho(distance: np.ndarray, correlation: np.ndarray | None = None) -> torch.Tensor:
    """``(W, 2)``: a distance map and one class map on the grid."""
    correlation = distance if correlation is None else correlation
    return torch.as_tensor(np.stack([distance.ravel(), correlation.ravel()], axis=1))


def _stop(rule, rho, n_masks, n_max=10**6):
    windows = rho.shape[0]
    return rule.stop(rho, torch.full((windows,), n_masks), torch.arange(windows), n_masks, n_max)


def _bumps(first: float, second: float) -> np.ndarray:
    """A flat 0.2 field with two Gaussian bumps far apart: heights ``first`` at (2, 2) and ``second`` at (6, 9)."""
    rows, cols = np.mgrid[:GRID[0], :GRID[1]]
    bump = [np.exp(-((rows - r) ** 2 + (cols - c) ** 2) / 4.5) for r, c in ((2, 2), (6, 9))]
    return 0.2 + (first - 0.2) * bump[0] + (second - 0.2) * bump[1]


def test_no_window_stops_before_the_first_masks_and_all_stop_at_the_cap():
    rho = _rho(_bumps(0.6, 0.59))
    assert not _stop(_rule(), rho, 15).any()
    assert _stop(_rule(), rho, 640, n_max=640).all()


def test_a_gap_not_even_the_cap_could_resolve_buys_no_masks():
    # The close maxima below are refined when the cap could tell them apart, not when it could not.
    rho = _rho(_bumps(0.6, 0.59))
    assert not _stop(_rule(), rho, 64, n_max=10**6).all()
    assert _stop(_rule(), rho, 64, n_max=80).sum() > _stop(_rule(), rho, 64, n_max=10**6).sum()


def test_a_clear_maximum_and_a_clear_criterion_stop_every_window():
    assert _stop(_rule(), _rho(_bumps(0.9, 0.4)), 256).all()


def test_two_close_maxima_refine_only_the_windows_under_them():
    stop = _stop(_rule(), _rho(_bumps(0.6, 0.59)), 64).reshape(GRID)
    assert not stop[2, 2] and not stop[6, 9]  # under either peak: refined
    assert stop[8, 0] and stop[0, 11] and stop[8, 5]  # far from both: stopped
    assert stop.any() and not stop.all()
    # With many masks the same values are decided.
    assert _stop(_rule(), _rho(_bumps(0.6, 0.55)), 200_000).all()


def test_a_maximum_moving_within_the_tolerance_does_not_count():
    rows, cols = np.mgrid[:GRID[0], :GRID[1]]
    # One bump centred between windows (4, 4) and (4, 5): two neighbours, one stride apart, nearly tied.
    values = 0.2 + 0.4 * np.exp(-((rows - 4) ** 2 + (cols - 4.45) ** 2) / 4.5)
    assert _stop(_rule(tolerance_cells=1), _rho(values), 2000).all()
    assert not _stop(_rule(tolerance_cells=0), _rho(values), 2000).all()


def test_a_correlation_maximum_near_zero_keeps_its_windows_for_the_criterion():
    clear = _bumps(0.9, 0.4)
    # The same shape shifted so that its smoothed maximum is 0.01: the "positive correlation" hit is undecided.
    near_zero = clear - np.nanmax(smooth_window_map(clear, KERNEL)) + 0.01
    stop = _stop(_rule(), _rho(clear, near_zero), 64).reshape(GRID)
    assert not stop[2, 2] and stop[8, 11] and stop[6, 9]
    # The distance map has no value criterion: the same values there decide nothing.
    assert _stop(_rule(), _rho(near_zero, clear), 256).all()
    assert not _stop(_rule(), _rho(clear, near_zero), 256).reshape(GRID)[2, 2]


def test_the_rule_is_deterministic_and_ignores_missing_windows():
    values = _bumps(0.6, 0.59)
    values[3:6, 3:6] = np.nan
    rho = _rho(values)
    first = _stop(_rule(), rho, 64)
    assert torch.equal(first, _stop(_rule(), rho, 64))
    assert first.any() and not first.all()


def test_invalid_settings_are_refused():
    with pytest.raises(ValueError):
        OutcomeBudget(first_masks=2)


def _explain(seed: int, budget: OutcomeBudget):
    torch.manual_seed(0)
    model = MultiLabelClassifier("small_cnn", 2).eval()
    image = np.random.default_rng(0).random((120, 96, 3))
    explainer = CorRELAX(model, ["a", "b"], window_size=32, stride=8, n_masks=64, mask_chunk=16, seed=seed,
                         adaptive=budget, progress=False)
    return explainer.explain(image, foreground=np.ones((120, 96), bool))


def test_in_the_engine_every_window_gets_its_first_masks_and_only_doubt_buys_more():
    budget = OutcomeBudget(first_masks=16, z=3.0, tolerance_cells=0)
    maps, again = _explain(0, budget), _explain(0, budget)
    used = maps.masks_used
    assert used.min() >= 16 and used.max() <= 64 and (used > 16).any()
    # Without doubt (z = 0) no outcome is open after the first pass: every window stops there.
    assert (_explain(0, OutcomeBudget(first_masks=16, z=0.0)).masks_used == 16).all()
    np.testing.assert_array_equal(used, again.masks_used)
    np.testing.assert_array_equal(maps.window_rho_class, again.window_rho_class)
    assert maps.metadata["adaptive"]["rule"] == "outcome"
