"""Figure 3 drawn from the layer table."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from corrrelax_lib.models.architecture import architecture_table
from corrrelax_lib.models.classifier import MultiLabelClassifier
from corrrelax_lib.viz.architecture import HEAD_LABEL, plot_architecture


def test_plot_architecture_shows_every_row() -> None:
    plt.switch_backend("Agg")
    table = architecture_table(MultiLabelClassifier("resnet18", n_labels=4), input_size=64)
    fig = plot_architecture(table, "ResNet18, 64×64")
    try:
        assert isinstance(fig, Figure)
        ax = fig.axes[0]
        texts = [text.get_text().replace("\n", " ") for text in ax.texts]
        for block in table.block:
            assert any(block in text for text in texts), block
        assert HEAD_LABEL in [text.get_text() for text in ax.get_legend().get_texts()]
        assert ax.get_title() == "ResNet18, 64×64"
    finally:
        plt.close(fig)
