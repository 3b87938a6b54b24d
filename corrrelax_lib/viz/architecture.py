"""Figure 3: the classifier's layers as a chain of boxes, drawn from ``architecture_table``."""

from __future__ import annotations

import itertools
import math

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, Patch

HEAD_LABEL = "modified head (paper §3.3)"
H_LABEL = "feature vector h (paper §3.4)"


def _count(n: int) -> str:
    """``12.3 M``, ``4.5 k`` or the plain number."""
    return f"{n / 1e6:.1f} M" if n >= 1e6 else f"{n / 1e3:.1f} k" if n >= 1e3 else str(n)


def _details(row: pd.Series) -> str:
    """Shape and parameter lines of one box, e.g. ``"24 ch · 128×128\\n10.5 k params"``."""
    shape = f"{row['channels']}-d" if row["size"] == "—" else f"{row['channels']} ch · {row['size']}"
    return f"{shape}\n{_count(int(row['parameters']))} params" if row["parameters"] else shape


def plot_architecture(table: pd.DataFrame, title: str, *, boxes_per_line: int = 8) -> Figure:
    """Draw the classifier of ``table`` as boxes in reading order, one per row (paper Figure 3).

    Boxes run left to right, then right to left on the next line (a snake), so that ~30 rows
    stay legible. Each box shows the block, its output channels and size, and its parameters;
    the backbone is blue, ``h`` green and the paper's replaced head orange.

    Args:
        table: from ``corrrelax_lib.models.architecture.architecture_table``.
        title: figure title, e.g. the backbone's display name and input size.
        boxes_per_line: boxes on each line of the snake.
    """
    n_rows = len(table)
    per_line = min(boxes_per_line, n_rows)
    n_lines = math.ceil(n_rows / per_line)
    fig, ax = plt.subplots(figsize=(1.95 * per_line, 1.5 * n_lines + 0.9))
    ax.set_xlim(0, per_line)
    ax.set_ylim(n_lines, 0)
    ax.axis("off")
    backbone_colours = plt.get_cmap("Blues")([0.15 + 0.45 * i / max(n_rows - 1, 1) for i in range(n_rows)])
    head_colour, h_colour = plt.get_cmap("Oranges")(0.35), plt.get_cmap("Greens")(0.35)

    centres = []
    for i, (_, row) in enumerate(table.iterrows()):
        line, position = divmod(i, per_line)
        column = position if line % 2 == 0 else per_line - 1 - position
        x, y = column + 0.5, line + 0.5
        centres.append((x, y))
        colour = head_colour if row["stage"] == "head" else h_colour if row["stage"] == "h" else backbone_colours[i]
        ax.add_patch(FancyBboxPatch((x - 0.43, y - 0.38), 0.86, 0.76, boxstyle="round,pad=0.02",
                                    facecolor=colour, edgecolor="0.3"))
        ax.text(x, y - 0.33, row["stage"], ha="center", va="top", fontsize=6.5, color="0.35")
        ax.text(x, y - 0.05, row["block"].replace(" + ", "\n+ "), ha="center", va="center", fontsize=7,
                weight="bold", linespacing=1.2)
        ax.text(x, y + 0.33, _details(row), ha="center", va="bottom", fontsize=6.5, linespacing=1.3)

    # Arrows between consecutive boxes: sideways along a line, downwards at its end.
    for (x0, y0), (x1, y1) in itertools.pairwise(centres):
        if y0 == y1:
            step = 0.45 if x1 > x0 else -0.45
            start, end = (x0 + step, y0), (x1 - step, y1)
        else:
            start, end = (x0, y0 + 0.4), (x1, y1 - 0.4)
        ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "-|>", "color": "0.2"})

    legend = [Patch(facecolor=backbone_colours[n_rows // 2], edgecolor="0.3", label="torchvision backbone"),
              Patch(facecolor=h_colour, edgecolor="0.3", label=H_LABEL),
              Patch(facecolor=head_colour, edgecolor="0.3", label=HEAD_LABEL)]
    ax.legend(handles=legend, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, frameon=False, fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
