"""The baselines chapter's figure: every method's map of the same images, side by side."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from corrrelax_lib.pipeline.annotated_images import AnnotatedImage
from corrrelax_lib.pipeline.method_comparison import MethodMaps
from corrrelax_lib.viz.correlax_maps import _draw_label_map, _figsize, _greyscale


def plot_method_grid(
    images: Sequence[AnnotatedImage], labels: Sequence[str], methods: Sequence[MethodMaps], *, title: str,
) -> Figure:
    """One row per (image, label) pair, one column per method: the method's map of that label over the image,
    the label's boxes, and a dot at the map's maximum (the pointing game's guess).

    Probability maps share a [0, 1] scale; other maps are drawn on a symmetric scale of their own
    largest magnitude, since their units differ from method to method.

    Args:
        images: the images, one row each.
        labels: the label shown in each row (one of the image's labels with boxes).
        methods: the columns, in order.
        title: the figure's title.
    """
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels: one label per row")
    fig, axes = plt.subplots(len(images), len(methods), squeeze=False,
                             figsize=_figsize(images[0].image, len(images), len(methods)))
    for row, (image, label) in enumerate(zip(images, labels, strict=True)):
        grey = _greyscale(image.image)
        for column, method in enumerate(methods):
            ax = axes[row, column]
            kind = "prediction" if method.probability_maps else "signed"
            _draw_label_map(ax, grey, method.pixel_map(image.image_id, label), kind,
                            image.boxes_by_label.get(label), "C2")
            ax.set_title(method.name if row == 0 else "", fontsize=7)
        axes[row, 0].text(-0.08, 0.5, f"{image.image_id[:8]}\n{label}", transform=axes[row, 0].transAxes,
                          rotation=90, ha="right", va="center", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
