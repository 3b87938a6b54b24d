"""Per-label classification metrics of a multi-label classifier (paper Tables 2 and 3).

Every label is scored as its own binary problem at a probability threshold (0.5 in the
paper): accuracy, precision, recall, F1 and support (number of positive samples), plus the
threshold-free ROC AUC. Undefined values are NaN, never a silent 0: precision when
nothing was predicted positive, recall and AUC when a label has no positive (or, for AUC,
no negative) sample.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

METRIC_COLUMNS: tuple[str, ...] = ("accuracy", "precision", "recall", "f1", "support", "roc_auc")


def per_label_metrics(
    targets: np.ndarray, probabilities: np.ndarray, labels: Sequence[str], *, threshold: float = 0.5
) -> pd.DataFrame:
    """Table 3: one row per label with accuracy, precision, recall, F1, support and ROC AUC.

    Args:
        targets: ``(N, C)`` multi-hot ground truth (0/1).
        probabilities: ``(N, C)`` sigmoid outputs in [0, 1].
        labels: the ``C`` label names, in column order.
        threshold: a label is predicted present when its probability is ``>= threshold``.

    Returns:
        DataFrame indexed by label with columns :data:`METRIC_COLUMNS`.

    >>> per_label_metrics(np.array([[1], [0]]), np.array([[0.9], [0.2]]), ["Mass"]).loc["Mass", "f1"]
    np.float64(1.0)
    """
    targets, probabilities = _check_shapes(targets, probabilities, labels)
    predicted = probabilities >= threshold
    truth = targets.astype(bool)
    true_positive = (predicted & truth).sum(axis=0)
    predicted_positive = predicted.sum(axis=0)
    support = truth.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = true_positive / predicted_positive
        recall = true_positive / support
        f1 = 2 * true_positive / (predicted_positive + support)
    table = pd.DataFrame(
        {
            "accuracy": (predicted == truth).mean(axis=0),
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support.astype(int),
            "roc_auc": [roc_auc(truth[:, c], probabilities[:, c]) for c in range(len(labels))],
        },
        index=pd.Index(list(labels), name="label"),
    )
    return table


def weighted_f1(table: pd.DataFrame) -> float:
    """Table 2's "Weighted Average": per-label F1 averaged with support as weights.

    Labels without support carry no weight; NaN when no label has support.
    """
    has_support = table["support"] > 0
    if not has_support.any():
        return float("nan")
    f1 = table.loc[has_support, "f1"].fillna(0.0)
    return float(np.average(f1, weights=table.loc[has_support, "support"]))


def roc_auc(truth: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve of one label, as the Mann-Whitney U statistic.

    The probability that a random positive scores higher than a random negative, ties
    counting one half. NaN when either class is absent.

    Args:
        truth: ``(N,)`` booleans.
        scores: ``(N,)`` probabilities.
    """
    truth = np.asarray(truth, dtype=bool)
    n_positive, n_negative = int(truth.sum()), int((~truth).sum())
    if n_positive == 0 or n_negative == 0:
        return float("nan")
    ranks = pd.Series(np.asarray(scores, dtype=np.float64)).rank(method="average").to_numpy()
    u_statistic = ranks[truth].sum() - n_positive * (n_positive + 1) / 2
    return float(u_statistic / (n_positive * n_negative))


def _check_shapes(
    targets: np.ndarray, probabilities: np.ndarray, labels: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Both as 2-D arrays of equal shape ``(N, len(labels))``; ValueError otherwise."""
    targets, probabilities = np.asarray(targets), np.asarray(probabilities, dtype=np.float64)
    if targets.ndim != 2 or targets.shape != probabilities.shape or targets.shape[1] != len(labels):
        raise ValueError(
            f"targets {targets.shape} and probabilities {probabilities.shape} must both be (N, {len(labels)})"
        )
    return targets, probabilities


def roc_curve(truth: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates at every distinct score threshold, from (0, 0) to (1, 1).

    Args:
        truth: ``(N,)`` booleans with both classes present.
        scores: ``(N,)`` probabilities.

    Returns:
        ``(false_positive_rate, true_positive_rate)``, each ``(T + 1,)`` for ``T`` distinct scores.
    """
    truth = np.asarray(truth, dtype=bool)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    sorted_scores, sorted_truth = np.asarray(scores)[order], truth[order]
    # Keep the last index of every run of equal scores: a threshold admits all ties at once.
    last_of_tie = np.r_[np.diff(sorted_scores) != 0, True]
    true_positives = np.cumsum(sorted_truth)[last_of_tie]
    false_positives = np.cumsum(~sorted_truth)[last_of_tie]
    return (np.r_[0, false_positives] / max((~truth).sum(), 1), np.r_[0, true_positives] / max(truth.sum(), 1))


def macro_auc_permutation_test(
    targets: np.ndarray, probabilities: np.ndarray, *, n_permutations: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Mean ROC AUC over labels, and how often shuffled labels reach it (a one-sided p-value).

    Shuffling the rows of ``targets`` breaks any link between images and predictions while
    keeping every label's prevalence: the permutation distribution is "chance". Labels
    without both classes are left out.

    Args:
        targets: ``(N, C)`` multi-hot ground truth.
        probabilities: ``(N, C)`` sigmoid outputs.

    Returns:
        ``(macro_auc, p_value)`` with ``p_value = (1 + #{permuted >= observed}) / (1 + n_permutations)``.
    """
    targets = np.asarray(targets, dtype=bool)
    scored = [c for c in range(targets.shape[1]) if 0 < targets[:, c].sum() < len(targets)]
    if not scored:
        return float("nan"), float("nan")

    def macro(rows: np.ndarray) -> float:
        return float(np.mean([roc_auc(targets[rows, c], probabilities[:, c]) for c in scored]))

    observed = macro(np.arange(len(targets)))
    rng = np.random.default_rng(seed)
    permuted = np.array([macro(rng.permutation(len(targets))) for _ in range(n_permutations)])
    return observed, float((1 + (permuted >= observed).sum()) / (1 + n_permutations))
