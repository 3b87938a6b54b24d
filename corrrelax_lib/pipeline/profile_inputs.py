"""What every CorRELAX chapter starts from: the profile's trained classifier and its annotated test images."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from corrrelax_lib.attribution.correlax import CorRELAX
from corrrelax_lib.attribution.correlax_maps import CorrelaxMaps
from corrrelax_lib.data.cbis_ddsm import cbis_ddsm_files
from corrrelax_lib.data.image_store import PreprocessedImageStore, default_cache_dir
from corrrelax_lib.data.labels import LABELS, NO_FINDING
from corrrelax_lib.data.vindr import finding_samples, findings_sha256, read_finding_annotations
from corrrelax_lib.distributed.context import DistributedContext
from corrrelax_lib.pipeline.annotated_images import AnnotatedImage, annotated_test_images
from corrrelax_lib.pipeline.correlax_images import explain_images, maps_directory, profile_explainer
from corrrelax_lib.pipeline.external_images import explain_external_images, external_maps_directory
from corrrelax_lib.training.config import profile_training_config
from corrrelax_lib.training.run import ClassifierRun, run_directory, train_classifier

#: The findings whose maps are scored (Table 4): every label but No Finding.
FINDINGS: tuple[str, ...] = tuple(label for label in LABELS if label != NO_FINDING)


@dataclass(frozen=True)
class ProfileInputs:
    """The classifier of chapter 04 and the test images with at least one finding (boxes in ROI pixels)."""

    run: ClassifierRun
    images: list[AnnotatedImage]


def profile_classifier(
    parameters: Mapping[str, Any], context: DistributedContext | None = None, *, train: bool = True,
) -> ClassifierRun:
    """The profile's classifier (chapter 04): loaded, or trained once (with DDP under ``torchrun``).

    Args:
        parameters: a notebook's parameters: those of :func:`profile_training_config` plus
            ``data_root``, ``artifacts_dir`` and ``progress``.
        context: this process in a ``torchrun`` job; default a single process.
        train: if false, a classifier that was not trained yet is an error instead.

    Raises:
        FileNotFoundError: ``train`` is false and the run has no ``model.pt`` (the message names it).
    """
    data_root, artifacts_dir = parameters["data_root"], parameters["artifacts_dir"]
    config = profile_training_config(parameters, findings_sha256(data_root))
    if not train and not (run_directory(artifacts_dir, config) / "model.pt").is_file():
        raise FileNotFoundError(f"{run_directory(artifacts_dir, config) / 'model.pt'}: the profile's classifier "
                                "is not trained yet (run `corrrelax train` first)")
    return train_classifier(config, _samples(data_root), data_root, artifacts_dir, progress=parameters["progress"],
                            context=context)


def profile_inputs(
    parameters: Mapping[str, Any], context: DistributedContext | None = None, *, train: bool = True,
) -> ProfileInputs:
    """Load (or train, once) the profile's classifier and read its annotated test images.

    Args:
        parameters, context, train: as :func:`profile_classifier`.
    """
    data_root, artifacts_dir = parameters["data_root"], parameters["artifacts_dir"]
    run = profile_classifier(parameters, context, train=train)
    store = PreprocessedImageStore(
        data_root, default_cache_dir(artifacts_dir, parameters["clahe_clip_limits"], parameters["clahe_tile_grid"]))
    return ProfileInputs(run, annotated_test_images(_samples(data_root), store, FINDINGS))


def profile_correlax(parameters: Mapping[str, Any], inputs: ProfileInputs) -> tuple[CorRELAX, Path]:
    """The profile's :class:`CorRELAX` and the folder of its maps (one artifact per image).

    Correlations after a quarter and half of the masks are kept too (the explorer's mask choice).
    ``corrrelax explain`` and :func:`profile_maps` share both, so either reads what the other wrote.
    """
    n_masks = parameters["n_masks"]
    checkpoints = sorted({n_masks // 4, n_masks // 2} - {0})
    explainer = profile_explainer(inputs.run.model, parameters, LABELS, checkpoints=checkpoints,
                                  progress=parameters["progress"])
    return explainer, maps_directory(parameters["artifacts_dir"], inputs.run.directory.name, explainer)


def profile_maps(
    parameters: Mapping[str, Any], inputs: ProfileInputs, context: DistributedContext | None = None,
) -> tuple[CorRELAX, dict[str, CorrelaxMaps]]:
    """The profile's CorRELAX maps of every annotated test image, computed once and cached per image.

    Chapter 05 and ``corrrelax explain`` both call this; under ``torchrun`` (``context``) each rank
    computes its share of the images.
    """
    explainer, directory = profile_correlax(parameters, inputs)
    return explainer, explain_images(explainer, inputs.images, directory, context, progress=parameters["progress"])


def profile_external_maps(
    parameters: Mapping[str, Any], inputs: ProfileInputs, context: DistributedContext | None = None,
) -> tuple[pd.DataFrame, list[AnnotatedImage], dict[str, CorrelaxMaps]]:
    """Figure 6: the eight CBIS-DDSM scans (:mod:`corrrelax_lib.data.cbis_ddsm`) explained as the test images are.

    Reads ``external_image_height`` (rows each scan is resampled to), the CLAHE settings and those of
    :func:`profile_correlax`. Returns the scans' manifest rows, the preprocessed scans and their maps,
    computed once per scan and cached under ``<artifacts_dir>/external/`` (shared across ``context``'s ranks).
    """
    explainer, _ = profile_correlax(parameters, inputs)
    preprocessing = {"image_height": parameters["external_image_height"],
                     "clip_limits": list(parameters["clahe_clip_limits"]), "tile_grid": parameters["clahe_tile_grid"]}
    directory = external_maps_directory(parameters["artifacts_dir"], inputs.run.directory.name, explainer,
                                        preprocessing)
    files = cbis_ddsm_files()
    images, maps = explain_external_images(explainer, files, directory, context, **preprocessing,
                                           progress=parameters["progress"])
    return files, images, maps


def _samples(data_root: str | os.PathLike[str]) -> pd.DataFrame:
    """:func:`finding_samples` of the data root's annotations."""
    return finding_samples(read_finding_annotations(f"{data_root}/finding_annotations.csv"))
