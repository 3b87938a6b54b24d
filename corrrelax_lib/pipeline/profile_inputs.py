"""What every CorRELAX chapter starts from: the profile's trained classifier and its annotated test images."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from corrrelax_lib.attribution.correlax import CorRELAX
from corrrelax_lib.attribution.correlax_maps import CorrelaxMaps
from corrrelax_lib.data.image_store import PreprocessedImageStore, default_cache_dir
from corrrelax_lib.data.labels import LABELS, NO_FINDING
from corrrelax_lib.data.vindr import finding_samples, findings_sha256, read_finding_annotations
from corrrelax_lib.pipeline.annotated_images import AnnotatedImage, annotated_test_images
from corrrelax_lib.pipeline.correlax_images import explain_images, maps_directory, profile_explainer
from corrrelax_lib.training.config import profile_training_config
from corrrelax_lib.training.run import ClassifierRun, train_classifier

#: The findings whose maps are scored (Table 4): every label but No Finding.
FINDINGS: tuple[str, ...] = tuple(label for label in LABELS if label != NO_FINDING)


@dataclass(frozen=True)
class ProfileInputs:
    """The classifier of chapter 04 and the test images with at least one finding (boxes in ROI pixels)."""

    run: ClassifierRun
    images: list[AnnotatedImage]


def profile_inputs(parameters: Mapping[str, Any]) -> ProfileInputs:
    """Load (or train, once) the profile's classifier and read its annotated test images.

    Args:
        parameters: a notebook's parameters: those of :func:`profile_training_config` plus
            ``data_root``, ``artifacts_dir`` and ``progress``.
    """
    data_root, artifacts_dir = parameters["data_root"], parameters["artifacts_dir"]
    config = profile_training_config(parameters, findings_sha256(data_root))
    samples = finding_samples(read_finding_annotations(f"{data_root}/finding_annotations.csv"))
    run = train_classifier(config, samples, data_root, artifacts_dir, progress=parameters["progress"])
    store = PreprocessedImageStore(
        data_root, default_cache_dir(artifacts_dir, parameters["clahe_clip_limits"], parameters["clahe_tile_grid"]))
    return ProfileInputs(run, annotated_test_images(samples, store, FINDINGS))


def profile_maps(parameters: Mapping[str, Any], inputs: ProfileInputs) -> tuple[CorRELAX, dict[str, CorrelaxMaps]]:
    """The profile's CorRELAX maps of every annotated test image, computed once and cached per image.

    Correlations after a quarter and half of the masks are kept too (the explorer's mask choice).
    """
    n_masks = parameters["n_masks"]
    checkpoints = sorted({n_masks // 4, n_masks // 2} - {0})
    explainer = profile_explainer(inputs.run.model, parameters, LABELS, checkpoints=checkpoints,
                                  progress=parameters["progress"])
    directory = maps_directory(parameters["artifacts_dir"], inputs.run.directory.name, explainer)
    return explainer, explain_images(explainer, inputs.images, directory, progress=parameters["progress"])
