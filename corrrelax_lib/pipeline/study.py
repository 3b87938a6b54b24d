"""One profile's study: its typed settings, where its data and artifacts live, and what the chapters read.

A :class:`Study` is opened from a profile (``Study.open("tiny")``) and hands out, each computed once and
kept as a checksummed artifact under ``<artifacts>/<profile>/``: the trained classifier (chapter 04),
the annotated test images, the CorRELAX maps of every test image (chapter 05), every baseline's maps
(chapter 08), LEM's (chapter 09) and those of the scans from another site (chapter 11). The command
line (``corrrelax train | explain``) and the chapters go through the same methods, so whichever runs
first computes and the other reads. Every folder of results is named by
:func:`~corrrelax_lib.io.artifacts.parameters_key` of what made it.

>>> study = Study.open("tiny")                       # doctest: +SKIP
>>> maps = study.correlax_maps()                     # doctest: +SKIP
>>> maps[study.test_images()[0].image_id].pixel_map("prediction", "Mass").shape  # doctest: +SKIP
(612, 402)
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from corrrelax_lib.attribution import BASELINES
from corrrelax_lib.attribution.correlax import CorRELAX
from corrrelax_lib.attribution.correlax_maps import CorrelaxMaps
from corrrelax_lib.attribution.explainer import HEATMAP, Explainer
from corrrelax_lib.attribution.lem_map import LEM, LEMScoreMap
from corrrelax_lib.attribution.roi_explainer import RoiExplainer
from corrrelax_lib.config import StudyConfig, load_study_config
from corrrelax_lib.data.cbis_ddsm import cbis_ddsm_files
from corrrelax_lib.data.image_store import PreprocessedImageStore
from corrrelax_lib.data.labels import LABELS, NO_FINDING
from corrrelax_lib.data.sources import prepare_dataset
from corrrelax_lib.data.vindr import FINDINGS_CSV, finding_samples, findings_sha256, read_finding_annotations
from corrrelax_lib.distributed.context import DistributedContext
from corrrelax_lib.distributed.explain import artifact_path, image_parameters
from corrrelax_lib.distributed.gather import read_artifacts
from corrrelax_lib.io.artifacts import artifact_problem
from corrrelax_lib.metrics.pointing_game import table4_criteria
from corrrelax_lib.paths import artifacts_root, profile_path
from corrrelax_lib.pipeline.annotated_images import AnnotatedImage, annotated_test_images
from corrrelax_lib.pipeline.correlax_images import study_explainer, table4_pointing_criteria
from corrrelax_lib.pipeline.explained_images import explain_images, maps_directory, pointing_pairs
from corrrelax_lib.pipeline.external_images import explain_external_images, external_maps_directory
from corrrelax_lib.pipeline.method_comparison import CORRELAX_KINDS, MethodMaps
from corrrelax_lib.training.config import TrainingConfig, study_training_config
from corrrelax_lib.training.lem import LEMRun, study_lem_config, train_lem
from corrrelax_lib.training.run import ClassifierRun, run_directory, train_classifier

#: The findings whose maps are scored (Table 4): every label but No Finding.
FINDINGS: tuple[str, ...] = tuple(label for label in LABELS if label != NO_FINDING)

#: How each baseline mode is named in the comparison's rows.
MODE_NAMES: dict[str, str] = {"whole": "whole ROI", "windows": "windows"}

#: Baselines that mask their input and take CorRELAX's mask settings.
MASKING_METHODS: frozenset[str] = frozenset({"RISE", "RELAX"})

#: Set to ``0`` to hide progress bars (the book build does, so executed chapters hold no widget bars).
PROGRESS_ENV_VAR = "CORRRELAX_PROGRESS"


@dataclass
class Study:
    """A profile's settings and the results computed from them.

    Attributes:
        config: the validated settings (:class:`~corrrelax_lib.config.StudyConfig`).
        data_root: the dataset in the VinDr-Mammo layout (generated for phantoms).
        artifacts_dir: ``<artifacts root>/<profile>``: models, caches, maps, recorded numbers.
        progress: show progress bars while computing.
    """

    config: StudyConfig
    data_root: Path
    artifacts_dir: Path
    progress: bool = True
    _classifier_run: ClassifierRun | None = field(default=None, init=False, repr=False)

    @classmethod
    def open(cls, profile: str = "tiny", overrides: Mapping[str, Any] | None = None, *,
             progress: bool | None = None) -> Study:
        """The study of ``book/profiles/<profile>.yml`` with ``overrides`` (dotted keys), whatever the cwd.

        Paths: the artifacts go to :func:`~corrrelax_lib.paths.artifacts_root` ``/ <profile>``; the data root is
        ``$<data.data_root_env>`` for real data, else ``<artifacts>/data/<data.dataset>`` (generated), so a
        ``CORRRELAX_DATA`` set for VinDr-Mammo never leaks into the phantom study. ``progress`` defaults to
        ``$CORRRELAX_PROGRESS`` (``0`` hides the bars), else on.

        Raises:
            FileNotFoundError: no such profile (the message lists them).
            ConfigError: the profile or an override breaks the schema (file and key named).
        """
        config = load_study_config(profile_path(profile), overrides)
        artifacts_dir = artifacts_root() / config.name
        if progress is None:
            progress = os.environ.get(PROGRESS_ENV_VAR, "1") != "0"
        return cls(config, _data_root(config, artifacts_dir), artifacts_dir, progress)

    @property
    def name(self) -> str:
        """The profile's name."""
        return self.config.name

    @property
    def results_dir(self) -> Path:
        """Where the chapters record the numbers the status page shows."""
        return self.artifacts_dir / "results"

    def prepare_data(self, workers: int = 2) -> Path:
        """Generate the phantom dataset (once), or check the real one against its manifest; returns the root."""
        return prepare_dataset(self.config.data.dataset, self.data_root, workers=workers)

    @functools.cached_property
    def samples(self) -> pd.DataFrame:
        """:func:`~corrrelax_lib.data.vindr.finding_samples` of the annotations: one row per box or normal image."""
        return finding_samples(read_finding_annotations(self.data_root / FINDINGS_CSV))

    def on_device(self, device: str) -> Study:
        """This study computing its maps on ``device`` (e.g. one ``torchrun`` rank's GPU), sharing the trained
        classifier (trained, or loaded, first): the classifier's fingerprint keeps the profile's device."""
        moved = dataclasses.replace(self, config=dataclasses.replace(self.config, device=device))
        moved._classifier_run = self.classifier()
        return moved

    def training_config(self) -> TrainingConfig:
        """The classifier's :class:`TrainingConfig` (fingerprinted with the annotations' sha256)."""
        return study_training_config(self.config, findings_sha256(self.data_root))

    def image_store(self) -> PreprocessedImageStore:
        """The cache of preprocessed (CLAHE-fused, ROI-cropped) images the classifier and the maps read,
        made as the ``preprocessing`` section says (the classifier's training reads the same cache)."""
        return PreprocessedImageStore.in_artifacts(self.data_root, self.artifacts_dir, self.config.preprocessing)

    def classifier(self, context: DistributedContext | None = None, *, train: bool = True) -> ClassifierRun:
        """The study's classifier (chapter 04): loaded, or trained once (with DDP under ``torchrun``).

        Args:
            context: this process in a ``torchrun`` job; default a single process.
            train: if false, a classifier not trained yet is an error.

        Raises:
            FileNotFoundError: ``train`` is false and the run has no ``model.pt`` (the message names it).
        """
        if self._classifier_run is not None:
            return self._classifier_run
        config = self.training_config()
        model_file = run_directory(self.artifacts_dir, config) / "model.pt"
        if not train and not model_file.is_file():
            raise FileNotFoundError(f"{model_file}: the study's classifier is not trained yet "
                                    f"(`corrrelax train --profile {self.name}` trains it)")
        self._classifier_run = train_classifier(config, self.samples, self.data_root, self.artifacts_dir,
                                                progress=self.progress, context=context)
        return self._classifier_run

    @functools.cached_property
    def _test_images(self) -> list[AnnotatedImage]:
        images = annotated_test_images(self.samples, self.image_store(), FINDINGS)
        return images[:self.config.data.test_images]

    def test_images(self) -> list[AnnotatedImage]:
        """Every test image with at least one finding (the first ``data.test_images`` of them), boxes in ROI
        pixels, ordered by ``(study_id, image_id)``."""
        return self._test_images

    def explainer(self, *, n_masks: int | None = None, checkpoints: Sequence[int] | None = None,
                  **options: Any) -> CorRELAX:
        """The study's :class:`CorRELAX` on its classifier (:func:`study_explainer`).

        By default correlations after a quarter and half of the masks are kept too (the explorer's mask
        choice), as every map of :meth:`correlax_maps` has them; ``options`` go to :func:`study_explainer`.
        """
        n_masks = n_masks or self.config.correlax.n_masks
        if checkpoints is None:
            checkpoints = sorted({n_masks // 4, n_masks // 2} - {0})
        return study_explainer(self.classifier().model, self.config, LABELS, n_masks=n_masks,
                               checkpoints=checkpoints, progress=self.progress, **options)

    def maps_directory(self, explainer: Explainer, folder: str = "correlax") -> Path:
        """``<artifacts>/<folder>/<classifier>-<key of the explainer's parameters>`` (:func:`maps_directory`)."""
        return maps_directory(self.artifacts_dir, folder, self.classifier().directory.name, explainer.parameters)

    def correlax_maps(self, context: DistributedContext | None = None, *,
                      compute: bool = True) -> dict[str, CorrelaxMaps]:
        """CorRELAX's maps of every test image (chapter 05, ``corrrelax explain``), computed once per image.

        Under ``torchrun`` (``context``) each rank computes its share. With ``compute=False`` the maps are
        only read (``corrrelax evaluate``).

        Raises:
            MissingArtifactsError: ``compute`` is false and an image has no complete map.
        """
        explainer = self.explainer()
        directory = self.maps_directory(explainer)
        images = self.test_images()
        if not compute:
            return read_artifacts([image.image_id for image in images], directory, explainer.parameters,
                                  CorrelaxMaps.load)
        self._say_what_is_computed(images, directory, explainer.parameters, "correlax")
        return explain_images(explainer, images, directory, context, progress=self.progress)

    def pointing_game_criteria(self) -> tuple[str, ...]:
        """Table 4's hit columns under the ``pointing_game`` section (:func:`table4_criteria`)."""
        return table4_criteria(self.config.pointing_game.correlation_above)

    def pointing_game_pairs(self, maps: Mapping[str, CorrelaxMaps] | None = None) -> pd.DataFrame:
        """Table 4's image-label pairs (:func:`pointing_pairs` under :func:`table4_pointing_criteria`) of the test
        images under the ``pointing_game`` section (tolerance, correlation criterion): a bool column per
        :meth:`pointing_game_criteria`.

        Args:
            maps: the test images' CorRELAX maps; default :meth:`correlax_maps`.
        """
        game = self.config.pointing_game
        return pointing_pairs(self.test_images(), self.correlax_maps() if maps is None else maps, FINDINGS,
                              table4_pointing_criteria(game.correlation_above), tolerance=game.tolerance)

    def baseline(self, name: str, mode: str) -> RoiExplainer:
        """The baseline ``name`` (a key of :data:`~corrrelax_lib.attribution.BASELINES`) in ``mode`` with the
        study's ``baselines`` section (RISE and RELAX with CorRELAX's mask cells and keep probability) and
        CorRELAX's window grid (``mode="windows"``)."""
        if name not in BASELINES:
            raise ValueError(f"unknown baseline {name!r}; choose from {sorted(BASELINES)}")
        baselines, correlax = self.config.baselines, self.config.correlax
        n_masks = baselines.masks_whole if mode == "whole" else baselines.masks_windows
        masking = {"n_masks": n_masks, "mask_cells": correlax.mask_cells, "keep_prob": correlax.keep_prob,
                   "mask_chunk": baselines.mask_chunk}
        return BASELINES[name](
            self.classifier().model, LABELS, mode=mode, image_size=baselines.image_size,
            window_size=correlax.window_size, stride=correlax.stride, min_foreground=correlax.min_foreground,
            batch_size=baselines.batch_size, seed=self.config.seed, device=self.config.device, progress=False,
            **(masking if name in MASKING_METHODS else {}),
        )

    def baseline_maps(self, context: DistributedContext | None = None, *, compute: bool = True) -> list[MethodMaps]:
        """Every method of ``baselines.methods_<mode>`` for each of ``baselines.modes``, in that order (chapter 08).

        Each method's maps are computed once per image; under ``torchrun`` each rank computes its share
        (``corrrelax explain --maps baselines``); with ``compute=False`` they are only read.

        Raises:
            MissingArtifactsError: ``compute`` is false and an image has no complete map of some method.
        """
        images, baselines = self.test_images(), self.config.baselines
        methods = []
        for mode in baselines.modes:
            for name in baselines.methods_whole if mode == "whole" else baselines.methods_windows:
                explainer = self.baseline(name, mode)
                directory = self.maps_directory(explainer, "baselines")
                if compute:
                    self._say_what_is_computed(images, directory, explainer.parameters, "baselines")
                    heatmaps = explain_images(explainer, images, directory, context, progress=self.progress)
                else:
                    heatmaps = read_artifacts([image.image_id for image in images], directory, explainer.parameters,
                                              explainer.result_type.load)
                methods.append(MethodMaps.of(f"{name} ({MODE_NAMES[mode]})", explainer, heatmaps, HEATMAP))
        return methods

    def correlax_method_maps(self, kinds: Sequence[str] = CORRELAX_KINDS,
                             maps: Mapping[str, CorrelaxMaps] | None = None) -> list[MethodMaps]:
        """One comparison row ``"CorRELAX <kind>"`` per map kind of CorRELAX's maps (default :meth:`correlax_maps`)."""
        maps = self.correlax_maps() if maps is None else maps
        return [MethodMaps.of(f"CorRELAX {kind}", CorRELAX, maps, kind) for kind in kinds]

    def method_maps(self, kinds: Sequence[str] = CORRELAX_KINDS) -> list[MethodMaps]:
        """CorRELAX's maps of ``kinds``, then :meth:`baseline_maps`: the rows of chapter 08's comparison."""
        return [*self.correlax_method_maps(kinds), *self.baseline_maps()]

    def external_maps(
        self, context: DistributedContext | None = None,
    ) -> tuple[pd.DataFrame, list[AnnotatedImage], dict[str, CorrelaxMaps]]:
        """Figure 6: the eight CBIS-DDSM scans (:mod:`corrrelax_lib.data.cbis_ddsm`) explained as the test images.

        Each scan is resampled to ``preprocessing.external_image_height`` rows and preprocessed as in §3.1.
        Returns the scans' manifest rows, the preprocessed scans and their maps (computed once per scan
        under ``<artifacts>/external/``, shared across ``context``'s ranks).
        """
        explainer = self.explainer()
        preprocessing = self.config.preprocessing
        settings = {"image_height": preprocessing.external_image_height, "preprocessing": preprocessing}
        directory = external_maps_directory(self.artifacts_dir, self.classifier().directory.name, explainer,
                                            **settings)
        files = cbis_ddsm_files()
        images, maps = explain_external_images(explainer, files, directory, context, **settings,
                                               progress=self.progress)
        return files, images, maps

    def lem_maps(self) -> tuple[LEMRun, list[MethodMaps]]:
        """Train (or load) LEM on image-level labels (chapter 09) and map every test image, two ways.

        Each way's maps are computed once per image, under ``<artifacts>/lem/<run>-<key>``.

        Returns:
            The run, and :class:`MethodMaps` named ``"LEM"`` (positive-weight backpropagation from the positive
            local maxima) and ``"LEM score map"`` (the class score maps upsampled); neither is a probability.
        """
        config = study_lem_config(self.config, findings_sha256(self.data_root))
        run = train_lem(config, self.data_root, self.artifacts_dir, progress=self.progress)
        labels, size = run.config.labels, run.config.image_size
        images, methods = self.test_images(), []
        for explainer in (LEM(run.model, labels, size), LEMScoreMap(run.model, labels, size)):
            directory = maps_directory(self.artifacts_dir, "lem", run.directory.name, explainer.parameters)
            maps = explain_images(explainer, images, directory, progress=self.progress)
            methods.append(MethodMaps.of(explainer.method, explainer, maps, HEATMAP))
        return run, methods

    def _say_what_is_computed(
        self, images: Sequence[AnnotatedImage], directory: Path, parameters: Mapping[str, Any], maps: str,
    ) -> None:
        """Before computing here, say how many images lack maps and which command computes them for many."""
        missing = sum(artifact_problem(artifact_path(directory, image.image_id),
                                       image_parameters(parameters, image.image_id)) is not None for image in images)
        if missing and self.progress:
            print(f"{missing} of {len(images)} images have no {maps} maps in {directory} yet: computing them here. "
                  f"For many images, `corrrelax explain --profile {self.name} --maps {maps}` computes them "
                  "(on several GPUs or nodes under torchrun).")


def _data_root(config: StudyConfig, artifacts_dir: Path) -> Path:
    """``$<data_root_env>`` when the profile names a variable and it is set, else a folder under ``artifacts_dir``
    (where phantoms are generated; for real data, :meth:`Study.prepare_data` then says what is missing)."""
    variable = config.data.data_root_env
    if variable and os.environ.get(variable):
        return Path(os.environ[variable]).expanduser().resolve()
    return artifacts_dir / "data" / config.data.dataset
