"""The authors' numerics: every pass kept in float32 and correlated with torch.corrcoef per window."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from corrrelax_lib.attribution.stacked_correlations import StackedCorrelations
from corrrelax_lib.attribution.streaming import CorrelationSums


def _passes(rng, n_windows=4, per_window=50, n_targets=3):
    window_index = np.repeat(np.arange(n_windows), per_window)
    x = rng.normal(size=len(window_index))
    y = rng.normal(size=(n_windows, n_targets))[window_index] * x[:, None] + rng.normal(size=(len(x), n_targets))
    return window_index, x, y


def _add_shuffled(sums, window_index, x, y, rng):
    """Add the passes in batches of random sizes, windows interleaved (the engine's order within a window kept)."""
    order = np.concatenate([np.flatnonzero(window_index == w) for w in rng.permutation(window_index.max() + 1)])
    start = 0
    while start < len(order):
        batch = order[start:start + int(rng.integers(1, 30))]
        sums.add(torch.as_tensor(window_index[batch]), torch.as_tensor(x[batch]), torch.as_tensor(y[batch]))
        start += len(batch)


def test_each_window_is_torch_corrcoef_of_its_float32_series_first_target_alone():
    rng = np.random.default_rng(0)
    window_index, x, y = _passes(rng)
    sums = StackedCorrelations(4, 3)
    _add_shuffled(sums, window_index, x, y, rng)
    rho = sums.correlations()
    for w in range(4):
        own = torch.as_tensor(np.column_stack([x, y])[window_index == w], dtype=torch.float32)
        assert rho[w, 0] == torch.corrcoef(own[:, :2].T)[0, 1].double()
        assert torch.equal(rho[w, 1:], torch.corrcoef(own[:, [0, 2, 3]].T)[0, 1:].double())


def test_benign_values_agree_with_the_float64_sums():
    rng = np.random.default_rng(1)
    window_index, x, y = _passes(rng)
    stacked, streamed = StackedCorrelations(4, 3), CorrelationSums(4, 3)
    for sums in (stacked, streamed):
        sums.add(torch.as_tensor(window_index), torch.as_tensor(x), torch.as_tensor(y))
    torch.testing.assert_close(stacked.correlations(), streamed.correlations(), rtol=0, atol=1e-6)


def test_similarities_a_few_float32_ulps_below_one_lose_their_correlation():
    # S_ŷ = 1 − 3e-8·k falls exactly as S_h rises in float64 (ρ = −1); float32 resolves only 6e-8 below 1.
    k = np.arange(200) % 10
    x, y = 0.9 + 0.01 * k, (1 - 3e-8 * k)[:, None]
    window_index = torch.zeros(200, dtype=torch.int64)
    stacked, streamed = StackedCorrelations(1, 1), CorrelationSums(1, 1)
    stacked.add(window_index, torch.as_tensor(x), torch.as_tensor(y))
    streamed.add(window_index, torch.as_tensor(x - 1), torch.as_tensor(y - 1))
    assert streamed.correlations()[0, 0].item() == pytest.approx(-1.0, abs=1e-9)
    assert abs(stacked.correlations()[0, 0] - streamed.correlations()[0, 0]) > 0.01


def test_no_variance_or_too_few_passes_is_nan():
    sums = StackedCorrelations(3, 2)
    sums.add(torch.tensor([0, 0, 0, 1]), torch.tensor([1.0, 2.0, 3.0, 1.0]),
             torch.tensor([[1.0, 5.0], [2.0, 5.0], [4.0, 5.0], [1.0, 1.0]]))
    rho = sums.correlations()
    assert torch.isfinite(rho[0, 0]) and torch.isnan(rho[0, 1])  # a constant target
    assert torch.isnan(rho[1:]).all()  # one pass; none
    assert rho.dtype == torch.float64 and StackedCorrelations.dtype == torch.float32
