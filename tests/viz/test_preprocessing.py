"""Figure 2's plot: one labelled row per mammogram, the credit line under it."""

from __future__ import annotations

import matplotlib.pyplot as plt

from corrrelax_lib.preprocess.pipeline import preprocessing_steps
from corrrelax_lib.testing.dicom import breast_like_image, write_test_dicom
from corrrelax_lib.viz.preprocessing import plot_preprocessing_steps


def test_one_labelled_row_per_mammogram_and_the_credit(tmp_path):
    steps = preprocessing_steps(write_test_dicom(tmp_path / "a.dicom", breast_like_image(128, 96), bits_stored=12))
    figure = plot_preprocessing_steps({"REAL scan": steps, "SYNTHETIC phantom": steps}, (1.0, 2.0),
                                      credit="CC BY 3.0, somewhere")
    assert len(figure.axes) == 2 * 5
    texts = {text.get_text() for ax in figure.axes for text in ax.texts} | {t.get_text() for t in figure.texts}
    assert {"REAL scan", "SYNTHETIC phantom", "CC BY 3.0, somewhere"} <= texts
    assert figure.axes[0].get_title() == "normalised, full, 96 x 128 px"
    plt.close(figure)
