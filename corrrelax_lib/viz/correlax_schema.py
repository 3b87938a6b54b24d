"""Figure 4: the CorRELAX workflow (paper §3.4), labelled with the profile's actual parameters."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from corrrelax_lib.config import CorrelaxConfig

# Where each stage of `correlax_stages` sits: (column, row), row 2 = unmasked path, 0 = masked path.
_POSITIONS = [(0, 2), (0, 0), (1, 0), (2, 2), (2, 0), (3, 2), (3, 0), (4, 1), (5, 1)]
# Arrows between stages, as indices into `correlax_stages`.
_ARROWS = [(0, 3), (0, 2), (1, 2), (2, 4), (3, 5), (4, 6), (5, 7), (6, 7), (7, 8)]
_BOX_WIDTH, _BOX_HEIGHT = 1.7, 1.25


def correlax_stages(correlax: CorrelaxConfig) -> list[tuple[str, list[str]]]:
    """The nine boxes of Figure 4 with their lines of text, read from a study's ``correlax`` section.

    Args:
        correlax: uses ``window_size`` (pixels), ``n_masks``, ``mask_cells`` and ``keep_prob``
            (probability that a cell is kept).

    Example:
        >>> correlax_stages(CorrelaxConfig(window_size=64, n_masks=128))[1][1][0]
        '128 masks'
    """
    size, cells = correlax.window_size, correlax.mask_cells
    return [
        ("Input window X", [f"{size}×{size} px", "X ∈ ℝ^(H×W)"]),
        ("Random masks M", [f"{correlax.n_masks} masks", f"{cells}×{cells} Bernoulli cells",
                            f"keep p = {correlax.keep_prob:g}", f"bilinear ↑ {size}×{size} px"]),
        ("Masked inputs", ["X_M = X ⊙ M", f"{correlax.n_masks} views"]),
        ("Classifier f(X|θ)", ["f_extract → f_predict"]),
        ("Classifier f(X_M|θ)", ["f_extract → f_predict", "same weights θ"]),
        ("Outputs", ["h = f_extract(X|θ) ∈ ℝ^D", "ŷ = f_predict(h|θ)"]),
        ("Masked outputs", ["h_M = f_extract(X_M|θ)", "ŷ_M = f_predict(h_M|θ)"]),
        ("Cosine similarity (Eq. 2)", ["S(A,B) = A·B / (‖A‖‖B‖)", "S_h = S(h, h_M)", "S_ŷ = S(ŷ, ŷ_M)"]),
        ("Correlations", ["distance correlation", "ρ(S_h, S_ŷ)  (Eq. 3)", "class correlation",
                          "ρ(S_h, ŷ_M[c]) per class c  (Eq. 4)"]),
    ]


def draw_correlax_schema(correlax: CorrelaxConfig, *, title: str | None = None) -> Figure:
    """Draw Figure 4 as boxes and arrows, with an illustrative mask drawn from ``correlax``.

    The unmasked window runs along the top row, its ``n_masks`` masked views along the bottom row; both
    meet in the similarities of Eq. 2 and the correlations of Eqs. 3–4. Below the masks, one random
    ``mask_cells × mask_cells`` grid (fixed seed, illustrative only) and its bilinear upsampling to
    ``window_size × window_size`` pixels show what a mask looks like.
    """
    stages = correlax_stages(correlax)
    fig, ax = plt.subplots(figsize=(13.5, 5.6))
    ax.set_xlim(-0.15, 11.9)
    ax.set_ylim(-1.5, 5.2)
    ax.axis("off")
    colours = plt.get_cmap("Blues")(np.linspace(0.2, 0.55, len(stages)))
    boxes, centres = [], []
    for (name, lines), (column, row), colour in zip(stages, _POSITIONS, colours, strict=True):
        x, y = 2 * column + 1, 1.1 + 1.4 * row
        box = FancyBboxPatch((x - _BOX_WIDTH / 2, y - _BOX_HEIGHT / 2), _BOX_WIDTH, _BOX_HEIGHT,
                             boxstyle="round,pad=0.03", facecolor=colour, edgecolor="0.3")
        ax.add_patch(box)
        boxes.append(box)
        centres.append((x, y))
        ax.text(x, y + _BOX_HEIGHT / 2 - 0.2, name, ha="center", va="center", fontsize=9, weight="bold")
        ax.text(x, y - 0.12, "\n".join(lines), ha="center", va="center", fontsize=7.5, linespacing=1.5)
    for source, target in _ARROWS:
        ax.annotate("", xy=centres[target], xytext=centres[source],
                    arrowprops={"arrowstyle": "-|>", "color": "0.2", "patchA": boxes[source],
                                "patchB": boxes[target], "shrinkA": 2, "shrinkB": 2})
    # Both classifier boxes are one model: join them with a dashed line.
    ax.annotate("", xy=centres[4], xytext=centres[3],
                arrowprops={"arrowstyle": "-", "linestyle": "--", "color": "0.4",
                            "patchA": boxes[3], "patchB": boxes[4]})
    _draw_mask_thumbnails(ax, correlax.mask_cells, correlax.keep_prob, correlax.window_size)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def _draw_mask_thumbnails(ax: Axes, cells: int, keep_prob: float, size: int, seed: int = 0) -> None:
    """Below the masks box: a random ``(cells, cells)`` keep grid and its bilinear ``(size, size)`` upsampling."""
    grid = (np.random.default_rng(seed).random((cells, cells)) < keep_prob).astype(float)
    weights = _bilinear_weights(cells, size)
    thumbnails = [(grid, f"{cells}×{cells} cells"), (weights @ grid @ weights.T, f"bilinear ↑ {size} px")]
    for i, (mask, caption) in enumerate(thumbnails):
        inset = ax.inset_axes((0.25 + 1.05 * i, -1.2, 0.8, 1.0), transform=ax.transData)
        inset.imshow(mask, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        inset.set_xticks([])
        inset.set_yticks([])
        inset.set_title(caption, fontsize=7)
    ax.text(2.35, -0.7, f"illustrative mask\n(seed {seed}):\n1 = kept, 0 = masked", fontsize=7, va="center")


def _bilinear_weights(cells: int, size: int) -> np.ndarray:
    """``(size, cells)`` linear-interpolation weights from cell centres to pixel centres (one axis)."""
    centres = np.clip((np.arange(size) + 0.5) * cells / size - 0.5, 0, cells - 1)
    return np.stack([np.interp(centres, np.arange(cells), one_hot) for one_hot in np.eye(cells)], axis=1)
