"""Adaptive mask counts: a window stops once z Fisher-z standard errors of every ρ fit inside the tolerance."""

from __future__ import annotations

import math

import pytest
import torch

from corrrelax_lib.attribution.adaptive import AdaptiveMasks

N_MAX = 2560


def _rho(*rows):
    return torch.tensor(rows, dtype=torch.float64)


def _first_converged_n(rho, tolerance, z, n_max):
    """Smallest n with z·(1 − ρ²)·sqrt(1/(n − 3) − 1/(N − 3)) ≤ tolerance, solved for n by hand."""
    return math.ceil(3 + 1 / ((tolerance / (z * (1 - rho**2))) ** 2 + 1 / (n_max - 3)))


def test_never_converged_before_min_masks():
    adaptive = AdaptiveMasks(z=2.0, min_masks=256, watch="all")
    rho = _rho([1.0, -1.0], [0.99, 0.99], [float("nan"), float("nan")])
    for n in (4, 100, 255):
        assert not adaptive.converged(rho, n, N_MAX).any()


def test_always_converged_at_n_max():
    adaptive = AdaptiveMasks(z=2.0, min_masks=256, watch="all")
    rho = _rho([0.0, 0.0], [0.1, -0.2])
    assert adaptive.converged(rho, N_MAX, N_MAX).all()
    assert adaptive.converged(rho, N_MAX + 128, N_MAX).all()
    # Even when n_max is below min_masks.
    assert adaptive.converged(rho, 128, 128).all()


def test_perfect_correlations_converge_at_min_masks():
    adaptive = AdaptiveMasks(z=2.0, min_masks=256, watch="all")
    rho = _rho([1.0, -1.0], [-1.0, -1.0])
    assert adaptive.converged(rho, 256, N_MAX).all()
    assert not adaptive.converged(rho, 255, N_MAX).any()


@pytest.mark.parametrize(("tolerance", "z", "n_max"), [(0.025, 2.0, 2560), (0.05, 2.0, 2560), (0.03, 1.0, 1000)])
def test_zero_correlation_boundary(tolerance, z, n_max):
    adaptive = AdaptiveMasks(tolerance=tolerance, z=z, min_masks=16)
    boundary = _first_converged_n(0.0, tolerance, z, n_max)
    # For the defaults: 1/(n − 3) ≤ 0.0125² + 1/2557 -> n ≥ 1830.04.
    if (tolerance, z, n_max) == (0.025, 2.0, 2560):
        assert boundary == 1831
    rho = _rho([0.0])
    assert not adaptive.converged(rho, boundary - 1, n_max).item()
    assert adaptive.converged(rho, boundary, n_max).item()
    assert adaptive.converged(rho, boundary + 1, n_max).item()


def test_stronger_correlations_stop_earlier():
    adaptive = AdaptiveMasks(z=2.0, min_masks=256, watch="all")
    boundary = _first_converged_n(0.5, 0.025, 2.0, N_MAX)  # (1 − 0.25) shrinks the spread: n ≥ 1498.08
    assert boundary == 1499
    assert not adaptive.converged(_rho([0.5]), boundary - 1, N_MAX).item()
    assert adaptive.converged(_rho([-0.5]), boundary, N_MAX).item()


def test_nan_correlations_do_not_hold_a_window_back():
    adaptive = AdaptiveMasks(z=2.0, min_masks=256, watch="all")
    nan = float("nan")
    rho = _rho([nan, 1.0], [nan, nan], [nan, 0.0])
    assert adaptive.converged(rho, 256, N_MAX).tolist() == [True, True, False]
    assert adaptive.converged(rho, 1831, N_MAX).tolist() == [True, True, True]


def test_the_least_settled_target_decides():
    adaptive = AdaptiveMasks(z=2.0, min_masks=256, watch="all")
    rho = _rho([1.0, 0.0, -1.0], [1.0, 0.5, 1.0], [1.0, 1.0, 1.0])
    assert adaptive.converged(rho, 256, N_MAX).tolist() == [False, False, True]
    assert adaptive.converged(rho, 1499, N_MAX).tolist() == [False, True, True]
    assert adaptive.converged(rho, 1831, N_MAX).tolist() == [True, True, True]


def test_fewer_than_four_masks_never_converge_even_without_min_masks():
    adaptive = AdaptiveMasks(min_masks=0)
    rho = _rho([1.0])
    for n in (0, 1, 2, 3):
        assert not adaptive.converged(rho, n, N_MAX).item()
    assert adaptive.converged(rho, 4, N_MAX).item()


def test_output_is_one_bool_per_window_on_the_input_device():
    result = AdaptiveMasks().converged(torch.zeros(7, 3), 300, N_MAX)
    assert result.shape == (7,)
    assert result.dtype == torch.bool
    assert result.device == torch.zeros(1).device


def test_watching_the_distance_correlation_ignores_the_classes():
    rho = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]], dtype=torch.float64)
    assert AdaptiveMasks(min_masks=256).converged(rho, 256, N_MAX).tolist() == [True, False]
    assert AdaptiveMasks(min_masks=256, watch="all").converged(rho, 256, N_MAX).tolist() == [False, False]
    with pytest.raises(ValueError, match="watch"):
        AdaptiveMasks(watch="classes")
