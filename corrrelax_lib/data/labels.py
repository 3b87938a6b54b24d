"""VinDr-Mammo finding categories and their grouping into the paper's 8 labels (§3.2, Table 1)."""

from __future__ import annotations

from collections.abc import Iterable

NO_FINDING = "No Finding"

#: The paper's labels, in the order of Table 1 and of every model output.
LABELS: tuple[str, ...] = (
    NO_FINDING,
    "Mass",
    "Suspicious Calcification",
    "Asymmetries",
    "Architectural Distortion",
    "Suspicious Lymph Node",
    "Skin Thickening",
    "Retractions",
)

#: VinDr-Mammo ``finding_categories`` value -> paper label.
CATEGORY_TO_LABEL: dict[str, str] = {
    NO_FINDING: NO_FINDING,
    "Mass": "Mass",
    "Suspicious Calcification": "Suspicious Calcification",
    "Asymmetry": "Asymmetries",
    "Focal Asymmetry": "Asymmetries",
    "Global Asymmetry": "Asymmetries",
    "Architectural Distortion": "Architectural Distortion",
    "Suspicious Lymph Node": "Suspicious Lymph Node",
    "Skin Thickening": "Skin Thickening",
    "Nipple Retraction": "Retractions",
    "Skin Retraction": "Retractions",
}

#: Every VinDr-Mammo category the phantoms draw (all that map to a label).
CATEGORIES: tuple[str, ...] = tuple(CATEGORY_TO_LABEL)


def group_categories(categories: Iterable[str]) -> tuple[str, ...]:
    """Map VinDr categories of one box to paper labels, each label once, in ``LABELS`` order.

    Categories outside the grouping (e.g. ``"Other"``) are dropped here; they stay in
    the annotation tables.

    >>> group_categories(["Skin Retraction", "Nipple Retraction", "Mass"])
    ('Mass', 'Retractions')
    """
    found = {CATEGORY_TO_LABEL[c] for c in categories if c in CATEGORY_TO_LABEL}
    return tuple(label for label in LABELS if label in found)
