"""The paper as printed and as run: what the preprocessing and training differences do, measured cheaply.

Three measurements for the chapter comparing the paper's text (§3.1, §3.3) with the authors' code, each
seconds on a CPU:

* :func:`clahe_depth_effect`: one real scan at full resolution through CLAHE at the depth this project
  chooses from the data and at the authors' 8 bits (``ImagePreprocessing.clahe_histogram``); how far the
  two CLAHE channels are apart over the breast, and how much each changes the original.
* :func:`voi_effect`: the images of a dataset read with and without the DICOM VOI LUT / window
  (``ImagePreprocessing.apply_voi_lut``): how many carry one, and how far the [0, 1] image moves.
* :func:`loss_settings_effect`: the focal loss and Adam under given classifier settings (α, its form, γ,
  the batch's reduction, the rate, weight decay, epochs) on :mod:`~corrrelax_lib.training.focal_alpha`'s
  small seeded problem; :func:`loss_variants` lists the paper's settings, the authors', and each
  difference alone.

>>> paper, as_run = Study.open("tiny").config.classifier, Study.open("as-run").config.classifier  # doctest: +SKIP
>>> loss_settings_effect(loss_variants(paper, as_run))  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from corrrelax_lib.config import ClassifierConfig, ImagePreprocessing
from corrrelax_lib.io.mammogram import read_mammogram_with_record
from corrrelax_lib.preprocess.clahe import clahe_effect
from corrrelax_lib.preprocess.pipeline import PAPER_PREPROCESSING, clahe_fusion, preprocessing_steps
from corrrelax_lib.preprocess.roi import breast_mask
from corrrelax_lib.training.focal_alpha import toy_targets, weights_after_adam

#: The classifier fields of the focal loss and its optimiser that :func:`loss_settings_effect` reads.
LOSS_FIELDS: tuple[str, ...] = ("focal_alpha_form", "focal_alpha", "focal_gamma", "focal_reduction",
                                "learning_rate", "weight_decay", "epochs")


def clahe_depth_effect(
    path: str | os.PathLike[str], preprocessing: ImagePreprocessing = PAPER_PREPROCESSING,
) -> pd.DataFrame:
    """CLAHE at the data's histogram depth beside the authors' 8-bit CLAHE on one whole mammogram (§3.1).

    The scan is read once (with ``preprocessing``'s VOI LUT setting) at full resolution and fused twice with
    ``preprocessing``'s clip limits, tiles and background, once per ``clahe_histogram``.

    Args:
        path: the scan, e.g. a real CBIS-DDSM file of :func:`~corrrelax_lib.data.cbis_ddsm.cbis_ddsm_files`.
        preprocessing: everything but the depth.

    Returns:
        One row per clip limit; means over the breast (:func:`~corrrelax_lib.preprocess.roi.breast_mask`), in
        intensity units of [0, 1]: ``clip_limit``, ``data_bits`` (the depth chosen from the scan),
        ``data vs original`` and ``8-bit vs original`` (mean |CLAHE − original| of each), ``data vs 8-bit``
        (mean |Δ| between the two CLAHE channels) and ``OpenCV 8-bit vs original`` (``cv2.createCLAHE`` on
        the uint8 image, the reference our 8-bit CLAHE reproduces to a grey level).
    """
    data = preprocessing_steps(path, replace(preprocessing, clahe_histogram="data"))
    image = data.normalised
    eight_bit, _ = clahe_fusion(image, replace(preprocessing, clahe_histogram="8-bit"))
    breast = breast_mask(image)
    clip_limits, tile_grid = preprocessing.clahe_clip_limits, preprocessing.clahe_tile_grid
    ours = clahe_effect(image, data.fused, breast, clip_limits, tile_grid)
    theirs = clahe_effect(image, eight_bit, breast, clip_limits, tile_grid)
    between = [float(np.abs(data.fused[..., channel] - eight_bit[..., channel])[breast].mean())
               for channel in range(1, len(clip_limits) + 1)]
    return pd.DataFrame({
        "clip_limit": ours["clip_limit"], "data_bits": data.clahe_bits, "data vs original": ours["ours"],
        "8-bit vs original": theirs["ours"], "data vs 8-bit": between, "OpenCV 8-bit vs original": ours["opencv_8bit"],
    })


def voi_effect(paths: Sequence[str | os.PathLike[str]]) -> pd.DataFrame:
    """Each mammogram read as the paper states (min–max of the stored values) and with its VOI LUT or window
    applied first, as the authors' code does (§3.1).

    Args:
        paths: DICOM files, e.g. every image of a dataset.

    Returns:
        One row per file: ``file`` (its name), ``voi`` (what the file carries: ``"window"``, ``"lut"`` or
        ``"none"``), ``mean |Δ|`` (mean absolute difference of the two [0, 1] images) and ``changed`` (share of
        pixels that differ by more than one 8-bit grey level, 1/255).
    """
    rows = []
    for path in paths:
        plain, _ = read_mammogram_with_record(path)
        windowed, record = read_mammogram_with_record(path, apply_voi_lut=True)
        difference = np.abs(windowed.astype(np.float64) - plain)
        rows.append({"file": Path(path).name, "voi": record.voi_applied, "mean |Δ|": float(difference.mean()),
                     "changed": float((difference > 1 / 255).mean())})
    return pd.DataFrame(rows, columns=["file", "voi", "mean |Δ|", "changed"])


def loss_variants(paper: ClassifierConfig, authors: ClassifierConfig) -> dict[str, ClassifierConfig]:
    """The settings to compare, by name: ``paper``, the paper with Eq. 1 as printed (``alpha_form = printed``),
    ``paper + <field> = <authors' value>`` for each of :data:`LOSS_FIELDS` where the two differ, and
    ``authors``."""
    variants = {"paper": paper, "paper, Eq. 1 as printed": replace(paper, focal_alpha_form="printed")}
    for name in LOSS_FIELDS:
        value = getattr(authors, name)
        if getattr(paper, name) != value:
            shown = f"{value:g}" if isinstance(value, float) else str(value)
            variants[f"paper + {name} = {shown}"] = replace(paper, **{name: value})
    return {**variants, "authors": authors}


def loss_settings_effect(
    settings: Mapping[str, ClassifierConfig], *, steps_per_epoch: int = 10, seed: int = 0,
) -> pd.DataFrame:
    """Each setting's focal loss and Adam on one small seeded problem (§3.3, Eq. 1), from the same start.

    The problem is :func:`~corrrelax_lib.training.focal_alpha.weights_after_adam`'s: a 16 → 4 linear
    classifier, 64 inputs, one positive label in five, ``steps_per_epoch × epochs`` full-batch steps at a
    constant rate (no annealing, no batches: what is left is the loss and the optimiser).

    Args:
        settings: by name, e.g. :func:`loss_variants`; reads :data:`LOSS_FIELDS`.
        steps_per_epoch: full-batch steps per epoch of a setting.
        seed: the data and the initial weights.

    Returns:
        One row per setting (index: its name), with its :data:`LOSS_FIELDS` and ``max |Δ weight|`` (against
        the first setting), ``mean p (positives)`` and ``mean p (negatives)`` (sigmoid outputs on the training
        inputs, by target), ``recall`` and ``false positive rate`` at 0.5.
    """
    targets = toy_targets(seed=seed).bool()
    rows, reference = {}, None
    for name, config in settings.items():
        weights, probabilities = weights_after_adam(
            config.focal_alpha, config.focal_alpha_form, gamma=config.focal_gamma, reduction=config.focal_reduction,
            learning_rate=config.learning_rate, weight_decay=config.weight_decay,
            steps=steps_per_epoch * config.epochs, seed=seed)
        reference = weights if reference is None else reference
        predicted = probabilities >= 0.5
        rows[name] = {**{field: getattr(config, field) for field in LOSS_FIELDS},
                      "max |Δ weight|": float((weights - reference).abs().max()),
                      "mean p (positives)": float(probabilities[targets].mean()),
                      "mean p (negatives)": float(probabilities[~targets].mean()),
                      "recall": float(predicted[targets].float().mean()),
                      "false positive rate": float(predicted[~targets].float().mean())}
    return pd.DataFrame.from_dict(rows, orient="index")
