from dataclasses import replace

import numpy as np
import pytest
import torch

from corrrelax_lib.attribution.adaptive import AdaptiveMasks
from corrrelax_lib.attribution.correlax import CorRELAX, window_correlations
from corrrelax_lib.attribution.correlax_maps import CorrelaxMaps
from corrrelax_lib.metrics.pointing_game import hit, predicted_location
from corrrelax_lib.preprocess.roi import EmptyBreastError
from corrrelax_lib.testing.models import CentreWeightedBrightness, QuadrantMeans

LABELS = ("a", "b", "c")


def _reference(h, y, h_masked, y_masked):
    """Eq. 2-4 written out in float64 numpy."""
    def cosine(a, b):
        return (b @ a) / (np.linalg.norm(a) * np.linalg.norm(b, axis=1))

    def pearson(u, v):
        n = len(u)
        return (n * (u * v).sum() - u.sum() * v.sum()) / (
            np.sqrt(n * (u**2).sum() - u.sum() ** 2) * np.sqrt(n * (v**2).sum() - v.sum() ** 2))

    s_h, s_y = cosine(h, h_masked), cosine(y, y_masked)
    return pearson(s_h, s_y), np.array([pearson(s_h, y_masked[:, c]) for c in range(y_masked.shape[1])])


def _model(seed=0):
    generator = torch.Generator().manual_seed(seed)
    weight, bias = torch.randn(4, len(LABELS), generator=generator), torch.randn(len(LABELS), generator=generator)
    return QuadrantMeans(weight, bias)


def _image(height=40, width=56, seed=0):
    return np.random.default_rng(seed).random((height, width, 3))


def _explainer(**options):
    settings = {"window_size": 16, "stride": 8, "n_masks": 48, "mask_chunk": 16, "batch_size": 64,
                "progress": False, **options}
    return CorRELAX(_model(), LABELS, **settings)


def _everywhere(image):
    return np.ones(image.shape[:2], dtype=bool)


def test_window_correlations_match_float64_equations_on_random_data():
    rng = np.random.default_rng(1)
    h, y = rng.random(16), rng.random(5)
    h_masked, y_masked = h * rng.random((300, 16)), rng.random((300, 5))
    rho_dist, rho_class = window_correlations(h, y, h_masked, y_masked)
    expected_dist, expected_class = _reference(h, y, h_masked, y_masked)
    assert rho_dist == pytest.approx(expected_dist, rel=1e-10)
    np.testing.assert_allclose(rho_class, expected_class, rtol=1e-10)


def test_window_correlations_accept_tensors_and_flag_zero_variance_as_nan():
    rng = np.random.default_rng(2)
    h, y, h_masked, y_masked = rng.random(8), rng.random(3), rng.random((50, 8)), rng.random((50, 3))
    y_masked[:, 1] = 0.3
    rho_dist, rho_class = window_correlations(*(torch.as_tensor(a) for a in (h, y, h_masked, y_masked)))
    assert np.isnan(rho_class[1]) and np.isfinite(rho_class[[0, 2]]).all() and np.isfinite(rho_dist)


def test_one_label_makes_the_distance_correlation_undefined():
    rng = np.random.default_rng(3)
    rho_dist, rho_class = window_correlations(rng.random(8), rng.random(1), rng.random((40, 8)), rng.random((40, 1)))
    assert np.isnan(rho_dist) and np.isfinite(rho_class[0])  # the cosine of two positive scalars is always 1


