"""Figure 1: the paper's pipeline schema, labelled with the study's actual settings."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from corrrelax_lib.config import StudyConfig


def pipeline_stages(config: StudyConfig) -> list[tuple[str, list[str]]]:
    """The six stages of Figure 1 with one line per setting, read from a study's config."""
    preprocessing, classifier, correlax = config.preprocessing, config.classifier, config.correlax
    clips = ", ".join(f"{c:g}" for c in preprocessing.clahe_clip_limits)
    tiles = preprocessing.clahe_tile_grid
    return [
        ("Preprocessing", [f"CLAHE clip {clips}", f"{tiles}×{tiles} tiles, fused", "Otsu breast ROI"]),
        ("Crop sampling", [
            f"scale {classifier.crop_scale[0]:g}–{classifier.crop_scale[1]:g}× box",
            f"aspect {classifier.crop_aspect[0]:g}–{classifier.crop_aspect[1]:g}",
            f"resize {classifier.crop_size} px",
        ]),
        ("Classifier", [
            classifier.backbone,
            f"focal α={classifier.focal_alpha:g}, γ={classifier.focal_gamma:g}",
            f"{classifier.epochs} epochs, batch {classifier.batch_size}",
        ]),
        ("Sliding windows", [f"window {correlax.window_size} px", f"stride {correlax.stride} px",
                             "features h, prediction ŷ"]),
        ("CorRELAX", [f"{correlax.n_masks} masks", f"{correlax.mask_cells}×{correlax.mask_cells} cells, "
                      f"keep {correlax.keep_prob:g}", "ρ(S_h, S_ŷ), ρ(S_h, ŷ_M)"]),
        ("Maps", ["IoU-kernel smoothing", "per-class heatmaps", f"pointing game ±{config.pointing_game.tolerance} px"]),
    ]


def draw_pipeline_schema(config: StudyConfig, *, title: str | None = None) -> Figure:
    """Draw Figure 1 as boxes and arrows; every number comes from ``config``."""
    stages = pipeline_stages(config)
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
