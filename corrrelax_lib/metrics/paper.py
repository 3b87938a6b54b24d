"""The paper's published numbers (the values ours are judged against), read from ``data_manifests/vindr-mammo.yml``
(never typed into notebooks)."""

from __future__ import annotations

import pandas as pd
import yaml

from corrrelax_lib.data.labels import LABELS, NO_FINDING
from corrrelax_lib.metrics.pointing_game import TABLE4_CRITERIA, WEIGHTED_MEAN_ROWS
from corrrelax_lib.paths import manifest_path


def _vindr_manifest() -> dict:
    """The VinDr-Mammo manifest as a mapping."""
    return yaml.safe_load(manifest_path("vindr-mammo").read_text())


def paper_table1() -> pd.DataFrame:
    """Paper Table 1: index ``LABELS``, columns ``training``, ``test`` (int)."""
    table = pd.DataFrame(_vindr_manifest()["paper_table1"]).T.astype("int64")
    return table.loc[list(LABELS), ["training", "test"]]


def paper_roi_size() -> pd.DataFrame:
    """Paper §3.1 ROI and image sizes: index ``image``/``roi``, columns mean/std of width and height."""
    manifest = _vindr_manifest()
    rows = {}
    for name, key in (("image", "paper_image_size"), ("roi", "paper_roi_size")):
        sizes = manifest[key]
        rows[name] = {
            f"{axis} {stat}": sizes[axis].get(stat) for axis in ("width", "height") for stat in ("mean", "std")
        }
    return pd.DataFrame(rows).T


#: The 4-label subset of the paper's model selection (§3.3, Table 2).
TABLE2_LABELS: tuple[str, ...] = ("Mass", "Suspicious Calcification", "Asymmetries", "Suspicious Lymph Node")


def paper_table2() -> pd.DataFrame:
    """Paper Table 2: F1 per label (rows, then "Weighted Average") and backbone (columns), plus ``N``."""
    manifest = _vindr_manifest()["paper_table2"]
    table = pd.DataFrame(manifest["f1"]).astype("float64")
    table.insert(0, "N", pd.Series(manifest["support"]).astype("int64"))
    return table.loc[[*TABLE2_LABELS, "Weighted Average"]]


def paper_table3() -> pd.DataFrame:
    """Paper Table 3: index ``LABELS``; accuracy, precision, recall, F1 (float) and support (int)."""
    table = pd.DataFrame(_vindr_manifest()["paper_table3"]).T
    return table.loc[list(LABELS)].astype({"support": "int64"})


def paper_table4() -> pd.DataFrame:
    """Paper Table 4: pointing-game accuracy per finding label, then "Weighted Mean Accuracy".

    Columns as :func:`~corrrelax_lib.metrics.pointing_game.pointing_game_table` names them for
    ``TABLE4_CRITERIA`` (float), plus ``support`` (int), so ours and the paper's can be
    concatenated side by side. The last row is printed, not derived: it is not the
    support-weighted mean of the label rows (see the manifest).
    """
    columns = dict(zip(("prediction_25", "prediction_50", "correlation"), TABLE4_CRITERIA, strict=True))
    table = pd.DataFrame(_vindr_manifest()["paper_table4"]).T.rename(columns=columns)
    rows = [*(label for label in LABELS if label != NO_FINDING), "Weighted Mean Accuracy"]
    return table.loc[rows, [*TABLE4_CRITERIA, "support"]].astype({"support": "int64"})


def authors_images_with_findings() -> int:
    """The VinDr-Mammo test images with a finding that the authors' pointing-game notebook scores (357)."""
    return int(_vindr_manifest()["authors_table4_images_with_findings"])


