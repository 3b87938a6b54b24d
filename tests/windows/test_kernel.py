"""IoU of boxes (Eq. 5–10) and the IoU kernel that weighs neighbouring windows (§3.5)."""

from __future__ import annotations

import numpy as np
import pytest

from corrrelax_lib.windows.kernel import authors_iou_kernel, authors_kernel_offsets, box_iou, iou_kernel


def test_identical_boxes_have_iou_one():
    assert box_iou((3, 4, 10, 12), (3, 4, 10, 12)) == 1.0


def test_disjoint_boxes_have_iou_zero():
    assert box_iou((0, 0, 1, 1), (0, 5, 1, 6)) == 0.0  # overlap in x only
    assert box_iou((0, 0, 1, 1), (5, 0, 6, 1)) == 0.0  # overlap in y only
    # Apart on both axes: two negative sides must not multiply into a positive "intersection".
    assert box_iou((0, 0, 1, 1), (5, 5, 6, 6)) == 0.0


def test_touching_boxes_have_iou_zero():
    assert box_iou((0, 0, 1, 1), (1, 0, 2, 1)) == 0.0
    assert box_iou((0, 0, 1, 1), (1, 1, 2, 2)) == 0.0


def test_half_overlap_has_iou_one_third():
    # Intersection 1 × 1, union 2 + 2 − 1.
    assert box_iou((0, 0, 2, 1), (1, 0, 3, 1)) == pytest.approx(1 / 3, rel=1e-15)
    assert box_iou((0, 0, 1, 2), (0, 1, 1, 3)) == pytest.approx(1 / 3, rel=1e-15)


def test_nested_and_symmetric_iou():
    assert box_iou((0, 0, 4, 4), (1, 1, 3, 3)) == pytest.approx(4 / 16)
    a, b = (0.5, 1.0, 3.0, 2.5), (1.5, 0.0, 4.0, 2.0)
    # Intersection 1.5 × 1.0; areas 3.75 and 5.0.
    assert box_iou(a, b) == pytest.approx(1.5 / (3.75 + 5.0 - 1.5), rel=1e-15)
    assert box_iou(a, b) == box_iou(b, a)


def test_window_shifted_by_one_stride_matches_the_docstring():
    assert box_iou((0, 0, 256, 256), (48, 0, 304, 256)) == pytest.approx(256 * 208 / (2 * 256**2 - 256 * 208))


def _expected_kernel(window_size, stride, radius):
    """Unnormalised IoUs by plain arithmetic: the overlap of two equal squares offset by (dy, dx)."""
    kernel = np.empty((2 * radius + 1, 2 * radius + 1))
    for i in range(2 * radius + 1):
        for j in range(2 * radius + 1):
            dy, dx = abs(i - radius) * stride, abs(j - radius) * stride
            intersection = (window_size - dx) * (window_size - dy)
            kernel[i, j] = intersection / (2 * window_size**2 - intersection)
    return kernel


def test_paper_kernel_is_5x5_odd_symmetric_and_sums_to_one():
    kernel = iou_kernel(256, 48)
    assert kernel.shape == (5, 5)
    assert kernel.dtype == np.float64
    assert kernel.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_array_equal(kernel, kernel.T)
    np.testing.assert_array_equal(kernel, kernel[::-1, :])
    np.testing.assert_array_equal(kernel, kernel[:, ::-1])
    assert np.unravel_index(np.argmax(kernel), kernel.shape) == (2, 2)
    assert (kernel[2, 2] > np.delete(kernel.ravel(), 12)).all()
    assert (kernel > 0).all()


