"""A disk cache of preprocessed mammograms, so that training epochs never recompute CLAHE (paper §3.1).

Each image goes once through :func:`~corrrelax_lib.preprocess.pipeline.preprocess_mammogram`
(read, CLAHE fusion, ROI crop); the fused image is stored as an 8-bit lossless PNG beside a
JSON record of its ROI and of the preprocessing parameters::

    <cache_dir>/<image_id>.png    # (h, w, 3) uint8, ROI-cropped; channels original, CLAHE 1.0, CLAHE 2.0
    <cache_dir>/<image_id>.json   # {"roi": [x0, y0, x1, y1], "source": ..., "preprocessing": {...},
                                  #  "intensity": {...}, "clahe_bits": ...}

``preprocessing`` is the :class:`~corrrelax_lib.config.ImagePreprocessing` the image was made with (VOI LUT,
CLAHE clip limits, tiles, histogram depth, background); ``clahe_bits`` the histogram depth that gave.

``intensity`` records what turned the file's stored values into [0, 1] (photometric
interpretation, PresentationLUTShape, VOI LUT or window applied, inversion, bits stored,
rescale, stored range; see :class:`~corrrelax_lib.io.mammogram.IntensityRecord`).

Both files are written atomically, the JSON last: an image is cached exactly when its JSON
exists. Processes filling the same cache concurrently at worst compute an image twice.
Images are keyed by ``image_id`` alone: use one cache folder per dataset and parameter set
(:meth:`PreprocessedImageStore.in_artifacts`, the one way the library builds a store, keeps it in
:func:`default_cache_dir` under a profile's artifacts folder).
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from corrrelax_lib.config import ImagePreprocessing, config_as_dict
from corrrelax_lib.data.vindr import image_path
from corrrelax_lib.io.atomic import atomic_path, atomic_write_text
from corrrelax_lib.preprocess.pipeline import PAPER_PREPROCESSING, preprocess_mammogram
from corrrelax_lib.preprocess.roi import Box


class CachedImageError(ValueError):
    """A cache file that cannot be read back; the message names the file."""


@dataclass(frozen=True)
class StoredImage:
    """One preprocessed mammogram as the crop dataset reads it.

    Attributes:
        image: ``(h, w, 3)`` uint8, ROI-cropped fused CLAHE image (``round(255 × value)``), read-only.
        roi: ``(x0, y0, x1, y1)`` of the crop in the original image, pixels, exclusive end.
    """

    image: np.ndarray
    roi: Box


def default_cache_dir(artifacts_dir: str | os.PathLike[str], preprocessing: ImagePreprocessing) -> Path:
    """``<artifacts_dir>/cache/preprocessed-clahe<limits>-tiles<grid>[-voi][-8bit][-bg0]``, one folder per
    parameter set; the suffixes name the options that are on (VOI LUT, 8-bit CLAHE, zero background).

    >>> default_cache_dir("artifacts/tiny", ImagePreprocessing()).as_posix()
    'artifacts/tiny/cache/preprocessed-clahe1-2-tiles8'
    >>> default_cache_dir("artifacts/tiny", ImagePreprocessing(apply_voi_lut=True, clahe_histogram="8-bit",
    ...                                                        clahe_background="zero")).name
    'preprocessed-clahe1-2-tiles8-voi-8bit-bg0'
    """
    limits = "-".join(f"{float(limit):g}" for limit in preprocessing.clahe_clip_limits)
    options = "".join(suffix for suffix, on in (("-voi", preprocessing.apply_voi_lut),
                                                ("-8bit", preprocessing.clahe_histogram == "8-bit"),
                                                ("-bg0", preprocessing.clahe_background == "zero")) if on)
    name = f"preprocessed-clahe{limits}-tiles{int(preprocessing.clahe_tile_grid)}{options}"
    return Path(artifacts_dir) / "cache" / name


class PreprocessedImageStore:
    """Preprocessed mammograms of a dataset root, computed once and cached on disk and in memory.

    Args:
        data_root: dataset root in the VinDr-Mammo layout.
        cache_dir: where PNG + JSON pairs go (see :func:`default_cache_dir`).
        preprocessing: what each image goes through (§3.1; default the paper's: CLAHE 1.0 and 2.0 on
            8 × 8 tiles, no VOI LUT).
        memory_items: decoded images kept in an in-memory LRU (per process; a full-resolution
            VinDr-Mammo image takes about 15 MB).

    >>> preprocessing = study.config.preprocessing  # doctest: +SKIP
    >>> store = PreprocessedImageStore.in_artifacts(data_root, artifacts_dir, preprocessing)  # doctest: +SKIP
    >>> stored = store.get(study_id, image_id)  # doctest: +SKIP
    >>> stored.image.shape, stored.image.dtype, stored.roi  # doctest: +SKIP
    ((3518, 1650, 3), dtype('uint8'), (0, 0, 1650, 3518))
    """

    def __init__(
        self,
        data_root: str | os.PathLike[str],
        cache_dir: str | os.PathLike[str],
        preprocessing: ImagePreprocessing = PAPER_PREPROCESSING,
        *,
        memory_items: int = 256,
    ) -> None:
        self.data_root = Path(data_root)
        self.cache_dir = Path(cache_dir)
        self.preprocessing = ImagePreprocessing.of(preprocessing)
        self.memory_items = int(memory_items)
        self._memory: OrderedDict[str, StoredImage] = OrderedDict()

    @classmethod
    def in_artifacts(
        cls, data_root: str | os.PathLike[str], artifacts_dir: str | os.PathLike[str],
        preprocessing: ImagePreprocessing,
    ) -> PreprocessedImageStore:
        """The store of a profile's artifacts folder: its cache is :func:`default_cache_dir` of ``preprocessing``,
        shared by the classifier's training, LEM's, the test images and the example crops."""
        return cls(data_root, default_cache_dir(artifacts_dir, preprocessing), preprocessing)

    def get(self, study_id: str, image_id: str) -> StoredImage:
        """The preprocessed image: from memory, else from the disk cache, else computed and cached.

        Raises:
            MammogramReadError, EmptyBreastError: from preprocessing; the message names the source file.
            CachedImageError: a cached PNG or JSON that cannot be read; the message names it.
        """
        if image_id in self._memory:
            self._memory.move_to_end(image_id)
            return self._memory[image_id]
        stored = self._read(image_id) or self._compute(study_id, image_id)
        if self.memory_items > 0:
            self._memory[image_id] = stored
            if len(self._memory) > self.memory_items:
                self._memory.popitem(last=False)
        return stored

    def warm(self, samples: pd.DataFrame, workers: int = 1) -> None:
        """Preprocess every image of ``samples`` not yet in the disk cache.

        Args:
            samples: frame with ``study_id`` and ``image_id`` columns (e.g. ``finding_samples``).
            workers: processes; 1 runs in this process.
        """
        pairs = samples[["study_id", "image_id"]].drop_duplicates("image_id").itertuples(index=False)
        missing = [(study_id, image_id) for study_id, image_id in pairs if self._record(image_id) is None]
        with tqdm(total=len(missing), desc="preprocess", disable=not missing) as progress:
            if workers <= 1 or len(missing) <= 1:
                for study_id, image_id in missing:
                    self._compute(study_id, image_id)
                    progress.update()
                return
            with ProcessPoolExecutor(max_workers=workers) as pool:
                study_ids, image_ids = zip(*missing, strict=True)
                for _ in pool.map(self._compute_only, study_ids, image_ids):
                    progress.update()

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the in-memory images (for process pools)."""
        return {**self.__dict__, "_memory": OrderedDict()}

    def _paths(self, image_id: str) -> tuple[Path, Path]:
        """``(png, json)`` cache files of an image."""
        return self.cache_dir / f"{image_id}.png", self.cache_dir / f"{image_id}.json"

    def _parameters(self) -> dict[str, Any]:
        """What a cached image's record must say it was made with, as JSON stores it.

        A record without it (written before the preprocessing options existed) does not match: the image is recomputed.
        """
        return {"preprocessing": config_as_dict(self.preprocessing)}

    def _record(self, image_id: str) -> dict[str, Any] | None:
        """The cached JSON record if it exists and was made with this store's parameters."""
        json_file = self._paths(image_id)[1]
        if not json_file.is_file():
            return None
        try:
            record = json.loads(json_file.read_text())
        except (OSError, ValueError) as error:
            raise CachedImageError(f"{json_file}: unreadable cache record ({error}); delete it to recompute") from error
        same = all(name in record and record[name] == value for name, value in self._parameters().items())
        return record if same else None

    def _read(self, image_id: str) -> StoredImage | None:
        """The cached image, or ``None`` when absent or made with other parameters."""
        record = self._record(image_id)
        if record is None:
            return None
        png_file = self._paths(image_id)[0]
        bgr = cv2.imread(str(png_file), cv2.IMREAD_COLOR)
        if bgr is None or list(bgr.shape) != record["shape"]:
            raise CachedImageError(
                f"{png_file}: cached image is unreadable or not of shape {record['shape']}; delete it to recompute"
            )
        return _stored(np.ascontiguousarray(bgr[..., ::-1]), record["roi"])

    def _compute(self, study_id: str, image_id: str) -> StoredImage:
        """Preprocess one image and write its PNG, then its JSON record."""
        source = image_path(self.data_root, study_id, image_id)
        mammogram = preprocess_mammogram(source, preprocessing=self.preprocessing)
        image = np.round(np.clip(mammogram.image, 0.0, 1.0) * 255.0).astype(np.uint8)
        png_file, json_file = self._paths(image_id)
        with atomic_path(png_file) as tmp:
            # OpenCV writes BGR: reverse the channels so that reading back (and reversing) gives `image`.
            if not cv2.imwrite(str(tmp), np.ascontiguousarray(image[..., ::-1])):
                raise OSError(f"{png_file}: OpenCV could not write the cached image")
        record = {
            "image_id": image_id, "source": str(source), "roi": list(mammogram.roi), "shape": list(image.shape),
            **self._parameters(), "intensity": mammogram.intensity.to_dict(), "clahe_bits": mammogram.clahe_bits,
        }
        atomic_write_text(json_file, json.dumps(record, indent=1) + "\n")
        return _stored(image, mammogram.roi)

    def _compute_only(self, study_id: str, image_id: str) -> None:
        """:meth:`_compute` without sending the image back (process-pool task)."""
        self._compute(study_id, image_id)


def _stored(image: np.ndarray, roi: Sequence[int]) -> StoredImage:
    """A read-only :class:`StoredImage` (it may be shared through the in-memory cache)."""
    image.setflags(write=False)
    x0, y0, x1, y1 = (int(value) for value in roi)
    return StoredImage(image=image, roi=(x0, y0, x1, y1))
