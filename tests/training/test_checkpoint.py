"""Checkpoints load with ``weights_only=True``: plain data round-trips, a pickled object is refused."""

from __future__ import annotations

import pytest
import torch

from corrrelax_lib.training.checkpoint import load_checkpoint, save_checkpoint


class Payload:
    """Any class of our own: unpickling it would import and build it, which a weights-only load refuses."""

    def __init__(self) -> None:
        self.command = "anything"


def test_plain_data_round_trips(tmp_path):
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters())
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=3)
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    scheduler.step()
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
             "config": {"labels": ("a", "b"), "weights": None, "alpha": 0.95},
             "history": [{"epoch": 1, "train_loss": 0.5}]}
    save_checkpoint(tmp_path / "model.pt", state)
    loaded = load_checkpoint(tmp_path / "model.pt")
    assert torch.equal(loaded["model"]["weight"], model.weight.detach())
    assert loaded["config"] == state["config"] and loaded["history"] == state["history"]
    assert loaded["scheduler"]["last_epoch"] == 1


def test_a_pickled_object_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"model": torch.nn.Linear(3, 2).state_dict(), "extra": Payload()}, path)
    with pytest.raises(RuntimeError, match="refused"):
        load_checkpoint(path)


def test_a_file_that_is_not_a_checkpoint_is_named(tmp_path):
    path = tmp_path / "model.pt"
    path.write_text("not a checkpoint")
    with pytest.raises(RuntimeError, match=r"model\.pt"):
        load_checkpoint(path)
