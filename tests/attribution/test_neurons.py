"""Neurons of the last convolutional layer: activations, thresholds, IoU queries, embedding, concept labels."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from corrrelax_lib.attribution.neuron_maps import NeuronActivations
from corrrelax_lib.attribution.neurons import (
    ConceptLabels,
    activation_report,
    activation_thresholds,
    box_region,
    finding_neurons,
    neuron_embedding,
    region_neurons,
    upsample_activations,
)
from corrrelax_lib.io import atomic
from corrrelax_lib.models.classifier import IMAGENET_MEAN, IMAGENET_STD, MultiLabelClassifier


def test_neuron_maps_are_the_last_conv_maps_of_the_resized_image():
    torch.manual_seed(0)
    model = MultiLabelClassifier("small_cnn", 4)
    image = np.full((90, 60, 3), 128, np.uint8)  # uniform: any resize keeps 128 / 255 everywhere
    maps = NeuronActivations(model, image_size=64).explain(image, np.ones((90, 60), bool))
    activations = maps.layer_maps
    # 90 × 60 → 64 × 43 (longer side 64), halved five times by small_cnn (stem, four pools): 2 × 1.
    x = torch.full((1, 3, 64, 43), 128 / 255)
    x = (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = model.backbone.features(x)[0].numpy()
    assert activations.shape == (256, 2, 1)
    np.testing.assert_allclose(activations, expected, rtol=1e-5, atol=1e-6)
    roi = maps.activations()
    np.testing.assert_allclose(maps.pixel_map("activation", "7"), roi[7], rtol=1e-6)
    assert roi.shape == (256, 90, 60) and roi.dtype == np.float32
    # Bilinear upsampling clamps at the borders: the top row is the first cell, the bottom row the second.
    np.testing.assert_allclose(roi[:, 0, :], np.repeat(expected[:, 0], 60, axis=1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(roi[:, -1, :], np.repeat(expected[:, 1], 60, axis=1), rtol=1e-5, atol=1e-6)


def test_upsampling_is_bilinear_with_pixel_centres():
    upsampled = upsample_activations(np.array([[[0.0, 1.0]]]), (1, 4))
    np.testing.assert_allclose(upsampled, [[[0.0, 0.25, 0.75, 1.0]]])


def test_thresholds_are_the_quantile_over_all_pixels_of_all_images():
    first = np.stack([np.arange(10.0).reshape(2, 5), np.full((2, 5), 5.0)])
    second = np.stack([np.arange(10.0, 19.0).reshape(3, 3), np.full((3, 3), 5.0)])  # another size
    # Neuron 0 runs over 0, 1, ..., 18: the 99 % quantile is 0.99 · 18 (linear interpolation).
    np.testing.assert_allclose(activation_thresholds([first, second]), [0.99 * 18, 5.0])
    np.testing.assert_allclose(activation_thresholds([first, second], quantile=0.5), [9.0, 5.0])


def test_box_region_rounds_edges_outwards_and_clips():
    expected = np.zeros((4, 6), bool)
    expected[0:2, 0:3] = True
    np.testing.assert_array_equal(box_region((0.5, 0.2, 2.5, 1.9), (4, 6)), expected)
    clipped = np.zeros((4, 6), bool)
    clipped[0:1, 0:3] = True
    np.testing.assert_array_equal(box_region((-3, -1, 2.1, 1), (4, 6)), clipped)


def _activations() -> np.ndarray:
    """Four neurons on a 4 × 6 image, threshold 0.5; the region is the top-left 2 × 3 block (6 pixels)."""
    activations = np.zeros((4, 4, 6))
    activations[0, 0:2, 0:3] = 1.0  # exactly the region: IoU 1
    activations[1, 0:2, 0:6] = 0.8  # the region and as much beside: IoU 6 / 12
    activations[2, 2:4, 0:6] = 0.9  # below the region: IoU 0
    activations[2, 0:2, 0:3] = 0.5  # equal to the threshold is not above it
    activations[3, 1, 2:6] = 0.9  # 1 of its 4 pixels in the region: IoU 1 / (6 + 4 - 1)
    return activations


def test_region_neurons_keep_iou_at_least_min_iou_sorted():
    region = box_region((0, 0, 3, 2), (4, 6))
    found = region_neurons(_activations(), np.full(4, 0.5), region)
    expected = pd.DataFrame({"neuron": [0, 1], "iou": [1.0, 0.5], "activation_value": [1.0, 0.8],
                             "activation_area": [1.0, 1.0]})
    pd.testing.assert_frame_equal(found, expected)
    loose = region_neurons(_activations(), np.full(4, 0.5), region, min_iou=0.1)
    assert loose["neuron"].tolist() == [0, 1, 3]
    np.testing.assert_allclose(loose.iloc[2][["iou", "activation_value", "activation_area"]],
                               [1 / 9, 0.9 / 6, 1 / 6])
    assert region_neurons(_activations(), np.full(4, 0.5), np.zeros((4, 6), bool)).empty


def test_activation_report_groups_neurons_by_concept():
    region = box_region((0, 0, 3, 2), (4, 6))
    per_neuron = activation_report(_activations(), np.full(4, 0.5), region, [3, 0, 1])
    assert per_neuron["bar"].tolist() == ["#0", "#1", "#3"]  # area 1, 1 (by name), 1/6
    np.testing.assert_allclose(per_neuron["activation_value"], [1.0, 0.8, 0.15])
    concepts = ConceptLabels({0: "mass", 3: "mass", 2: "skin"})
    grouped = activation_report(_activations(), np.full(4, 0.5), region, [0, 1, 3], concepts)
    assert grouped["bar"].tolist() == ["#1", "mass"]
    assert grouped["neurons"].tolist() == [(1,), (0, 3)]
    np.testing.assert_allclose(grouped[["activation_value", "activation_area"]],
                               [[0.8, 1.0], [(1.0 + 0.15) / 2, (1.0 + 1 / 6) / 2]])
    assert activation_report(_activations(), np.full(4, 0.5), region, []).empty


def test_neuron_embedding_recovers_constructed_axes_with_fixed_signs():
    # Four neurons whose centred coordinates are a and b along orthonormal image directions u and v.
    a, b = np.array([3.0, -1.0, -1.0, -1.0]), np.array([0.0, 2.0, -1.0, -1.0])  # zero-mean, a ⟂ b, |a| > |b|
    u, v = np.array([1.0, 2.0, 2.0]) / 3, np.array([2.0, 1.0, -2.0]) / 3
    neurons = np.array([5.0, 1.0, 3.0]) - np.outer(a, u) - np.outer(b, v)  # (K = 4, n_images = 3), flipped
    embedding = neuron_embedding(neurons.T)
    # The farthest neuron along each axis is on the positive side: +a (3 at neuron 0), +b (2 at neuron 1).
    np.testing.assert_allclose(embedding, np.stack([a, b], axis=1), atol=1e-12)
    np.testing.assert_allclose(neuron_embedding(-neurons.T), embedding, atol=1e-12)
    one_image = neuron_embedding(np.array([[4.0, 1.0, 1.0]]))
    np.testing.assert_allclose(one_image, [[2.0, 0.0], [-1.0, 0.0], [-1.0, 0.0]], atol=1e-12)


def test_concept_labels_round_trip_atomically(tmp_path, monkeypatch):
    path = tmp_path / "concepts.json"
    concepts = ConceptLabels.open(path)
    assert concepts.labels == {} and not path.exists()
    concepts.assign([12, 3], " mass ")
    concepts.assign([7], "calcification")
    assert json.loads(path.read_text()) == {"labels": {"3": "mass", "7": "calcification", "12": "mass"}}
    reopened = ConceptLabels.open(path)
    assert reopened.labels == {3: "mass", 7: "calcification", 12: "mass"}
    assert reopened.concepts() == ["calcification", "mass"]
    reopened.assign([3], "")  # an empty concept removes the label
    assert ConceptLabels.open(path).labels == {7: "calcification", 12: "mass"}

    def interrupted(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", interrupted)
    with pytest.raises(OSError, match="disk full"):
        reopened.assign([1], "skin")
    monkeypatch.undo()
    assert ConceptLabels.open(path).labels == {7: "calcification", 12: "mass"}  # the old file, whole
    assert [p.name for p in tmp_path.iterdir()] == ["concepts.json"]
    with pytest.raises(ValueError, match="no path"):
        ConceptLabels({1: "mass"}).save()


def test_finding_neurons_count_boxes_per_label_and_neuron():
    # Neuron 0 fires on the left half, neuron 1 on the top-right quarter; maps already at ROI size.
    layer = np.zeros((2, 8, 8))
    layer[0, :, :4] = 1.0
    layer[1, :4, 4:] = 1.0
    boxes = {"one": {"Mass": np.array([[0, 0, 4, 8], [4, 0, 8, 4]])}, "two": {"Mass": np.array([[0, 0, 4, 4]]),
                                                                              "Asymmetries": np.array([[4, 4, 8, 8]])}}
    found = finding_neurons({"one": layer, "two": layer}, np.array([0.5, 0.5]), boxes, {"one": (8, 8), "two": (8, 8)})
    mass = found[found["label"] == "Mass"].set_index("neuron")
    assert mass["boxes"].to_dict() == {0: 2, 1: 1}  # box 3 overlaps neuron 0 with IoU 16/32 = 0.5
    np.testing.assert_allclose(mass.loc[0, "share"], 2 / 3)
    np.testing.assert_allclose(mass.loc[0, "mean_iou"], (1.0 + 0.5) / 2)
    assert (found["label"] != "Asymmetries").all()  # the bottom-right quarter: no neuron
