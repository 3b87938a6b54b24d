"""Neurons of the last convolutional layer: activation maps, regions they cover, an embedding, concept labels.

The interactive-dissection method of Lu & Perer (related work, §3), built on Network Dissection:

- each of the ``K`` channels ("neurons") of the classifier's last convolutional layer gives an activation
  map per image, upsampled bilinearly to ROI pixels (§3.1.1);
- a neuron's map is thresholded at its global 99 % activation quantile over all images (§3.1.1);
- a user-defined region ``A`` queries the neurons whose thresholded map ``B`` overlaps it with
  ``IoU = |A ∩ B| / |A ∪ B| ≥ 0.2`` (Eq. 1, §3.2.1);
- each neuron is embedded by its vector of maximum activation per image, projected to 2-D by PCA (§3.3);
- neurons get concept labels (§3.2.1), which group the "activation value" and "activation area"
  reports (§3.2.2).

The maps themselves come from :class:`~corrrelax_lib.attribution.neuron_maps.NeuronActivations`; the explorer
keeps each image's maps at the layer's own resolution and upsamples only the image on screen
(:func:`upsample_activations`): ROI-pixel maps of every neuron take ``K·H·W`` floats, gigabytes for a
full-resolution ROI.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from corrrelax_lib.io.atomic import atomic_write_text

# The paper's settings (§3.1.1, §3.2.1).
QUANTILE = 0.99
MIN_IOU = 0.2


def upsample_activations(activations: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``(K, h, w)`` layer maps bilinearly upsampled to ``shape = (H, W)`` ROI pixels: ``(K, H, W)`` float32."""
    maps = torch.from_numpy(np.ascontiguousarray(activations, dtype=np.float32))[None]
    return F.interpolate(maps, size=tuple(shape), mode="bilinear", align_corners=False)[0].numpy()


def activation_thresholds(activations_per_image: Iterable[np.ndarray], quantile: float = QUANTILE) -> np.ndarray:
    """Each neuron's threshold ``q_n``: the ``quantile`` of its activations over all pixels of all images (§3.1.1).

    Works on maps of any resolution. Network Dissection takes the quantile over every position of the layer's
    own maps (:attr:`~corrrelax_lib.attribution.neuron_maps.NeuronMaps.layer_maps`) and thresholds the
    upsampled maps at it; the explorer does the same, which needs ``K·Σ h_i·w_i`` values instead of ``K·Σ H_i·W_i``.

    Args:
        activations_per_image: ``(K, H_i, W_i)`` maps of each image (sizes may differ).
        quantile: in [0, 1]; the paper's 0.99.

    Returns:
        ``(K,)`` float64.

    Example:
        >>> activation_thresholds([np.arange(100.0).reshape(1, 10, 10)], quantile=0.5)
        array([49.5])
    """
    pixels = np.concatenate([np.reshape(maps, (np.shape(maps)[0], -1)) for maps in activations_per_image], axis=1)
    return np.quantile(pixels.astype(np.float64), quantile, axis=1)


def box_region(box_xyxy: Sequence[float], shape: tuple[int, int]) -> np.ndarray:
    """``(H, W)`` bool region of the pixels a box ``(x0, y0, x1, y1)`` covers (ROI pixels, edges rounded outwards)."""
    x0, y0, x1, y1 = box_xyxy
    region = np.zeros(shape, dtype=bool)
    rows = slice(max(int(np.floor(y0)), 0), max(int(np.ceil(y1)), 0))
    cols = slice(max(int(np.floor(x0)), 0), max(int(np.ceil(x1)), 0))
    region[rows, cols] = True
    return region


def region_neurons(
    activations: np.ndarray, thresholds: np.ndarray, region: np.ndarray, min_iou: float = MIN_IOU,
) -> pd.DataFrame:
    """The neurons whose thresholded map overlaps ``region`` with IoU ≥ ``min_iou`` (Eq. 1, §3.2.1).

    A neuron's map ``B`` holds the pixels where its activation is above its threshold; ``A`` is the region.

    Args:
        activations: ``(K, H, W)`` activation maps of one image.
        thresholds: ``(K,)`` from :func:`activation_thresholds`.
        region: ``(H, W)`` bool, e.g. :func:`box_region`.
        min_iou: the paper's 0.2.

    Returns:
        One row per neuron kept, highest IoU first (ties by neuron index), columns ``neuron`` (int),
        ``iou`` = |A ∩ B| / |A ∪ B|, ``activation_value`` = mean activation inside ``A`` and
        ``activation_area`` = |A ∩ B| / |A| (the share of the region above threshold).
    """
    overlap = _overlap(activations, thresholds, region)
    kept = overlap[overlap["iou"] >= min_iou]
    return kept.sort_values(["iou", "neuron"], ascending=[False, True], kind="stable").reset_index(drop=True)


