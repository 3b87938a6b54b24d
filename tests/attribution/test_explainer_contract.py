"""The contract every explainer keeps (:mod:`corrrelax_lib.attribution.explainer`), checked for every method.

Same ROI input → the explainer's result type, ``(H, W)`` maps of every kind and label, values finite inside the
breast and NaN where the method documents it (outside the breast for whole-ROI methods, outside the kept windows
for window-wise ones, nowhere for neuron maps), the same maps for the same seed, a JSON cache key, a result that
reads back from its ``.npz``, and an :class:`EmptyBreastError` for a ROI without breast.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

from corrrelax_lib.attribution import BASELINES
from corrrelax_lib.attribution.correlax import CorRELAX
from corrrelax_lib.attribution.explainer import Explainer, Explanation, prepare_roi
from corrrelax_lib.attribution.lem_map import LEM, LEMScoreMap
from corrrelax_lib.attribution.neuron_maps import NeuronActivations
from corrrelax_lib.io.artifacts import parameters_key
from corrrelax_lib.models.classifier import MultiLabelClassifier
from corrrelax_lib.models.lem import LEMClassifier
from corrrelax_lib.preprocess.roi import EmptyBreastError

LABELS = ("a", "b")
HEIGHT, WIDTH = 96, 80
GRID = {"window_size": 32, "stride": 16, "min_foreground": 0.5}
MASKS = {"n_masks": 16, "mask_cells": 4}


def _classifier() -> MultiLabelClassifier:
    torch.manual_seed(0)
    return MultiLabelClassifier("small_cnn", len(LABELS)).eval()


def _lem_model() -> LEMClassifier:
    torch.manual_seed(0)
    return LEMClassifier("small_cnn", n_labels=len(LABELS)).eval()


def _baseline(name: str, mode: str) -> Callable[[int], Explainer]:
    masking = MASKS if name in ("RISE", "RELAX") else {}
    return lambda seed: BASELINES[name](_classifier(), LABELS, mode=mode, image_size=64, batch_size=16, seed=seed,
                                        progress=False, **GRID, **masking)


#: name → (explainer of a seed, where its maps are NaN: "breast" (exactly outside it), "windows", "nowhere").
EXPLAINERS: dict[str, tuple[Callable[[int], Explainer], str]] = {
    "CorRELAX": (lambda seed: CorRELAX(_classifier(), LABELS, seed=seed, mask_chunk=8, progress=False,
                                       **GRID, **MASKS), "windows"),
    **{f"{name} (whole)": (_baseline(name, "whole"), "breast") for name in BASELINES},
    **{f"{name} (windows)": (_baseline(name, "windows"), "windows") for name in ("Grad-CAM", "RISE", "RELAX")},
    "LEM": (lambda seed: LEM(_lem_model(), LABELS, (64, 48)), "breast"),
    "LEM score map": (lambda seed: LEMScoreMap(_lem_model(), LABELS, (64, 48)), "breast"),
    "Neurons": (lambda seed: NeuronActivations(_classifier(), image_size=64), "nowhere"),
}


@pytest.fixture(scope="module")
def roi() -> tuple[np.ndarray, np.ndarray]:
    """A random uint8 ROI and its breast: the left two thirds."""
    image = (np.random.default_rng(0).random((HEIGHT, WIDTH, 3)) * 255).astype(np.uint8)
    foreground = np.zeros((HEIGHT, WIDTH), bool)
    foreground[:, : 2 * WIDTH // 3] = True
    return image, foreground


def _all_maps(result: Explanation) -> dict[tuple[str, str], np.ndarray]:
    return {(kind, label): result.pixel_map(kind, label) for kind in result.kinds for label in result.labels}


@pytest.mark.parametrize("name", list(EXPLAINERS))
def test_every_explainer_keeps_the_contract(name: str, roi: tuple[np.ndarray, np.ndarray], tmp_path) -> None:
    make, undefined = EXPLAINERS[name]
    image, foreground = roi
    explainer = make(0)
    result = explainer.explain(image, foreground)

    assert isinstance(result, Explanation) and type(result) is explainer.result_type
    assert result.method == explainer.method and result.seconds >= 0 and len(result.labels) > 0
    assert len(parameters_key(explainer.parameters)) == 12  # JSON-serialisable: the cache key
    maps = _all_maps(result)
    for (kind, label), heatmap in maps.items():
        assert heatmap.shape == (HEIGHT, WIDTH) and heatmap.dtype == np.float64, (kind, label)
        assert not np.isinf(heatmap).any()
        core = np.zeros_like(foreground)
        core[:, : WIDTH // 3] = True  # well inside the breast: every method has a value here
        assert np.isfinite(heatmap[core]).all(), (kind, label)
        if undefined == "breast":
            assert np.isnan(heatmap[~foreground]).all() and np.isfinite(heatmap[foreground]).all()
        elif undefined == "windows":
            assert np.isnan(heatmap[:, -8:]).all()  # far from the breast no window was kept
        else:
            assert np.isfinite(heatmap).all()
    for extra in result.extra.values():
        assert extra.shape == (HEIGHT, WIDTH)

    # The same image as floats in [0, 1] is the same input; the same seed gives the same maps.
    again = make(0).explain(image.astype(np.float32) / 255, foreground)
    for key, heatmap in _all_maps(again).items():
        np.testing.assert_allclose(heatmap, maps[key], rtol=1e-5, atol=1e-6, equal_nan=True, err_msg=str(key))

    # The result reads back from its npz as it was.
    result.save(tmp_path / "result.npz")
    loaded = explainer.result_type.load(tmp_path / "result.npz")
    for key, heatmap in _all_maps(loaded).items():
        np.testing.assert_array_equal(heatmap, maps[key], err_msg=str(key))
    assert loaded.extra.keys() == result.extra.keys() and loaded.metadata == result.metadata

    with pytest.raises(EmptyBreastError):
        explainer.explain(image, np.zeros_like(foreground))
    with pytest.raises(EmptyBreastError):
        explainer.explain(np.zeros_like(image))  # no breast for the default mask to find


def test_the_preparation_names_bad_inputs() -> None:
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        prepare_roi(np.zeros((8, 8)), np.ones((8, 8), bool))
    with pytest.raises(ValueError, match="breast mask has shape"):
        prepare_roi(np.zeros((8, 8, 3)), np.ones((8, 9), bool))
    roi = prepare_roi(np.full((8, 8, 3), 255, np.uint8), np.ones((8, 8), bool))
    with pytest.raises(EmptyBreastError, match="no window"):
        roi.windows(4, 2, 0.5, selection=np.zeros((3, 3), bool))
    with pytest.raises(ValueError, match="window selection"):
        roi.windows(4, 2, 0.5, selection=np.ones((2, 2), bool))
    np.testing.assert_array_equal(roi.pixels, 1.0)
    assert roi.resized(4).shape == (3, 4, 4) and roi.resized((2, 6)).shape == (3, 2, 6)
