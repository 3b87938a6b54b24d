import numpy as np
import pandas as pd
import pytest
import torch

from corrrelax_lib.attribution.adaptive import AdaptiveMasks
from corrrelax_lib.attribution.correlax import CorRELAX
from corrrelax_lib.data.image_store import StoredImage
from corrrelax_lib.io.artifacts import CorruptArtifactWarning
from corrrelax_lib.metrics.pointing_game import TABLE4_CRITERIA, table4_criteria
from corrrelax_lib.pipeline.annotated_images import AnnotatedImage, annotated_test_images
from corrrelax_lib.pipeline.correlax_images import table4_pointing_criteria
from corrrelax_lib.pipeline.explained_images import explain_images, maps_directory, pointing_pairs
from corrrelax_lib.pipeline.mask_sensitivity import (
    adaptive_errors,
    explain_window_samples,
    prefix_errors,
    sample_windows,
)
from corrrelax_lib.testing.models import QuadrantMeans

LABELS = ("a", "b")


def _explainer(**options):
    model = QuadrantMeans(torch.tensor([[4.0, -4.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]), torch.zeros(2))
    return CorRELAX(model, LABELS, **{"window_size": 16, "stride": 8, "n_masks": 32, "mask_chunk": 16,
                                      "min_foreground": 0.0, "progress": False, **options})


def _image(image_id: str, bright_at: tuple[int, int]) -> AnnotatedImage:
    """A dark 48 × 64 image with one bright 8 × 8 patch; label "a" boxed on the patch."""
    pixels = np.full((48, 64, 3), 40, dtype=np.uint8)
    y, x = bright_at
    pixels[y:y + 8, x:x + 8] = 250
    pixels[:2, :] = 120  # breast-like frame so that Otsu finds a foreground
    return AnnotatedImage("study", image_id, pixels, {"a": np.array([[x, y, x + 8, y + 8]], dtype=float)})


class _Everywhere:
    """Wraps an explainer to treat the whole image as breast (the test images are not mammograms)."""

    def __init__(self, explainer):
        self.explainer, self.calls = explainer, 0
        self.method, self.result_type, self.parameters = explainer.method, explainer.result_type, explainer.parameters

    def explain(self, image):
        self.calls += 1
        return self.explainer.explain(image, np.ones(image.shape[:2], dtype=bool))


def test_explain_images_caches_one_file_per_image_and_resumes(tmp_path):
    images = [_image("one", (8, 8)), _image("two", (24, 40))]
    wrapped = _Everywhere(_explainer())
    first = explain_images(wrapped, images[:1], tmp_path)
    assert wrapped.calls == 1 and sorted(p.name for p in tmp_path.iterdir()) == ["one.json", "one.npz"]
    both = explain_images(wrapped, images, tmp_path)  # "one" is read, only "two" is computed
    assert wrapped.calls == 2 and sorted(both) == ["one", "two"]
    np.testing.assert_array_equal(both["one"].window_rho_dist, first["one"].window_rho_dist)


def test_explain_images_recomputes_a_corrupt_file_instead_of_reading_it(tmp_path):
    images = [_image("one", (8, 8))]
    wrapped = _Everywhere(_explainer())
    first = explain_images(wrapped, images, tmp_path)
    (tmp_path / "one.npz").write_bytes(b"PK" + bytes(100))  # e.g. a copy cut short
    with pytest.warns(CorruptArtifactWarning, match=r"one\.npz"):
        again = explain_images(wrapped, images, tmp_path)
    assert wrapped.calls == 2
    np.testing.assert_array_equal(again["one"].window_rho_dist, first["one"].window_rho_dist)


def test_maps_directory_depends_on_map_parameters_not_batch_size(tmp_path):
    def directory(run: str = "run", **options) -> object:
        return maps_directory(tmp_path, "correlax", run, _explainer(**options).parameters)

    base = directory()
    assert base.parent == tmp_path / "correlax"
    assert base == directory(batch_size=7)
    assert base != directory(n_masks=48)
    assert base != directory(adaptive=AdaptiveMasks(min_masks=16))
    assert base != directory("other-run")


def test_table4_pairs_hit_where_the_model_responds(tmp_path):
    # The model predicts "a" from the top-left quadrant's brightness: the patch's windows score highest.
    images = [_image("one", (8, 8)), _image("two", (24, 40))]
    maps = explain_images(_Everywhere(_explainer()), images, tmp_path)
    pairs = pointing_pairs(images, maps, LABELS, table4_pointing_criteria(), tolerance=8)
    assert list(pairs.columns) == ["image_id", "label", *TABLE4_CRITERIA, "chance"]
    assert list(pairs["label"]) == ["a", "a"]  # "b" has no boxes
    assert pairs["prediction ≥ 25%"].all()
    assert ((pairs["chance"] > 0) & (pairs["chance"] < 1)).all()


def test_the_correlation_criterion_is_a_setting_that_names_its_column(tmp_path):
    images = [_image("one", (8, 8)), _image("two", (24, 40))]
    maps = explain_images(_Everywhere(_explainer()), images, tmp_path)
    peaks = [float(np.nanmax(maps[image.image_id].pixel_map("correlation", "a"))) for image in images]
    assert min(peaks) > 0
    above = max(peaks) + 0.01  # no map's maximum exceeds it
    paper = pointing_pairs(images, maps, LABELS, table4_pointing_criteria(), tolerance=8)
    stricter = pointing_pairs(images, maps, LABELS, table4_pointing_criteria(above), tolerance=8)
    assert list(stricter.columns) == ["image_id", "label", *table4_criteria(above), "chance"]
    assert paper["correlation > 0"].any() and not stricter[f"correlation > {above:g}"].any()
    pd.testing.assert_frame_equal(paper[["prediction ≥ 25%", "prediction ≥ 50%", "chance"]],
                                  stricter[["prediction ≥ 25%", "prediction ≥ 50%", "chance"]])


def test_prefix_and_adaptive_errors():
    image = _image("one", (8, 8)).image / 255.0
    everywhere = np.ones(image.shape[:2], dtype=bool)
    reference = _explainer(n_masks=64, checkpoints=[16, 32]).explain(image, everywhere)
    errors = prefix_errors(reference, [16, 32])
    assert set(errors["n_masks"]) == {16, 32} and (errors["abs_error"] >= 0).all()
    expected = np.abs(reference.rho_dist_at[16] - reference.window_rho_dist).ravel()
    np.testing.assert_allclose(errors.loc[errors["n_masks"] == 16, "abs_error"], expected[np.isfinite(expected)])
    adaptive = _explainer(n_masks=64, adaptive=AdaptiveMasks(tolerance=10.0, min_masks=16)).explain(image, everywhere)
    table = adaptive_errors(adaptive, reference)
    assert (table["masks_used"] == 16).all()
    np.testing.assert_allclose(table["abs_error"], errors.loc[errors["n_masks"] == 16, "abs_error"], atol=1e-9)
    assert (table["max_abs_error"] >= table["abs_error"]).all()


def test_sample_windows_is_seeded_and_within_the_breast():
    image = _image("one", (8, 8)).image
    explainer = _explainer(min_foreground=0.05)
    first, again = sample_windows(image, explainer, 5, seed=1), sample_windows(image, explainer, 5, seed=1)
    assert first.sum() == 5 and (first == again).all() and first.shape == (5, 7)
    assert (sample_windows(image, explainer, 5, seed=2) != first).any()


class _Store:
    def __init__(self, images):
        self.images = images

    def get(self, study_id, image_id):
        return StoredImage(image=self.images[image_id], roi=(10, 20, 74, 68))


def test_annotated_test_images_group_boxes_by_label_in_roi_pixels():
    samples = pd.DataFrame([
        {"study_id": "s", "image_id": "i2", "split": "test", "labels": ("Mass",), "xmin": 30, "ymin": 40, "xmax": 40,
         "ymax": 50},
        {"study_id": "s", "image_id": "i2", "split": "test", "labels": ("Mass", "Asymmetries"), "xmin": 12,
         "ymin": 22, "xmax": 20, "ymax": 30},
        {"study_id": "s", "image_id": "i1", "split": "test", "labels": ("Asymmetries",), "xmin": 15, "ymin": 25,
         "xmax": 25, "ymax": 35},
        {"study_id": "s", "image_id": "i3", "split": "training", "labels": ("Mass",), "xmin": 15, "ymin": 25,
         "xmax": 25, "ymax": 35},
        {"study_id": "s", "image_id": "i4", "split": "test", "labels": ("No Finding",), "xmin": np.nan,
         "ymin": np.nan, "xmax": np.nan, "ymax": np.nan},
    ])
    store = _Store({name: np.zeros((48, 64, 3), np.uint8) for name in ("i1", "i2")})
    images = annotated_test_images(samples, store, ["Mass", "Asymmetries"])
    assert [image.image_id for image in images] == ["i1", "i2"]
    assert list(images[1].boxes_by_label) == ["Mass", "Asymmetries"]
    np.testing.assert_array_equal(images[1].boxes_by_label["Mass"], [[20, 20, 30, 30], [2, 2, 10, 10]])
    np.testing.assert_array_equal(images[1].boxes_by_label["Asymmetries"], [[2, 2, 10, 10]])
    with pytest.raises(KeyError):
        annotated_test_images(samples.assign(image_id="missing"), store, ["Mass"])


def test_explain_window_samples_computes_the_selection_once_and_checks_it(tmp_path, monkeypatch):
    images = [_image("one", (8, 8))]
    explainer = _explainer(min_foreground=0.05)
    selections = {"one": sample_windows(images[0].image, explainer, 3, seed=0)}
    maps = explain_window_samples(explainer, images, selections, tmp_path)
    assert (maps["one"].masks_used > 0).sum() == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.json", "one.npz"]  # checksummed, as every artifact
    with monkeypatch.context() as patched:
        patched.setattr(CorRELAX, "explain", lambda *args, **kwargs: pytest.fail("recomputed"))
        again = explain_window_samples(explainer, images, selections, tmp_path)
    np.testing.assert_array_equal(again["one"].masks_used, maps["one"].masks_used)
    # Another selection, or a corrupt file, is recomputed rather than read.
    other = {"one": sample_windows(images[0].image, explainer, 2, seed=1)}
    with pytest.warns(CorruptArtifactWarning, match="other parameters"):
        assert (explain_window_samples(explainer, images, other, tmp_path)["one"].masks_used > 0).sum() == 2
    (tmp_path / "one.npz").write_bytes(b"not the maps")
    with pytest.warns(CorruptArtifactWarning, match="one.npz"):
        assert (explain_window_samples(explainer, images, other, tmp_path)["one"].masks_used > 0).sum() == 2