def finding_neurons(
    layer_maps: Mapping[str, np.ndarray], thresholds: np.ndarray, boxes: Mapping[str, Mapping[str, np.ndarray]],
    shapes: Mapping[str, tuple[int, int]], min_iou: float = MIN_IOU,
) -> pd.DataFrame:
    """Which neurons fire on the annotated findings: :func:`region_neurons` of every box, counted per label.

    Args:
        layer_maps: image_id → ``(K, h, w)`` maps at the layer's resolution
            (:attr:`~corrrelax_lib.attribution.neuron_maps.NeuronMaps.layer_maps`).
        thresholds: ``(K,)`` from :func:`activation_thresholds`.
        boxes: image_id → label → ``(N, 4)`` boxes ``(x0, y0, x1, y1)`` in ROI pixels.
        shapes: image_id → ROI ``(H, W)``, the size the maps are upsampled to.
        min_iou: a box counts for a neuron when their IoU reaches it (the paper: 0.2).

    Returns:
        One row per (label, neuron) with at least one box: ``label``, ``neuron``, ``boxes`` (how many of the
        label's boxes the neuron overlaps), ``share`` (of the label's boxes) and ``mean_iou`` over those boxes;
        most boxes first within each label (ties by neuron).
    """
    rows, totals = [], {}
    for image_id, by_label in boxes.items():
        activations = upsample_activations(layer_maps[image_id], shapes[image_id])
        for label, label_boxes in by_label.items():
            for box in np.reshape(label_boxes, (-1, 4)):
                totals[label] = totals.get(label, 0) + 1
                found = region_neurons(activations, thresholds, box_region(box, shapes[image_id]), min_iou)
                rows += [{"label": label, "neuron": int(n), "iou": iou} for n, iou in zip(found["neuron"], found["iou"],
                                                                                          strict=True)]
    if not rows:
        return pd.DataFrame(columns=["label", "neuron", "boxes", "share", "mean_iou"])
    counted = pd.DataFrame(rows).groupby(["label", "neuron"], as_index=False).agg(boxes=("iou", "size"),
                                                                                mean_iou=("iou", "mean"))
    counted.insert(3, "share", counted["boxes"] / counted["label"].map(totals))
    return counted.sort_values(["label", "boxes", "neuron"], ascending=[True, False, True], ignore_index=True)


def activation_report(
    activations: np.ndarray,
    thresholds: np.ndarray,
    region: np.ndarray,
    neurons: Sequence[int],
    concepts: ConceptLabels | None = None,
) -> pd.DataFrame:
    """The "activation value" and "activation area" bars of the explainability report (§3.2.2).

    Neurons that share a concept label form one bar with their mean values; unlabelled neurons keep a bar
    each (``"#12"``). The values are those of :func:`region_neurons`: the mean activation inside the region
    and the share of the region above the neuron's threshold. (The paper's report uses each neuron's
    maximum activation and its IoU; ours reads both on the queried region, so that the bars say what the
    model sees *there*.)

    Args:
        activations: ``(K, H, W)`` activation maps of one image.
        thresholds: ``(K,)`` from :func:`activation_thresholds`.
        region: ``(H, W)`` bool.
        neurons: the neurons to report, e.g. ``region_neurons(...)["neuron"]``.
        concepts: the neurons' concept labels; ``None`` gives one bar per neuron.

    Returns:
        One row per bar, highest ``activation_area`` first (ties by name), columns ``bar`` (str), ``neurons``
        (tuple of int), ``activation_value``, ``activation_area``.
    """
    overlap = _overlap(activations, thresholds, region).set_index("neuron").loc[list(neurons)]
    names = [(concepts.labels.get(int(n)) if concepts is not None else None) or f"#{n}" for n in overlap.index]
    bars = overlap.assign(bar=names).reset_index().groupby("bar", sort=False).agg(
        neurons=("neuron", tuple), activation_value=("activation_value", "mean"),
        activation_area=("activation_area", "mean"))
    return bars.reset_index().sort_values(["activation_area", "bar"], ascending=[False, True], kind="stable",
                                          ignore_index=True)