def test_engine_equals_window_correlations_on_the_same_masks():
    explainer = _explainer()
    image = _image()
    maps = explainer.explain(image, _everywhere(image))
    masks = explainer.masks[0:48]
    model = explainer.model
    for row, col in [(0, 0), (2, 3), (3, 5)]:
        window = torch.as_tensor(image[row * 8:row * 8 + 16, col * 8:col * 8 + 16].transpose(2, 0, 1),
                                 dtype=torch.float32)[None]
        h, logits = model.features_and_logits(window)
        h_masked, logits_masked = model.features_and_logits(window * masks)
        rho_dist, rho_class = window_correlations(h[0], torch.sigmoid(logits[0].double()), h_masked,
                                                  torch.sigmoid(logits_masked.double()))
        # float32 reductions inside the model depend on the batch shape: agreement to ~1e-7, not bitwise
        assert maps.window_rho_dist[row, col] == pytest.approx(rho_dist, abs=1e-5)
        np.testing.assert_allclose(maps.window_rho_class[:, row, col], rho_class, atol=1e-5)
        np.testing.assert_allclose(maps.window_predictions[:, row, col], torch.sigmoid(logits[0]).numpy(), atol=1e-7)


@pytest.mark.parametrize("batch_size", [1, 7, 100, 5000])
def test_engine_does_not_depend_on_batch_size(batch_size):
    image = _image()
    reference = _explainer().explain(image, _everywhere(image))
    maps = _explainer(batch_size=batch_size).explain(image, _everywhere(image))
    np.testing.assert_allclose(maps.window_rho_dist, reference.window_rho_dist, atol=1e-9)
    np.testing.assert_allclose(maps.window_rho_class, reference.window_rho_class, atol=1e-9)


def test_unmasked_inputs_have_zero_variance_and_give_nan_not_zero():
    image = _image()
    maps = _explainer(keep_prob=1.0).explain(image, _everywhere(image))
    assert np.isnan(maps.window_rho_dist).all() and np.isnan(maps.window_rho_class).all()
    assert np.isfinite(maps.window_predictions).all()


def test_background_windows_are_skipped_and_missing():
    image = _image()
    foreground = np.zeros(image.shape[:2], dtype=bool)
    foreground[:, :20] = True  # windows starting at x >= 24 hold no breast
    maps = _explainer(min_foreground=0.05).explain(image, foreground)
    assert (maps.masks_used[:, 3:] == 0).all() and np.isnan(maps.window_rho_dist[:, 3:]).all()
    assert (maps.masks_used[:, :3] == 48).all() and np.isfinite(maps.window_rho_dist[:, :3]).all()
    assert maps.metadata["windows"] == 3 * maps.grid.n_rows


def test_checkpoints_equal_a_run_with_fewer_masks():
    image = _image()
    maps = _explainer(checkpoints=[16, 32]).explain(image, _everywhere(image))
    fewer = _explainer(n_masks=16).explain(image, _everywhere(image))
    np.testing.assert_allclose(maps.rho_dist_at[16], fewer.window_rho_dist, atol=1e-9)
    np.testing.assert_allclose(maps.rho_class_at[16], fewer.window_rho_class, atol=1e-9)
    np.testing.assert_allclose(maps.rho_dist_at[32], maps.window_rho_dist, atol=0.5)
    assert sorted(maps.rho_dist_at) == [16, 32]


def test_adaptive_masks_stop_between_min_and_max():
    image = _image()
    loose = _explainer(adaptive=AdaptiveMasks(tolerance=10.0, min_masks=16)).explain(image, _everywhere(image))
    strict = _explainer(adaptive=AdaptiveMasks(tolerance=0.0, min_masks=16)).explain(image, _everywhere(image))
    assert (loose.masks_used == 16).all() and (strict.masks_used == 48).all()
    fixed = _explainer(checkpoints=[16]).explain(image, _everywhere(image))
    np.testing.assert_allclose(loose.window_rho_dist, fixed.rho_dist_at[16], atol=1e-9)


