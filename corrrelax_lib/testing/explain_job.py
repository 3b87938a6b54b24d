"""A CorRELAX job small enough for tests, runnable alone or under ``torchrun``, that can crash on purpose.

Four synthetic 48 × 64 images, each with one bright 8 × 8 patch boxed as label ``"a"``, explained by
:class:`~corrrelax_lib.testing.models.QuadrantMeans` with tiny settings (window 16, stride 8, 16 masks):
a job takes about a second per process. Run as::

    python -m torch.distributed.run --nproc_per_node 2 -m corrrelax_lib.testing.explain_job \\
        MAPS_DIR TABLE_CSV [--report REPORT_DIR] [--crash-rank 1 --crash-after 1]
    python -m corrrelax_lib.testing.explain_job MAPS_DIR TABLE_CSV --report REPORT_DIR --wait-for-start

Each rank computes its shard (:func:`~corrrelax_lib.distributed.explain.explain_shard`), writes the
``image_id`` it computed to ``REPORT_DIR/rank<r>.json``, and rank 0 gathers Table 4 into ``TABLE_CSV``.
With ``--crash-rank R --crash-after N`` rank ``R`` computes ``N`` images, then dies (``os._exit(3)``)
half-way through writing the next: what a preempted or killed process leaves behind. With
``--wait-for-start`` (one process, not under ``torchrun``) the job starts explaining on
:func:`~corrrelax_lib.testing.processes.run_together`'s signal: several jobs on one folder at once.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import torch

from corrrelax_lib.attribution.correlax import CorRELAX
from corrrelax_lib.attribution.correlax_maps import CorrelaxMaps
from corrrelax_lib.distributed.context import DistributedContext
from corrrelax_lib.distributed.explain import explain_shard
from corrrelax_lib.io.atomic import atomic_write_text
from corrrelax_lib.pipeline.annotated_images import AnnotatedImage
from corrrelax_lib.pipeline.correlax_images import pointing_game_from_artifacts
from corrrelax_lib.testing.models import QuadrantMeans
from corrrelax_lib.testing.processes import wait_for_start

LABELS: tuple[str, ...] = ("a", "b")

#: Where each image's bright patch starts, ``(y, x)`` in pixels.
PATCHES: dict[str, tuple[int, int]] = {"img0": (8, 8), "img1": (24, 40), "img2": (8, 48), "img3": (32, 16)}

#: Boxes of label ``"b"`` (which the model predicts from darkness), ``(x0, y0, x1, y1)``: far from the patch
#: on one image, on it on another, so that the job's table has hits and misses.
B_BOXES: dict[str, tuple[int, int, int, int]] = {"img0": (48, 32, 63, 47), "img2": (48, 8, 56, 16)}

#: Pointing-game tolerance of the job, pixels.
TOLERANCE = 8


def synthetic_images() -> list[AnnotatedImage]:
    """The job's four ``(48, 64, 3)`` uint8 images: dark, one bright 8 × 8 patch with label ``"a"`` boxed on it,
    and on two images a box of label ``"b"`` (:data:`B_BOXES`)."""
    images = []
    for image_id, (y, x) in PATCHES.items():
        pixels = np.full((48, 64, 3), 40, dtype=np.uint8)
        pixels[y:y + 8, x:x + 8] = 250
        boxes = {"a": np.array([[x, y, x + 8, y + 8]], float)}
        if image_id in B_BOXES:
            boxes["b"] = np.array([B_BOXES[image_id]], float)
        images.append(AnnotatedImage("study", image_id, pixels, boxes))
    return images


def tiny_explainer() -> CorRELAX:
    """CorRELAX on :class:`QuadrantMeans` (``"a"`` from the top-left quadrant): window 16, stride 8, 16 masks."""
    model = QuadrantMeans(torch.tensor([[4.0, -4.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]), torch.zeros(2))
    return CorRELAX(model, LABELS, window_size=16, stride=8, n_masks=16, mask_chunk=16, min_foreground=0.0,
                    seed=0, progress=False)


class _KilledWhileSaving:
    """A result whose ``save`` writes half a file and kills the process (no clean-up runs)."""

    def save(self, path: str | os.PathLike[str]) -> None:
        with open(path, "wb") as handle:
            handle.write(b"PK\x03\x04 half an npz")
            handle.flush()
        os._exit(3)


def run_job(
    maps_dir: Path, table_csv: Path, context: DistributedContext, *, report_dir: Path | None = None,
    crash_rank: int | None = None, crash_after: int = 0,
) -> list[str]:
    """Explain this rank's shard, report what it computed, and (rank 0) write Table 4 as CSV.

    Returns:
        The ``image_id`` this rank computed.
    """
    explainer, images = tiny_explainer(), synthetic_images()
    calls = 0

    def explain_fn(image: AnnotatedImage) -> CorrelaxMaps | _KilledWhileSaving:
        nonlocal calls
        calls += 1
        if context.rank == crash_rank and calls > crash_after:
            return _KilledWhileSaving()
        # The synthetic images are not mammograms: every pixel counts as breast.
        return explainer.explain(image.image, np.ones(image.image.shape[:2], dtype=bool))

    computed = explain_shard(explain_fn, images, maps_dir, explainer.parameters, context)
    if report_dir is not None:
        atomic_write_text(report_dir / f"rank{context.rank}.json", json.dumps(computed))
    if context.is_main:
        table = pointing_game_from_artifacts(images, maps_dir, explainer.parameters, LABELS, tolerance=TOLERANCE)
        atomic_write_text(table_csv, table.to_csv())
    return computed


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m corrrelax_lib.testing.explain_job``."""
    parser = argparse.ArgumentParser(prog="python -m corrrelax_lib.testing.explain_job", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("maps_dir", type=Path)
    parser.add_argument("table_csv", type=Path)
    parser.add_argument("--report", type=Path, help="folder for rank<r>.json: the images each rank computed")
    parser.add_argument("--crash-rank", type=int, help="this rank dies while writing an image")
    parser.add_argument("--crash-after", type=int, default=0, help="images the crashing rank finishes first")
    parser.add_argument("--wait-for-start", action="store_true", help="start on run_together's signal")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.wait_for_start:
        wait_for_start()
    with DistributedContext.from_env(backend="gloo") as context:
        run_job(args.maps_dir, args.table_csv, context, report_dir=args.report, crash_rank=args.crash_rank,
                crash_after=args.crash_after)


if __name__ == "__main__":
    main()
