"""Explain runs sharing one folder split the images: each image is computed once, by one of them."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from corrrelax_lib.distributed.context import DistributedContext
from corrrelax_lib.distributed.explain import artifact_path, explain_missing, image_parameters
from corrrelax_lib.io.artifacts import write_artifact
from corrrelax_lib.io.claims import try_claim
from corrrelax_lib.testing.explain_job import PATCHES, run_job, synthetic_images, tiny_explainer
from corrrelax_lib.testing.processes import job_command, run_together

IMAGE_IDS = sorted(PATCHES)


def test_two_explain_runs_started_together_on_one_folder_compute_each_image_once(tmp_path):
    maps = tmp_path / "maps"
    commands = [job_command("corrrelax_lib.testing.explain_job", maps, tmp_path / f"table{run}.csv",
                            "--report", tmp_path / f"report{run}", "--wait-for-start") for run in (0, 1)]
    results = run_together(commands)
    assert [result.returncode for result in results] == [0, 0], [result.stderr[-3000:] for result in results]
    computed = [json.loads((tmp_path / f"report{run}" / "rank0.json").read_text()) for run in (0, 1)]
    assert sorted(computed[0] + computed[1]) == IMAGE_IDS  # every image by exactly one of the runs
    # Both tables are the table of one run alone; no claim or partial file is left.
    reference = tmp_path / "reference"
    run_job(reference / "maps", reference / "table.csv", DistributedContext())
    for run in (0, 1):
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / f"table{run}.csv", index_col=0),
                                      pd.read_csv(reference / "table.csv", index_col=0))
    assert sorted(p.name for p in maps.iterdir()) == sorted(
        f"{image_id}.{suffix}" for image_id in IMAGE_IDS for suffix in ("json", "npz"))


class _CountingExplainFn:
    """The tiny explainer's maps, recording each image computed; ``done_with_others`` is set once every image
    but ``held`` is computed."""

    def __init__(self, held: str) -> None:
        self.explainer, self.held, self.seen = tiny_explainer(), held, []
        self.done_with_others = threading.Event()

    def __call__(self, image):
        self.seen.append(image.image_id)
        if len(set(self.seen) - {self.held}) == len(IMAGE_IDS) - 1:
            self.done_with_others.set()
        return self.explainer.explain(image.image, np.ones(image.image.shape[:2], dtype=bool))


@pytest.mark.parametrize("owner_finishes", [True, False], ids=["owner writes it", "owner gives up"])
def test_an_image_claimed_by_a_live_owner_is_waited_for_and_computed_only_if_the_owner_gives_up(
    tmp_path: Path, owner_finishes: bool,
):
    images, explain_fn = synthetic_images(), _CountingExplainFn(held="img0")
    parameters = explain_fn.explainer.parameters
    claim = try_claim(artifact_path(tmp_path, "img0"))  # the owner: this test, a live process
    with ThreadPoolExecutor(1) as pool:
        run = pool.submit(explain_missing, explain_fn, images, tmp_path, parameters)
        assert explain_fn.done_with_others.wait(timeout=60)  # the run went past img0 to the other images
        if owner_finishes:
            maps = tiny_explainer().explain(images[0].image, np.ones(images[0].image.shape[:2], dtype=bool))
            write_artifact(artifact_path(tmp_path, "img0"), maps.save, image_parameters(parameters, "img0"))
        claim.release()
        computed = run.result(timeout=60)
    others = [image_id for image_id in IMAGE_IDS if image_id != "img0"]
    assert computed == (others if owner_finishes else [*others, "img0"])
    assert explain_fn.seen == computed