def test_window_selection_computes_only_the_selected_windows():
    image = _image()
    explainer = _explainer()
    selection = np.zeros((4, 6), dtype=bool)
    selection[1, 2] = True
    maps = explainer.explain(image, _everywhere(image), windows=selection)
    full = explainer.explain(image, _everywhere(image))
    assert np.isfinite(maps.window_rho_dist).sum() == 1
    assert maps.window_rho_dist[1, 2] == pytest.approx(full.window_rho_dist[1, 2], abs=1e-9)
    with pytest.raises(ValueError, match="grid"):
        explainer.explain(image, _everywhere(image), windows=np.ones((2, 2), dtype=bool))


class _SmallMemoryModel(torch.nn.Module):
    """Raises CUDA's out-of-memory error on batches above ``limit``."""

    def __init__(self, inner, limit):
        super().__init__()
        self.inner, self.limit = inner, limit

    def features_and_logits(self, x):
        if len(x) > self.limit:
            raise torch.OutOfMemoryError(f"batch {len(x)} > {self.limit}")
        return self.inner.features_and_logits(x)


def test_out_of_memory_halves_the_batch_and_keeps_the_results():
    image = _image()
    reference = _explainer().explain(image, _everywhere(image))
    small = CorRELAX(_SmallMemoryModel(_model(), limit=10), LABELS, window_size=16, stride=8, n_masks=48,
                     mask_chunk=16, batch_size=64, progress=False)
    maps = small.explain(image, _everywhere(image))
    assert maps.metadata["batch_size"] <= 10
    np.testing.assert_allclose(maps.window_rho_class, reference.window_rho_class, atol=1e-9)


def test_maps_save_and_load_round_trip(tmp_path):
    image = _image()
    maps = _explainer(checkpoints=[16]).explain(image, _everywhere(image))
    maps.save(tmp_path / "maps.npz")
    loaded = CorrelaxMaps.load(tmp_path / "maps.npz")
    assert loaded.labels == maps.labels and loaded.grid == maps.grid and loaded.metadata == maps.metadata
    for kind in ("prediction", "correlation", "product"):
        np.testing.assert_array_equal(loaded.pixel_map(kind, "b"), maps.pixel_map(kind, "b"))
    np.testing.assert_array_equal(loaded.rho_class_at[16], maps.rho_class_at[16])
    assert [p.name for p in tmp_path.iterdir()] == ["maps.npz"]


def test_map_kinds():
    image = _image()
    maps = _explainer().explain(image, _everywhere(image))
    product = maps.window_map("product", "a")
    np.testing.assert_allclose(product, maps.window_map("prediction", "a") * maps.window_map("correlation", "a"))
    assert maps.pixel_map("distance").shape == image.shape[:2]
    with pytest.raises(ValueError, match="kind"):
        maps.window_map("saliency", "a")
    with pytest.raises(ValueError, match="label"):
        maps.window_map("prediction", "z")


def test_bad_inputs_raise_clear_errors():
    image = _image()
    with pytest.raises(EmptyBreastError, match="breast"):
        _explainer().explain(image, np.zeros(image.shape[:2], dtype=bool))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        _explainer().explain(image[..., 0], _everywhere(image))


def test_uint8_images_are_scaled_to_unit_range():
    image = (_image() * 255).astype(np.uint8)
    as_uint8 = _explainer().explain(image, _everywhere(image))
    as_float = _explainer().explain(image / 255.0, _everywhere(image))
    np.testing.assert_allclose(as_uint8.window_predictions, as_float.window_predictions, atol=1e-6)


@pytest.mark.parametrize("border", ["left", "top"])
def test_a_bright_finding_near_the_border_is_hit_at_the_papers_offset(border):
    # A bright 50-px finding 60-110 px from the left (or top) border of a 600 x 500 ROI, at the paper's
    # 256 / 48 grid: its strongest window is the first column (row), centred 127.5 px from the border.
    image = np.zeros((600, 500, 3), dtype=np.float32)
    box = [60, 275, 110, 325] if border == "left" else [225, 60, 275, 110]
    x0, y0, x1, y1 = box
    image[y0:y1, x0:x1] = 1.0
    explainer = CorRELAX(CentreWeightedBrightness(), ["Finding"], window_size=256, stride=48, n_masks=16,
                         mask_chunk=16, batch_size=64, progress=False)
    maps = explainer.explain(image, foreground=np.ones(image.shape[:2], bool))
    prediction = maps.pixel_map("prediction", "Finding")
    y, x = predicted_location(prediction)
    assert (x if border == "left" else y) == 127, "the first window's centre, not the border pixel 0"
    assert hit(prediction, [box], tolerance=48, threshold=0.5)


