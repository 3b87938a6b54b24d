"""The layer table of Figure 3, read from the model by hooks."""

from __future__ import annotations

import pandas as pd
import pytest

from corrrelax_lib.models.architecture import architecture_table
from corrrelax_lib.models.classifier import MultiLabelClassifier


def n_parameters(model: MultiLabelClassifier) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(scope="module")
def efficientnet() -> tuple[MultiLabelClassifier, pd.DataFrame]:
    model = MultiLabelClassifier("efficientnet_v2_s", n_labels=4)
    return model, architecture_table(model, input_size=256)


def test_efficientnet_v2_stages(efficientnet: tuple[MultiLabelClassifier, pd.DataFrame]) -> None:
    _, table = efficientnet
    blocks = table[table.block.str.contains("MBConv")]
    assert blocks.block.tolist() == [
        "FusedMBConv ×2", "FusedMBConv ×4", "FusedMBConv ×4", "MBConv ×6", "MBConv ×9", "MBConv ×15",
    ]
    assert blocks.channels.tolist() == [24, 48, 64, 128, 160, 256]
    assert blocks["size"].tolist() == ["128×128", "64×64", "32×32", "16×16", "16×16", "8×8"]
    stem, final_conv = table.iloc[blocks.index[0] - 1], table.iloc[blocks.index[-1] + 1]
    assert (stem.block, stem.channels, stem["size"]) == ("Conv2dNormActivation", 24, "128×128")
    assert (final_conv.block, final_conv.channels, final_conv["size"]) == ("Conv2dNormActivation", 1280, "8×8")
    h = table[table.stage == "h"].squeeze()
    assert (h.channels, h["size"]) == (1280, "—")


def test_efficientnet_v2_head(efficientnet: tuple[MultiLabelClassifier, pd.DataFrame]) -> None:
    _, table = efficientnet
    head = table[table.stage == "head"]
    assert head.block.tolist() == ["Dropout p=0.5", "Linear 512", "ReLU", "Linear 4", "Sigmoid"]
    assert head.channels.tolist() == [1280, 512, 512, 4, 4]
    assert table.block.iloc[-1] == "Sigmoid"


def test_parameters_add_up(efficientnet: tuple[MultiLabelClassifier, pd.DataFrame]) -> None:
    model, table = efficientnet
    assert table.parameters.sum() == n_parameters(model)
    assert model.training  # the dummy pass restores the training mode


def test_resnet18_stages() -> None:
    model = MultiLabelClassifier("resnet18", n_labels=3)
    table = architecture_table(model, input_size=64)
    assert table.block.tolist()[1:7] == ["Conv2d + BatchNorm2d + ReLU", "MaxPool2d"] + ["BasicBlock ×2"] * 4
    assert table[table.block == "BasicBlock ×2"].channels.tolist() == [64, 128, 256, 512]
    assert table.parameters.sum() == n_parameters(model)


def test_swin_channels_last_stages() -> None:
    model = MultiLabelClassifier("swin_t", n_labels=4)
    table = architecture_table(model, input_size=64)
    body = table[table.stage.str.startswith("stage")]
    assert body.channels.tolist() == [96, 96, 192, 192, 384, 384, 768, 768]
    assert body["size"].tolist() == ["16×16", "16×16", "8×8", "8×8", "4×4", "4×4", "2×2", "2×2"]
    assert table.parameters.sum() == n_parameters(model)
