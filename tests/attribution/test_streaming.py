"""Streaming per-window Pearson correlations (paper Eq. 3–4) against np.corrcoef, in float64."""

from __future__ import annotations

import numpy as np
import torch

from corrrelax_lib.attribution.streaming import CorrelationSums


def _add_in_random_batches(sums, window_index, x, y, rng):
    """Add the passes in a shuffled order, in batches of random sizes."""
    order = rng.permutation(len(x))
    start = 0
    while start < len(order):
        stop = min(len(order), start + int(rng.integers(1, 40)))
        batch = order[start:stop]
        sums.add(torch.as_tensor(window_index[batch]), torch.as_tensor(x[batch]), torch.as_tensor(y[batch]))
        start = stop


def _reference(window_index, x, y, n_windows):
    return np.array([[np.corrcoef(x[window_index == w], y[window_index == w, t])[0, 1] for t in range(y.shape[1])]
                     for w in range(n_windows)])


def _random_passes(rng, n_windows=5, n_targets=3, per_window=60):
    window_index = np.repeat(np.arange(n_windows), per_window)
    x = rng.normal(size=len(window_index))
    # Each window's targets depend on x with a different strength and sign.
    slopes = rng.normal(size=(n_windows, n_targets))
    y = slopes[window_index] * x[:, None] + rng.normal(size=(len(x), n_targets))
    return window_index, x, y


def test_correlations_match_corrcoef_with_interleaved_batches():
    rng = np.random.default_rng(0)
    window_index, x, y = _random_passes(rng)
    sums = CorrelationSums(5, 3)
    _add_in_random_batches(sums, window_index, x, y, rng)
    rho = sums.correlations()
    assert rho.shape == (5, 3)
    assert rho.dtype == torch.float64
    np.testing.assert_allclose(rho.numpy(), _reference(window_index, x, y, 5), rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(sums.count.numpy(), [60] * 5)


def test_float32_inputs_are_accumulated_in_float64():
    rng = np.random.default_rng(1)
    window_index, x, y = _random_passes(rng, n_windows=2, n_targets=2)
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    sums = CorrelationSums(2, 2)
    _add_in_random_batches(sums, window_index, x32, y32, rng)
    expected = _reference(window_index, x32.astype(np.float64), y32.astype(np.float64), 2)
    np.testing.assert_allclose(sums.correlations().numpy(), expected, rtol=1e-10, atol=1e-12)


def test_shifting_x_or_y_does_not_change_rho():
    rng = np.random.default_rng(2)
    window_index, x, y = _random_passes(rng, n_windows=3)
    plain, shifted = CorrelationSums(3, 3), CorrelationSums(3, 3)
    plain.add(torch.as_tensor(window_index), torch.as_tensor(x), torch.as_tensor(y))
    shifted.add(torch.as_tensor(window_index), torch.as_tensor(x - 1), torch.as_tensor(y + 5))
    torch.testing.assert_close(shifted.correlations(), plain.correlations(), rtol=1e-12, atol=1e-12)


def test_zero_variance_gives_nan_only_where_undefined():
    rng = np.random.default_rng(3)
    window_index, x, y = _random_passes(rng, n_windows=4)
    x[window_index == 1] = 0.3  # window 1: x constant -> every target undefined
    y[window_index == 2, 1] = -0.7  # window 2: target 1 constant
    y[window_index == 3, 0] = 0.0  # window 3: target 0 all zeros
    sums = CorrelationSums(4, 3)
    _add_in_random_batches(sums, window_index, x, y, rng)
    rho = sums.correlations().numpy()
    expected_nan = np.zeros((4, 3), dtype=bool)
    expected_nan[1, :] = expected_nan[2, 1] = expected_nan[3, 0] = True
    np.testing.assert_array_equal(np.isnan(rho), expected_nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        reference = _reference(window_index, x, y, 4)
    np.testing.assert_allclose(rho[~expected_nan], reference[~expected_nan], rtol=1e-10, atol=1e-12)


def test_fewer_than_two_passes_give_nan():
    sums = CorrelationSums(3, 2)
    # Window 0 gets no pass, window 1 one pass, window 2 two passes.
    sums.add(torch.tensor([1, 2, 2]), torch.tensor([0.5, 0.1, 0.4]), torch.tensor([[1.0, 2.0], [0.0, 1.0], [1.0, 0.0]]))
    rho = sums.correlations()
    assert torch.isnan(rho[:2]).all()
    # Two points are always perfectly (anti)correlated.
    torch.testing.assert_close(rho[2], torch.tensor([1.0, -1.0], dtype=torch.float64), rtol=0, atol=1e-12)


def test_near_constant_values_shifted_to_zero_match_the_float64_reference():
    rng = np.random.default_rng(4)
    n = 2560
    raw_x = 1 + 1e-6 * rng.normal(size=n)  # e.g. cosine similarities S_h of masked windows, all near 1
    raw_y = 1 + 1e-6 * (0.6 * (raw_x[:, None] - 1) * 1e6 + 0.8 * rng.normal(size=(n, 2)))
    raw_y[:, 1] = 1 - (raw_y[:, 1] - 1)  # negatively correlated
    sums = CorrelationSums(1, 2)
    for start in range(0, n, 128):  # the paper's sets of 128 masks
        batch = slice(start, start + 128)
        sums.add(torch.zeros(128, dtype=torch.int64), torch.as_tensor(raw_x[batch] - 1),
                 torch.as_tensor(raw_y[batch] - 1))
    rho = sums.correlations().numpy()[0]
    expected = [np.corrcoef(raw_x, raw_y[:, t])[0, 1] for t in range(2)]
    assert np.isfinite(rho).all()
    np.testing.assert_allclose(rho, expected, rtol=1e-7)
    assert 0.5 < rho[0] < 0.7 and -0.7 < rho[1] < -0.5


def test_perfect_correlations_stay_within_minus_one_and_one():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 500)) * np.array([[1e-3], [1.0], [1e3]])
    sums = CorrelationSums(3, 2)
    for w in range(3):
        y = np.stack([3 * x[w] + 0.1, -7 * x[w] + 2], axis=1)
        sums.add(torch.full((500,), w), torch.as_tensor(x[w]), torch.as_tensor(y))
    rho = sums.correlations()
    assert (rho.abs() <= 1).all()
    # Unshifted y (offset 2, spread 7e-3) costs some digits to cancellation in the raw sums.
    torch.testing.assert_close(rho, torch.tensor([[1.0, -1.0]] * 3, dtype=torch.float64), rtol=0, atol=1e-9)


def test_random_correlations_are_within_minus_one_and_one():
    rng = np.random.default_rng(6)
    window_index = rng.integers(0, 50, size=400)
    sums = CorrelationSums(50, 4)
    sums.add(torch.as_tensor(window_index), torch.as_tensor(rng.normal(size=400)),
             torch.as_tensor(rng.normal(size=(400, 4))))
    rho = sums.correlations()
    defined = ~torch.isnan(rho)
    assert defined.any()
    assert (rho[defined].abs() <= 1).all()
