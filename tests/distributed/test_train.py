"""DDP training: the ranks' batches make up the single-process batches, and 2 gloo processes train the same model."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from torch.utils.data import BatchSampler

from corrrelax_lib.distributed.context import DistributedContext
from corrrelax_lib.distributed.train import RankSampler, data_parallel, sum_over_ranks
from corrrelax_lib.testing.torchrun import run_torchrun
from corrrelax_lib.testing.train_job import run_job


@pytest.mark.parametrize(("n_draws", "batch_size", "world_size"), [(23, 8, 2), (24, 8, 4), (5, 8, 2), (16, 6, 3)])
def test_rank_batches_together_are_the_single_process_batches(n_draws, batch_size, world_size):
    draws = [(7 * i) % 11 for i in range(n_draws)]  # repeats, as weighted draws with replacement do
    single = list(BatchSampler(draws, batch_size, drop_last=n_draws > batch_size))
    samplers = [RankSampler(draws, rank, world_size, batch_size=batch_size) for rank in range(world_size)]
    per_rank = [list(BatchSampler(s, s.rank_batch_size, drop_last=False)) for s in samplers]
    assert len({len(batches) for batches in per_rank}) == 1  # every rank runs the same number of steps
    assert all(len(s) == len(list(s)) for s in samplers)
    steps = [sorted(draw for batches in per_rank for draw in batches[k]) for k in range(len(per_rank[0]))]
    if n_draws > batch_size:
        assert steps == [sorted(batch) for batch in single]
    else:  # one batch: its first multiple of world_size draws, shared out
        assert steps == [sorted(draws[:n_draws // world_size * world_size])]


def test_rank_sampler_refuses_a_batch_that_does_not_split_evenly():
    with pytest.raises(ValueError, match="batch_size 6 is not a multiple of world_size 4"):
        RankSampler(range(10), 0, 4, batch_size=6)


def test_one_process_needs_no_wrapper_and_no_reduction():
    model = torch.nn.Linear(2, 1)
    assert data_parallel(model, DistributedContext()) is model
    assert sum_over_ranks([1.5, 2.0], DistributedContext(), torch.device("cpu")) == [1.5, 2.0]


def test_ddp_on_two_gloo_processes_trains_the_single_process_model(tmp_path):
    single, single_history = run_job(tmp_path / "single", DistributedContext())
    result = run_torchrun("corrrelax_lib.testing.train_job", tmp_path / "ddp")
    assert result.returncode == 0, result.stderr[-3000:]
    weights = torch.load(tmp_path / "ddp" / "weights.pt", weights_only=True)
    # Not a no-op: the weights moved from their initialisation.
    assert not torch.allclose(single[1].weight, type(single[1])(192, 2).weight)
    for name, tensor in single.state_dict().items():
        torch.testing.assert_close(weights[name], tensor, rtol=1e-4, atol=1e-5, msg=name)
    history = pd.read_csv(tmp_path / "ddp" / "history.csv")
    assert list(history["epoch"]) == [1, 2, 3]
    pd.testing.assert_series_equal(history["train_loss"], single_history["train_loss"], rtol=1e-4)
    # Rank 0 wrote the checkpoint of the last epoch, without DDP's "module." prefix.
    checkpoint = torch.load(tmp_path / "ddp" / "checkpoint.pt", weights_only=True)
    assert len(checkpoint["history"]) == 3 and set(checkpoint["model"]) == set(weights)
    # Each rank loaded half of the draws: 3 epochs of 5 steps of 2 crops (one process: 4 crops a step).
    assert [int((tmp_path / "ddp" / f"seen-rank{r}.txt").read_text()) for r in (0, 1)] == [30, 30]
    assert int((tmp_path / "single" / "seen-rank0.txt").read_text()) == 60
    assert sorted(p.name for p in (tmp_path / "ddp").iterdir()) == [
        "checkpoint.pt", "history.csv", "seen-rank0.txt", "seen-rank1.txt", "weights.pt"]


def test_ddp_trains_a_summed_loss_as_one_process_does(tmp_path):
    """The authors' sum reduction: each rank's sum times the world size, so DDP's mean is the batch's sum
    (with weight decay beside it, a gradient of half the scale would train other weights)."""
    single, _ = run_job(tmp_path / "single", DistributedContext(), summed=True)
    result = run_torchrun("corrrelax_lib.testing.train_job", tmp_path / "ddp", "--sum")
    assert result.returncode == 0, result.stderr[-3000:]
    weights = torch.load(tmp_path / "ddp" / "weights.pt", weights_only=True)
    for name, tensor in single.state_dict().items():
        torch.testing.assert_close(weights[name], tensor, rtol=1e-4, atol=1e-5, msg=name)