# The options that follow the authors' code.

def test_fresh_masks_equal_window_correlations_on_each_windows_own_masks():
    explainer = _explainer(mask_sharing="per_window")
    image = _image()
    maps = explainer.explain(image, _everywhere(image))
    model = explainer.model
    for row, col in [(0, 0), (2, 3), (3, 5)]:
        masks = explainer.masks.of(torch.full((48,), row * 6 + col), torch.arange(48))  # its grid index
        window = torch.as_tensor(image[row * 8:row * 8 + 16, col * 8:col * 8 + 16].transpose(2, 0, 1),
                                 dtype=torch.float32)[None]
        h, logits = model.features_and_logits(window)
        h_masked, logits_masked = model.features_and_logits(window * masks)
        rho_dist, rho_class = window_correlations(h[0], torch.sigmoid(logits[0].double()), h_masked,
                                                  torch.sigmoid(logits_masked.double()))
        assert maps.window_rho_dist[row, col] == pytest.approx(rho_dist, abs=1e-5)
        np.testing.assert_allclose(maps.window_rho_class[:, row, col], rho_class, atol=1e-5)


def test_fresh_masks_move_the_correlations_and_reproduce_whatever_the_batching():
    image = _image()
    shared = _explainer().explain(image, _everywhere(image))
    fresh = _explainer(mask_sharing="per_window").explain(image, _everywhere(image))
    np.testing.assert_array_equal(fresh.window_predictions, shared.window_predictions)
    assert np.abs(fresh.window_rho_dist - shared.window_rho_dist).max() > 0.05
    for options in ({}, {"batch_size": 7}, {"mask_chunk": 48}, {"batch_size": 5000, "mask_chunk": 8}):
        again = _explainer(mask_sharing="per_window", **options).explain(image, _everywhere(image))
        np.testing.assert_allclose(again.window_rho_dist, fresh.window_rho_dist, rtol=0, atol=1e-9)
        np.testing.assert_allclose(again.window_rho_class, fresh.window_rho_class, rtol=0, atol=1e-9)
    selection = np.zeros((4, 6), dtype=bool)
    selection[2, 3] = True
    alone = _explainer(mask_sharing="per_window").explain(image, _everywhere(image), windows=selection)
    assert alone.window_rho_dist[2, 3] == pytest.approx(fresh.window_rho_dist[2, 3], abs=1e-9)
    other_seed = _explainer(mask_sharing="per_window", seed=1).explain(image, _everywhere(image))
    assert np.abs(other_seed.window_rho_dist - fresh.window_rho_dist).max() > 0.05


def _scaled_model(scale):
    generator = torch.Generator().manual_seed(0)
    weight, bias = torch.randn(4, len(LABELS), generator=generator), torch.randn(len(LABELS), generator=generator)
    return QuadrantMeans(weight * scale, bias * scale)


