"""The few numbers that define a phantom dataset; everything else follows from the seed."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

VIEWS_PER_PATIENT = 4  # L/R x CC/MLO, one study per patient
MAX_BOXES_PER_IMAGE = 3


@dataclass(frozen=True)
class PhantomConfig:
    """Size, split and lesion load of a synthetic VinDr-Mammo-like dataset.

    Attributes:
        seed: master seed; every id, UID, date, geometry and pixel derives from it.
        n_patients: patients, each with one study of 4 images (L/R x CC/MLO).
        test_fraction: fraction of patients in the ``test`` split (split by patient).
        image_height_range: inclusive range of image heights, pixels (one height per study).
        width_ratio_range: image width / height, drawn uniformly per study.
        finding_image_fraction: fraction of the images of each split with >= 1 annotated box.
        boxes_per_finding_image: mean number of boxes on an image with findings (1 to 3).
        texture_beta: exponent of the 1/f^beta power spectrum of the fibroglandular texture.
        full_size_studies: training studies rendered at VinDr-Mammo's full size instead (seeded choice), so
            that the data the tests and the book use contain real-sized images.
        full_size_height_range: inclusive range of their heights, pixels (VinDr-Mammo: 2812-3580, mean 3387).
        edge_crossing_fraction: fraction of all boxes drawn a few pixels past the image edge, as about 2 % of
            VinDr-Mammo's are (seeded choice among the boxes nearest an edge; none lies entirely outside).

    >>> PhantomConfig(n_patients=3).n_images
    12
    """

    seed: int = 0
    n_patients: int = 40
    test_fraction: float = 0.2
    image_height_range: tuple[int, int] = (560, 720)
    width_ratio_range: tuple[float, float] = (0.72, 0.85)
    finding_image_fraction: float = 0.5
    boxes_per_finding_image: float = 1.6
    texture_beta: float = 3.0
    full_size_studies: int = 0
    full_size_height_range: tuple[int, int] = (3300, 3500)
    edge_crossing_fraction: float = 0.0

    def __post_init__(self) -> None:
        low, high = self.image_height_range
        if self.n_patients < 1:
            raise ValueError(f"n_patients must be >= 1, got {self.n_patients}")
        if not 0.0 <= self.test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in [0, 1), got {self.test_fraction}")
        if not 128 <= low <= high:
            raise ValueError(f"image_height_range must satisfy 128 <= low <= high, got {self.image_height_range}")
        if not 0.0 < self.width_ratio_range[0] <= self.width_ratio_range[1] <= 1.0:
            raise ValueError(f"width_ratio_range must lie in (0, 1], got {self.width_ratio_range}")
        if not 0.0 <= self.finding_image_fraction <= 1.0:
            raise ValueError(f"finding_image_fraction must be in [0, 1], got {self.finding_image_fraction}")
        if not 1.0 <= self.boxes_per_finding_image <= MAX_BOXES_PER_IMAGE:
            raise ValueError(f"boxes_per_finding_image must be in [1, {MAX_BOXES_PER_IMAGE}]")
        n_training = self.n_patients - self.n_test_patients
        if not 0 <= self.full_size_studies <= n_training:
            raise ValueError(f"full_size_studies must be in [0, {n_training}] (the training studies), "
                             f"got {self.full_size_studies}")
        if not 0.0 <= self.edge_crossing_fraction <= 0.1:
            raise ValueError(f"edge_crossing_fraction must be in [0, 0.1], got {self.edge_crossing_fraction}")
        if not 128 <= self.full_size_height_range[0] <= self.full_size_height_range[1]:
            raise ValueError(f"full_size_height_range must satisfy 128 <= low <= high, "
                             f"got {self.full_size_height_range}")

    @property
    def n_test_patients(self) -> int:
        """Patients in the ``test`` split: ``round(test_fraction * n_patients)``, at least 1 and leaving 1."""
        if self.test_fraction == 0:
            return 0
        return min(self.n_patients - 1, max(1, round(self.test_fraction * self.n_patients)))

    @property
    def n_images(self) -> int:
        """Number of images (= DICOM files) in the dataset."""
        return self.n_patients * VIEWS_PER_PATIENT

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> PhantomConfig:
        """Build a config from plain values (lists become tuples); unknown keys raise ``TypeError``."""
        return cls(**{key: tuple(value) if isinstance(value, list) else value for key, value in values.items()})

    @classmethod
    def from_manifest(cls, path: str | os.PathLike[str]) -> PhantomConfig:
        """Read the ``generator:`` mapping of a YAML data manifest (``data_manifests/phantom-tiny.yml``)."""
        with open(path, encoding="utf-8") as handle:
            manifest = yaml.safe_load(handle)
        return cls.from_dict(manifest["generator"])

    def to_dict(self) -> dict[str, Any]:
        """Plain YAML/JSON-ready values (tuples become lists), the inverse of :meth:`from_dict`."""
        return {
            key: list(value) if isinstance(value, tuple) else value for key, value in dataclasses.asdict(self).items()
        }
