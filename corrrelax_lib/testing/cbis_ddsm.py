"""Hand annotations of the eight real CBIS-DDSM scans (``data_manifests/cbis-ddsm-pypi.yml``) for tests.

:data:`HAND_BOXES` maps each DICOM's file name to two boxes ``(x0, y0, x1, y1)`` in full-resolution
pixels, annotated by hand on the scans: breast tissue that a breast ROI must contain, and the film
label ("LCC", "RMLO", ...) that it must leave out.
"""

from __future__ import annotations

Box = tuple[int, int, int, int]

HAND_BOXES: dict[str, tuple[Box, Box]] = {
    "1-130.dcm": ((150, 1700, 900, 2800), (2050, 550, 2700, 1150)),
    "1-131.dcm": ((150, 1700, 1000, 3100), (2100, 750, 2750, 1350)),
    "1-132.dcm": ((2100, 1900, 2800, 3000), (0, 150, 450, 650)),
    "1-133.dcm": ((2000, 1500, 2850, 3100), (0, 100, 650, 750)),
    "1-280.dcm": ((150, 1800, 1200, 3000), (2350, 250, 2624, 850)),
    "1-281.dcm": ((150, 1500, 1200, 3000), (2150, 250, 2576, 850)),
    "1-282.dcm": ((1500, 1900, 2500, 3200), (0, 250, 400, 900)),
    "1-283.dcm": ((1500, 2000, 2500, 3500), (0, 300, 450, 950)),
}


def contains(outer: tuple[float, ...], inner: tuple[float, ...]) -> bool:
    """Whether box ``outer`` contains box ``inner`` (both ``(x0, y0, x1, y1)``)."""
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """Whether boxes ``a`` and ``b`` (``(x0, y0, x1, y1)``) share any area."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
