import numpy as np
import pytest

from corrrelax_lib.metrics.classification import (
    macro_auc_permutation_test,
    per_label_metrics,
    roc_auc,
    roc_curve,
    weighted_f1,
)

LABELS = ["A", "B"]
# Hand example: label A has 3 positives, label B has 1.
TARGETS = np.array([[1, 0], [1, 0], [1, 1], [0, 0], [0, 0]])
PROBABILITIES = np.array([[0.9, 0.1], [0.4, 0.2], [0.7, 0.3], [0.6, 0.1], [0.1, 0.8]])


def test_per_label_metrics_on_a_hand_example():
    table = per_label_metrics(TARGETS, PROBABILITIES, LABELS)
    # A: predicted positive rows 0, 2, 3 -> TP 2, FP 1, FN 1, TN 1.
    a = table.loc["A"]
    assert a["accuracy"] == pytest.approx(3 / 5)
    assert a["precision"] == pytest.approx(2 / 3)
    assert a["recall"] == pytest.approx(2 / 3)
    assert a["f1"] == pytest.approx(2 / 3)
    assert a["support"] == 3
    # A's AUC: positives (0.9, 0.4, 0.7) vs negatives (0.6, 0.1): 5 of 6 pairs ranked right.
    assert a["roc_auc"] == pytest.approx(5 / 6)
    # B: predicted positive row 4 only (a negative) -> TP 0, FP 1, FN 1.
    b = table.loc["B"]
    assert (b["precision"], b["recall"], b["f1"]) == (0.0, 0.0, 0.0)
    assert b["accuracy"] == pytest.approx(3 / 5)


def test_weighted_f1_uses_support_as_weights():
    table = per_label_metrics(TARGETS, PROBABILITIES, LABELS)
    assert weighted_f1(table) == pytest.approx((3 * 2 / 3 + 1 * 0.0) / 4)


def test_undefined_metrics_are_nan_not_zero():
    table = per_label_metrics(np.array([[0], [0]]), np.array([[0.1], [0.2]]), ["A"])
    assert np.isnan(table.loc["A", "precision"])
    assert np.isnan(table.loc["A", "recall"])
    assert np.isnan(table.loc["A", "roc_auc"])
    assert np.isnan(weighted_f1(table))


def test_roc_auc_counts_ties_as_half():
    assert roc_auc(np.array([True, False]), np.array([0.5, 0.5])) == pytest.approx(0.5)
    assert roc_auc(np.array([True, False, False]), np.array([0.9, 0.1, 0.2])) == pytest.approx(1.0)


def test_mismatched_shapes_raise():
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        per_label_metrics(TARGETS[:, :1], PROBABILITIES, LABELS)


def test_roc_curve_steps_through_ties_at_once():
    fpr, tpr = roc_curve(np.array([True, False, True, False]), np.array([0.9, 0.5, 0.5, 0.1]))
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 1])
    np.testing.assert_allclose(tpr, [0, 0.5, 1, 1])
    # The trapezoidal area under the curve is the rank AUC.
    assert np.trapezoid(tpr, fpr) == pytest.approx(roc_auc(np.array([1, 0, 1, 0]), np.array([0.9, 0.5, 0.5, 0.1])))


def test_permutation_test_separates_signal_from_noise():
    rng = np.random.default_rng(1)
    targets = rng.random((60, 2)) < 0.4
    informative = targets + 0.3 * rng.random((60, 2))
    auc, p_value = macro_auc_permutation_test(targets, informative, n_permutations=300)
    assert auc == pytest.approx(1.0) and p_value < 0.01
    auc, p_value = macro_auc_permutation_test(targets, rng.random((60, 2)), n_permutations=300)
    assert p_value > 0.01
