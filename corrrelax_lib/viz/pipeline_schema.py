"""Figure 1: the paper's pipeline schema, labelled with the profile's actual parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch


def pipeline_stages(params: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """The six stages of Figure 1 with one line per parameter, read from ``params``.

    Args:
        params: a profile's notebook parameters (``book/profiles/<name>.yml``).
    """
    clips = ", ".join(f"{c:g}" for c in params["clahe_clip_limits"])
    tiles = params["clahe_tile_grid"]
    return [
        ("Preprocessing", [f"CLAHE clip {clips}", f"{tiles}×{tiles} tiles, fused", "Otsu breast ROI"]),
        ("Crop sampling", [
            f"scale {params['crop_scale'][0]:g}–{params['crop_scale'][1]:g}× box",
            f"aspect {params['crop_aspect'][0]:g}–{params['crop_aspect'][1]:g}",
            f"resize {params['crop_size']} px",
        ]),
        ("Classifier", [
            params["backbone"],
            f"focal α={params['focal_alpha']:g}, γ={params['focal_gamma']:g}",
            f"{params['epochs']} epochs, batch {params['batch_size']}",
        ]),
        ("Sliding windows", [f"window {params['window_size']} px", f"stride {params['stride']} px",
                             "features h, prediction ŷ"]),
        ("CorRELAX", [f"{params['n_masks']} masks", f"{params['mask_cells']}×{params['mask_cells']} cells, "
                      f"keep {params['keep_prob']:g}", "ρ(S_h, S_ŷ), ρ(S_h, ŷ_M)"]),
        ("Maps", ["IoU-kernel smoothing", "per-class heatmaps", f"pointing game ±{params['stride']} px"]),
    ]


def draw_pipeline_schema(params: Mapping[str, Any], *, title: str | None = None) -> Figure:
    """Draw Figure 1 as boxes and arrows; every number comes from ``params``."""
    stages = pipeline_stages(params)
    fig, ax = plt.subplots(figsize=(2.3 * len(stages), 2.6))
    ax.set_xlim(0, len(stages))
    ax.set_ylim(0, 1)
    ax.axis("off")
    colours = plt.get_cmap("Blues")([0.25 + 0.1 * i for i in range(len(stages))])
    for i, ((name, lines), colour) in enumerate(zip(stages, colours, strict=True)):
        ax.add_patch(FancyBboxPatch((i + 0.06, 0.1), 0.78, 0.8, boxstyle="round,pad=0.02",
                                    facecolor=colour, edgecolor="0.3"))
        ax.text(i + 0.45, 0.78, name, ha="center", va="center", fontsize=10, weight="bold")
        ax.text(i + 0.45, 0.42, "\n".join(lines), ha="center", va="center", fontsize=8, linespacing=1.6)
        if i + 1 < len(stages):
            ax.annotate("", xy=(i + 1.05, 0.5), xytext=(i + 0.86, 0.5),
                        arrowprops={"arrowstyle": "-|>", "color": "0.2"})
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
