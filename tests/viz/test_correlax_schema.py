"""Figure 4 drawn from the profile parameters."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from corrrelax_lib.config import CorrelaxConfig, load_study_config
from corrrelax_lib.paths import profile_path
from corrrelax_lib.viz.correlax_schema import correlax_stages, draw_correlax_schema


def _texts(fig: Figure) -> str:
    return "\n".join(text.get_text() for ax in fig.axes for text in [*ax.texts, ax.title])


def test_schema_shows_the_paper_parameters() -> None:
    plt.switch_backend("Agg")
    params = CorrelaxConfig(window_size=256, n_masks=2560, mask_cells=8, keep_prob=0.5)
    fig = draw_correlax_schema(params, title="CorRELAX")
    try:
        texts = _texts(fig)
        for expected in ["2560 masks", "256×256 px", "8×8 Bernoulli cells", "keep p = 0.5", "Eq. 2", "Eq. 3",
                         "Eq. 4", "distance correlation", "ρ(S_h, S_ŷ)", "ρ(S_h, ŷ_M[c])", "f_extract → f_predict",
                         "X_M = X ⊙ M", "illustrative", "CorRELAX"]:
            assert expected in texts, expected
        for name, _ in correlax_stages(params):
            assert name in texts, name
    finally:
        plt.close(fig)


@pytest.mark.parametrize("profile", ["tiny", "full"])
def test_schema_draws_each_profile_with_its_mask_thumbnails(profile: str) -> None:
    plt.switch_backend("Agg")
    params = load_study_config(profile_path(profile)).correlax
    fig = draw_correlax_schema(params)
    try:
        fig.canvas.draw()
        grid, upsampled = (inset.images[0].get_array() for inset in fig.axes[0].child_axes)
        cells, size = params.mask_cells, params.window_size
        assert grid.shape == (cells, cells) and set(np.unique(grid)) <= {0.0, 1.0}
        assert upsampled.shape == (size, size)
        assert 0 <= upsampled.min() < upsampled.max() <= 1
        # Bilinear upsampling: corner pixels take their corner cell's value.
        assert upsampled[0, 0] == grid[0, 0] and upsampled[-1, -1] == grid[-1, -1]
    finally:
        plt.close(fig)
