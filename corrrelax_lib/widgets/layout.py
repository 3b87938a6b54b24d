"""Layouts of the panels' rows and columns that look the same in JupyterLab, Voilà and the static book.

A row holds fixed-width columns of controls (sliders, dropdowns and buttons are 300 px wide with their
descriptions) beside figures that take the rest of the row, and wraps onto the next line on a narrow page.
Without explicit widths, Voilà gives a figure's ``Output`` the whole row and a column beside it no width at all.

Example:
    >>> controls = ipywidgets.VBox([slider, table], layout=fixed(CONTROLS_WIDTH))  # doctest: +SKIP
    >>> row([controls, ipywidgets.Output(layout=flexible())])  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets

#: Width of a column of controls: a 300-px slider, dropdown or combobox, or two buttons, and a margin.
CONTROLS_WIDTH = "340px"
#: Narrowest a figure's column gets before the row wraps.
FIGURE_MIN_WIDTH = "320px"


def row(children: Sequence[ipywidgets.Widget]) -> ipywidgets.HBox:
    """Widgets side by side, top-aligned; on a page too narrow for them they wrap onto the next line."""
    return ipywidgets.HBox(list(children), layout=ipywidgets.Layout(flex_flow="row wrap", align_items="flex-start"))


def fixed(width: str) -> ipywidgets.Layout:
    """The layout of a column ``width`` wide (CSS, e.g. ``"340px"``) that neither shrinks nor grows in its row."""
    return ipywidgets.Layout(width=width, min_width=width, flex="0 0 auto")


def flexible() -> ipywidgets.Layout:
    """The layout of a figure's column: the rest of its row, at least :data:`FIGURE_MIN_WIDTH` (else it wraps)."""
    return ipywidgets.Layout(flex="1 1 0%", min_width=FIGURE_MIN_WIDTH, align_items="flex-start")
