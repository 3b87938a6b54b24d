"""Embedded, deterministic phantom mammograms in exactly the VinDr-Mammo layout.

All images are SYNTHETIC (generated from a seed, no patient data). They stand in for
VinDr-Mammo wherever the real data are unavailable (tests, the ``tiny`` book profile):
same folder layout, same CSV columns, same DICOM quirks (MONOCHROME1/2, 12-16 bits in
16-bit containers, VOI windows and a VOI LUT Sequence, PresentationLUTShape, compressed
transfer syntaxes), the same annotation quirks (a few boxes reaching past the image edge),
lesions of all 10 finding categories with boxes, and optionally studies at VinDr-Mammo's
full size among the small ones.

Modules, in the order the data flow: ``config`` (the knobs), ``plan`` (patients, splits,
findings, boxes; no pixels) using ``identifiers`` (seeded ids, UIDs, dates), ``anatomy``
(breast geometry), ``placement`` (lesion geometry) and ``film_labels``; ``render``
(pixels) using ``tissue`` (texture, skin, muscle) and ``lesions`` (one drawer per lesion
kind); ``dicom`` (encoding); ``writer`` (the dataset on disk).

>>> from corrrelax_lib.data.phantom import PhantomConfig, write_phantom_dataset
>>> write_phantom_dataset("data/phantom-tiny", PhantomConfig())  # doctest: +SKIP
"""

from corrrelax_lib.data.phantom.config import PhantomConfig
from corrrelax_lib.data.phantom.plan import Finding, ImagePlan, annotation_tables, plan_phantom_dataset
from corrrelax_lib.data.phantom.render import render_phantom_image
from corrrelax_lib.data.phantom.writer import csv_sha256, planned_csv_sha256, write_phantom_dataset

__all__ = [
    "Finding",
    "ImagePlan",
    "PhantomConfig",
    "annotation_tables",
    "csv_sha256",
    "plan_phantom_dataset",
    "planned_csv_sha256",
    "render_phantom_image",
    "write_phantom_dataset",
]