def neuron_embedding(max_activation: np.ndarray) -> np.ndarray:
    """2-D PCA of the neurons, each described by its maximum activation on every image (§3.3).

    Neurons are the samples and images the features: the ``(K, n_images)`` matrix is centred per image and
    projected on its first two principal axes. Each axis's sign is chosen so that the neuron farthest along
    it lies on the positive side (the first such neuron on a tie), so the picture does not flip between runs.
    Axes beyond the matrix's rank are zero.

    Args:
        max_activation: ``(n_images, K)``, e.g. ``activations.max(axis=(1, 2))`` stacked over images.

    Returns:
        ``(K, 2)`` float64 coordinates.

    Example:
        >>> neuron_embedding(np.array([[5.0, 1.0, 0.0], [1.0, 1.0, 1.0]]))  # 2 images, 3 neurons
        array([[ 3.,  0.],
               [-1.,  0.],
               [-2.,  0.]])
    """
    neurons = np.asarray(max_activation, dtype=np.float64).T
    centred = neurons - neurons.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    coordinates = np.zeros((len(neurons), 2))
    coordinates[:, : min(2, len(axes))] = centred @ axes[:2].T
    farthest = np.abs(coordinates).argmax(axis=0)
    signs = np.sign(coordinates[farthest, [0, 1]])
    return coordinates * np.where(signs == 0, 1.0, signs)


@dataclass
class ConceptLabels:
    """Concept labels of neurons (§3.2.1), written back to a JSON file on every change when ``path`` is set.

    Attributes:
        labels: neuron index → concept, e.g. ``{12: "calcification"}``.
        path: where :meth:`save` writes, atomically (:func:`corrrelax_lib.io.atomic.atomic_write_text`).

    Example:
        >>> concepts = ConceptLabels()
        >>> concepts.assign([3, 12], "mass")
        >>> concepts.labels, concepts.concepts()
        ({3: 'mass', 12: 'mass'}, ['mass'])
    """

    labels: dict[int, str] = field(default_factory=dict)
    path: Path | None = None

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> ConceptLabels:
        """The labels saved at ``path`` (none if the file does not exist yet); later changes are saved there."""
        path = Path(path)
        saved = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"labels": {}}
        return cls({int(neuron): concept for neuron, concept in saved["labels"].items()}, path)

    def assign(self, neurons: Iterable[int], concept: str) -> None:
        """Label ``neurons`` with ``concept`` (surrounding spaces dropped); an empty concept removes their labels."""
        concept = concept.strip()
        for neuron in neurons:
            if concept:
                self.labels[int(neuron)] = concept
            else:
                self.labels.pop(int(neuron), None)
        if self.path is not None:
            self.save()

    def concepts(self) -> list[str]:
        """The distinct concepts, sorted."""
        return sorted(set(self.labels.values()))

    def save(self) -> None:
        """Write ``{"labels": {"12": "calcification", ...}}`` to :attr:`path`, atomically."""
        if self.path is None:
            raise ValueError("these concept labels have no path to save to")
        text = json.dumps({"labels": {str(n): self.labels[n] for n in sorted(self.labels)}}, indent=1)
        atomic_write_text(self.path, text + "\n")


def _overlap(activations: np.ndarray, thresholds: np.ndarray, region: np.ndarray) -> pd.DataFrame:
    """Per neuron: IoU of its thresholded map with ``region``, mean activation inside it, share of it covered."""
    activations = np.asarray(activations)
    region = np.asarray(region, dtype=bool)
    thresholds = np.asarray(thresholds)[:, None]
    n_neurons, area = len(activations), int(region.sum())  # K, |A|
    above = (activations.reshape(n_neurons, -1) > thresholds).sum(axis=1)  # |B|
    inside = activations[:, region]  # (K, |A|)
    intersection = (inside > thresholds).sum(axis=1)  # |A ∩ B|
    union = above + area - intersection  # |A ∪ B|
    empty = np.full(n_neurons, np.nan)
    return pd.DataFrame({
        "neuron": np.arange(n_neurons),
        "iou": np.divide(intersection, union, out=np.zeros(n_neurons), where=union > 0),
        "activation_value": inside.mean(axis=1) if area else empty,
        "activation_area": intersection / area if area else empty,
    })