def test_paper_kernel_holds_the_exact_ious():
    kernel = iou_kernel(256, 48)
    # One stride sideways: 256 × 208 overlap.
    assert kernel[2, 3] / kernel[2, 2] == pytest.approx(256 * 208 / (2 * 256**2 - 256 * 208), rel=1e-12)
    assert kernel[1, 2] / kernel[2, 2] == pytest.approx(256 * 208 / (2 * 256**2 - 256 * 208), rel=1e-12)
    # Two strides on both axes: 160 × 160 overlap.
    assert kernel[0, 0] / kernel[2, 2] == pytest.approx(160**2 / (2 * 256**2 - 160**2), rel=1e-12)
    # (96, 48): 160 × 208 overlap.
    assert kernel[0, 1] / kernel[2, 2] == pytest.approx(160 * 208 / (2 * 256**2 - 160 * 208), rel=1e-12)
    expected = _expected_kernel(256, 48, 2)
    np.testing.assert_allclose(kernel, expected / expected.sum(), rtol=1e-12, atol=0)


@pytest.mark.parametrize(("window_size", "stride", "side"),
                         [(64, 12, 5), (64, 16, 5), (64, 64, 1), (256, 100, 3), (256, 48, 5), (10, 1, 11),
                          (64, 33, 1), (64, 32, 3)])
def test_kernel_side_covers_offsets_up_to_half_a_window(window_size, stride, side):
    kernel = iou_kernel(window_size, stride)
    assert kernel.shape == (side, side)
    radius = side // 2
    # The farthest offset is within half a window; one more stride would not be.
    assert radius * stride <= window_size / 2
    assert (radius + 1) * stride > window_size / 2
    expected = _expected_kernel(window_size, stride, radius)
    np.testing.assert_allclose(kernel, expected / expected.sum(), rtol=1e-12, atol=0)
    assert kernel.sum() == pytest.approx(1.0, abs=1e-12)


def test_one_window_kernel_is_the_identity():
    np.testing.assert_array_equal(iou_kernel(64, 64), [[1.0]])


@pytest.mark.parametrize("stride", [0, -1, 257])
def test_bad_stride_raises(stride):
    with pytest.raises(ValueError, match="stride"):
        iou_kernel(256, stride)


@pytest.mark.parametrize(("window_size", "stride", "offsets"), [
    (256, 48, [-128, -80, -32, 16, 64, 112]),
    (256, 32, [-128, -96, -64, -32, 0, 32, 64, 96, 128]),
    (64, 12, [-32, -20, -8, 4, 16, 28]),
    (64, 8, [-32, -24, -16, -8, 0, 8, 16, 24, 32]),
])
def test_authors_offsets_start_at_minus_half_a_window_and_step_by_the_stride(window_size, stride, offsets):
    assert authors_kernel_offsets(window_size, stride).tolist() == offsets


def test_authors_kernel_at_256_48_is_6x6_and_off_centre():
    kernel = authors_iou_kernel(256, 48)
    assert kernel.shape == (6, 6) and kernel.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_array_equal(kernel, kernel.T)
    # Its largest weight is the offset (16, 16) (index 3), not a middle entry: it is not symmetric about it.
    assert np.unravel_index(np.argmax(kernel), kernel.shape) == (3, 3)
    assert not np.allclose(kernel, kernel[::-1, ::-1])
    # Entries are the IoUs of Eq. 5–10 at those offsets: (16, 16) → 240 × 240 overlap.
    assert kernel[3, 3] / kernel[2, 2] == pytest.approx(
        (240**2 / (2 * 256**2 - 240**2)) / (224**2 / (2 * 256**2 - 224**2)), rel=1e-12)


@pytest.mark.parametrize(("window_size", "stride"), [(256, 32), (64, 8), (64, 16)])
def test_authors_kernel_is_centred_and_equals_ours_when_the_stride_divides_half_a_window(window_size, stride):
    kernel = authors_iou_kernel(window_size, stride)
    side = window_size // stride + 1
    assert kernel.shape == (side, side)
    assert np.unravel_index(np.argmax(kernel), kernel.shape) == (side // 2, side // 2)
    np.testing.assert_allclose(kernel, iou_kernel(window_size, stride), rtol=1e-12, atol=0)