def table4_reconstruction(table: pd.DataFrame, n_images: int, *, places: int = 4) -> pd.DataFrame:
    """Rebuild the "Weighted Mean Accuracy" row of a Table-4-shaped table from its own label rows.

    Each label row's accuracy × support gives its hits, which must be whole numbers: the nearest
    integer is taken, and a printed value that neither rounds nor truncates to ``hits / support`` at
    ``places`` decimals is flagged. Where the printed mean then asks for another count on a flagged
    row (``mean × n_images`` minus the other rows' hits), that count is used and the row is corrected.
    The means are then recomputed two ways: all hits over ``n_images`` images (per image) and over
    the pairs (support-weighted).

    Args:
        table: rows per label plus the printed summary row (one of :data:`WEIGHTED_MEAN_ROWS`), columns
            :data:`TABLE4_CRITERIA` and ``support`` (:func:`paper_table4`).
        n_images: the images with a finding the table was computed on.
        places: decimals the accuracies are printed with.

    Returns:
        One row per ``(criterion, label)`` with ``printed``, ``support``, ``hits`` (whole), ``exact``
        (``hits / support``), ``consistent`` (the printed value is it, rounded or truncated), then per
        criterion the rows ``("<criterion>", "hits per image")`` and ``("<criterion>", "per pair")``
        holding the recomputed means in ``exact`` beside the printed mean in ``printed``.
    """
    summary = next(name for name in WEIGHTED_MEAN_ROWS if name in table.index)
    labels = table.drop(index=summary)
    rows = []
    for criterion in TABLE4_CRITERIA:
        printed, support = labels[criterion], labels["support"].astype("int64")
        hits = (printed * support).round().astype("int64")
        consistent = pd.Series([_prints_as(h / n, value, places) if n else value == 0
                                for h, n, value in zip(hits, support, printed, strict=True)], index=labels.index)
        mean = float(table.loc[summary, criterion])
        if (~consistent).sum() == 1:
            label = consistent.index[~consistent][0]
            needed = round(mean * n_images) - int(hits.drop(label).sum())
            if 0 <= needed <= support[label]:
                hits[label] = needed
        for label in labels.index:
            rows.append({"criterion": criterion, "label": label, "printed": float(printed[label]),
                         "support": int(support[label]), "hits": int(hits[label]),
                         "exact": hits[label] / support[label] if support[label] else float("nan"),
                         "consistent": bool(consistent[label])})
        total = int(hits.sum())
        rows.append({"criterion": criterion, "label": "hits per image", "printed": mean, "support": n_images,
                     "hits": total, "exact": total / n_images,
                     "consistent": _prints_as(total / n_images, mean, places)})
        rows.append({"criterion": criterion, "label": "per pair", "printed": mean, "support": int(support.sum()),
                     "hits": total, "exact": total / support.sum(),
                     "consistent": _prints_as(total / support.sum(), mean, places)})
    return pd.DataFrame(rows).set_index(["criterion", "label"])


def _prints_as(value: float, printed: float, places: int) -> bool:
    """Whether ``value`` printed with ``places`` decimals, rounded or truncated, is ``printed``."""
    scale = 10**places
    return round(value * scale) == round(printed * scale) or int(value * scale + 1e-9) == round(printed * scale)


def paper_quoted_masses() -> pd.DataFrame:
    """Paper §5: pointing-game accuracy on masses quoted for Grad-CAM, Grad-CAM++ and Eigen-CAM from another
    study (Cerekci et al.; 512×512 downsampled mammograms, another model), beside CorRELAX's own Mass row.

    Returns:
        Index: method; columns ``accuracy`` (float) and ``source`` (str).
    """
    table = pd.DataFrame(_vindr_manifest()["paper_quoted_pointing_game_masses"]).T
    table.index.name = "method"
    return table.astype({"accuracy": "float64"})


def paper_mldam_results() -> pd.DataFrame:
    """The MLDAM paper's CBIS-DDSM test results (ResNet-50, best-validation weights; its Tables 1–4).

    Returns:
        Index: the paper's four use cases; columns ``accuracy, precision, recall, f1`` (float).
    """
    table = pd.DataFrame(yaml.safe_load(manifest_path("related-methods").read_text())
                         ["mldam_cbis_ddsm_resnet50_validation"]).T
    return table[["accuracy", "precision", "recall", "f1"]].astype("float64")
