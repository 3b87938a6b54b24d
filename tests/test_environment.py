"""The torch/torchvision pair must work: fail loudly if torchvision.ops cannot load."""

from corrrelax_lib.environment import check_torchvision_ops


def test_torchvision_ops_load():
    assert "torchvision.ops OK" in check_torchvision_ops()
