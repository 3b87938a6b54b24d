"""Show: interactive ipywidgets panels over computed results."""

from corrrelax_lib.widgets.correlax_panel import CorrelaxPanel

__all__ = ["CorrelaxPanel"]