@pytest.mark.parametrize("scale", [1.0, 0.003])
def test_float32_correlations_match_float64_on_benign_values_and_not_near_one(scale):
    # Weights of 0.003 keep every masked prediction within a few 1e-3 of the unmasked one: S_ŷ lies within a few
    # float32 ulps of 1, where float32 rounding swamps the correlation; at weights of 1 it does not.
    image = _image()
    runs = [CorRELAX(_scaled_model(scale), LABELS, window_size=16, stride=8, n_masks=48, mask_chunk=16,
                     correlation_dtype=dtype, progress=False).explain(image, _everywhere(image))
            for dtype in ("float64", "float32")]
    dist_error = np.abs(runs[0].window_rho_dist - runs[1].window_rho_dist).max()
    class_error = np.abs(runs[0].window_rho_class - runs[1].window_rho_class).max()
    if scale == 1.0:
        assert dist_error < 1e-5 and class_error < 1e-5
    else:
        assert dist_error > 0.02 and class_error < 1e-3
    assert runs[1].metadata["correlation_dtype"] == "float32" and "correlation_dtype" not in runs[0].metadata


def test_float32_checkpoints_and_adaptive_stopping_read_the_stacked_passes():
    image = _image()
    explainer = _explainer(correlation_dtype="float32", checkpoints=[16])
    maps = explainer.explain(image, _everywhere(image))
    fewer = _explainer(correlation_dtype="float32", n_masks=16).explain(image, _everywhere(image))
    np.testing.assert_allclose(maps.rho_dist_at[16], fewer.window_rho_dist, atol=1e-6)
    loose = _explainer(correlation_dtype="float32", adaptive=AdaptiveMasks(tolerance=10.0, min_masks=16))
    np.testing.assert_allclose(loose.explain(image, _everywhere(image)).window_rho_dist, fewer.window_rho_dist,
                               atol=1e-6)


def test_undefined_correlations_become_zero_and_skipped_windows_stay_missing():
    image = _image()
    foreground = np.zeros(image.shape[:2], dtype=bool)
    foreground[:, :20] = True
    maps = _explainer(keep_prob=1.0, undefined_correlation="zero", checkpoints=[16]).explain(image, foreground)
    computed = maps.masks_used > 0
    assert (maps.window_rho_dist[computed] == 0).all() and (maps.window_rho_class[:, computed] == 0).all()
    assert (maps.rho_dist_at[16][computed] == 0).all()
    assert np.isnan(maps.window_rho_dist[~computed]).all() and np.isnan(maps.window_rho_class[:, ~computed]).all()
    # Defined correlations are unchanged.
    defined = _explainer(undefined_correlation="zero").explain(image, foreground)
    reference = _explainer().explain(image, foreground)
    np.testing.assert_array_equal(defined.window_rho_class, reference.window_rho_class)


def test_the_options_enter_the_parameters_only_when_set():
    assert {"mask_sharing", "correlation_dtype", "undefined_correlation", "reconstruction"}.isdisjoint(
        _explainer().parameters)
    set_ = _explainer(mask_sharing="per_window", correlation_dtype="float32", undefined_correlation="zero",
                      reconstruction="authors").parameters
    assert (set_["mask_sharing"], set_["correlation_dtype"], set_["undefined_correlation"],
            set_["reconstruction"]) == ("per_window", "float32", "zero", "authors")


def test_the_authors_reconstruction_rebuilds_the_pixel_maps_from_the_same_windows(tmp_path):
    from corrrelax_lib.windows.reconstruction import authors_window_map_to_pixels

    image = _image()
    maps = _explainer(reconstruction="authors").explain(image, _everywhere(image))
    assert maps.reconstruction == "authors"
    expected = authors_window_map_to_pixels(maps.window_rho_class[1], maps.grid)
    np.testing.assert_array_equal(maps.pixel_map("correlation", "b"), expected)
    product = maps.pixel_map("prediction", "b") * maps.pixel_map("correlation", "b")
    np.testing.assert_array_equal(maps.pixel_map("product", "b"), product)
    centred = replace(maps, reconstruction="centred")
    assert not np.allclose(centred.pixel_map("correlation", "b"), expected)
    np.testing.assert_array_equal(centred.window_map("correlation", "b"), maps.window_map("correlation", "b"))
    maps.save(tmp_path / "maps.npz")
    assert CorrelaxMaps.load(tmp_path / "maps.npz").reconstruction == "authors"
