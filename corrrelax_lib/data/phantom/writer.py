"""Write a whole phantom dataset in VinDr-Mammo's layout, atomically and byte-reproducibly.

    root/images/<study_id>/<image_id>.dicom
    root/finding_annotations.csv
    root/breast-level_annotations.csv

Files are written into a hidden sibling directory that is renamed onto ``root`` only once
complete, so ``root`` is either absent or whole. The CSVs are written last and mark a
complete dataset. Images are independent (own seed), so rendering them in parallel gives
the same bytes as rendering them one by one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from itertools import repeat
from pathlib import Path

from corrrelax_lib.data.phantom.config import PhantomConfig
from corrrelax_lib.data.phantom.dicom import encode_dicom
from corrrelax_lib.data.phantom.plan import ImagePlan, annotation_tables, plan_phantom_dataset
from corrrelax_lib.data.phantom.render import render_phantom_image
from corrrelax_lib.data.vindr import BREAST_CSV, FINDINGS_CSV

CSV_NAMES = (FINDINGS_CSV, BREAST_CSV)


def dicom_relative_path(plan: ImagePlan) -> Path:
    """``images/<study_id>/<image_id>.dicom``, as in VinDr-Mammo."""
    return Path("images", plan.ids.study_id, f"{plan.ids.image_id}.dicom")


def annotation_csv_texts(plans: Sequence[ImagePlan]) -> dict[str, str]:
    """The two annotation CSVs as text, exactly as written (boxes with 2 decimals, empty cells for NaN)."""
    findings, breasts = annotation_tables(plans)
    return {
        FINDINGS_CSV: findings.to_csv(index=False, float_format="%.2f", lineterminator="\n"),
        BREAST_CSV: breasts.to_csv(index=False, lineterminator="\n"),
    }


def planned_csv_sha256(config: PhantomConfig) -> dict[str, str]:
    """SHA-256 of both CSVs that ``config`` produces, computed from the plan alone (no pixels)."""
    texts = annotation_csv_texts(plan_phantom_dataset(config))
    return {name: hashlib.sha256(text.encode("utf-8")).hexdigest() for name, text in texts.items()}


def csv_sha256(root: str | os.PathLike[str]) -> dict[str, str]:
    """SHA-256 of both CSVs of a written dataset, keyed by file name (the manifest's ``sha256:``)."""
    return {name: hashlib.sha256((Path(root) / name).read_bytes()).hexdigest() for name in CSV_NAMES}


def is_complete(root: str | os.PathLike[str]) -> bool:
    """Whether ``root`` holds a finished dataset (both CSVs present)."""
    return all((Path(root) / name).is_file() for name in CSV_NAMES)


def _write_image(plan: ImagePlan, staging: Path) -> None:
    path = staging / dicom_relative_path(plan)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_dicom(plan, render_phantom_image(plan)))


def write_phantom_dataset(root: str | os.PathLike[str], config: PhantomConfig, *, workers: int = 1) -> Path:
    """Render and write the dataset of ``config`` at ``root``; return ``root``.

    Args:
        root: dataset directory; if it already holds a complete dataset, nothing is regenerated.
        config: what to generate.
        workers: processes rendering images in parallel (1 = in this process). Output bytes
            do not depend on it.

    Raises:
        FileExistsError: ``root`` exists but is not a complete dataset (left untouched).

    >>> write_phantom_dataset("data/phantom-tiny", PhantomConfig(), workers=2)  # doctest: +SKIP
    PosixPath('data/phantom-tiny')
    """
    root = Path(root)
    if is_complete(root):
        return root
    if root.exists():
        raise FileExistsError(f"{root} exists but is not a complete phantom dataset; remove it first")
    plans = plan_phantom_dataset(config)
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.", suffix=".part", dir=root.parent))
    try:
        if workers > 1:
            # Largest images first, one per task, so that a full-size study is spread over the workers.
            largest_first = sorted(plans, key=lambda plan: -plan.height * plan.width)
            with ProcessPoolExecutor(max_workers=workers) as pool:
                list(pool.map(_write_image, largest_first, repeat(staging)))
        else:
            for plan in plans:
                _write_image(plan, staging)
        for name, text in annotation_csv_texts(plans).items():
            (staging / name).write_text(text, encoding="utf-8")
        staging.chmod(0o755)
        try:
            staging.rename(root)
        except OSError:
            # Another writer finished first: keep its (identical) dataset.
            if not is_complete(root):
                raise
            shutil.rmtree(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return root
