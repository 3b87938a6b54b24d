"""The neuron explorer on small_cnn and real CorRELAX maps: every control redraws what depends on it, once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from corrrelax_lib.attribution.correlax import CorRELAX
from corrrelax_lib.attribution.correlax_maps import CorrelaxMaps
from corrrelax_lib.attribution.neuron_maps import NeuronActivations
from corrrelax_lib.attribution.neurons import (
    ConceptLabels,
    activation_thresholds,
    box_region,
    neuron_embedding,
    region_neurons,
)
from corrrelax_lib.models.classifier import MultiLabelClassifier
from corrrelax_lib.pipeline.annotated_images import AnnotatedImage
from corrrelax_lib.widgets import neuron_explorer as explorer_module
from corrrelax_lib.widgets.neuron_explorer import DRAWN, WINDOW, NeuronExplorer

LABELS = ("a", "b", "c", "d")
FIRST, SECOND = "a1b2c3d4e5f6", "f6e5d4c3b2a1"
IMAGE_SIZE = 96


@pytest.fixture(scope="module")
def data() -> tuple[list[AnnotatedImage], dict[str, CorrelaxMaps], MultiLabelClassifier]:
    """Two random 64 × 96 images with boxes and their maps; the right third of the first is background."""
    torch.manual_seed(0)
    model = MultiLabelClassifier("small_cnn", len(LABELS)).eval()
    explainer = CorRELAX(model, LABELS, window_size=32, stride=8, n_masks=16, progress=False)
    rng = np.random.default_rng(0)
    pixels = [(rng.random((64, 96, 3)) * 255).astype(np.uint8) for _ in range(2)]
    foreground = np.ones((64, 96), bool)
    foreground[:, 64:] = False
    images = [
        AnnotatedImage("s1", FIRST, pixels[0], {"a": np.array([[8.0, 10.0, 40.0, 50.0]]),
                                                "b": np.array([[50.0, 40.0, 75.0, 60.0], [0.0, 0.0, 20.0, 20.0]])}),
        AnnotatedImage("s2", SECOND, pixels[1], {"c": np.array([[60.0, 20.0, 90.0, 60.0]])}),
        AnnotatedImage("s3", "no-maps-here", pixels[1], {}),
    ]
    maps = {FIRST: explainer.explain(pixels[0], foreground),
            SECOND: explainer.explain(pixels[1], np.ones((64, 96), bool))}
    return images, maps, model


class Shown:
    """Counts the figures drawn into each output; renders them with the real function if ``show`` is given."""

    def __init__(self, show: Any | None) -> None:
        self.show, self.counts = show, Counter()

    def __call__(self, output: ipywidgets.Output, figure: Any, text: str) -> None:
        self.counts[id(output)] += 1
        if self.show is not None:
            self.show(output, figure, text)

    def since(self, before: Counter, explorer: NeuronExplorer) -> dict[str, int]:
        """Redraws per output name since ``before``."""
        names = ("window_output", "activation_output", "embedding_output", "report_output")
        return {name: self.counts[id(getattr(explorer, name))] - before[id(getattr(explorer, name))]
                for name in names if self.counts[id(getattr(explorer, name))] > before[id(getattr(explorer, name))]}


class Calls:
    """Counts calls of a library function and passes them on."""

    def __init__(self, function: Any) -> None:
        self.function, self.count = function, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.count += 1
        return self.function(*args, **kwargs)


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> Iterator[Shown]:
    """Figures rendered into the outputs, and counted."""
    plt.switch_backend("Agg")
    recorder = Shown(explorer_module._show)
    monkeypatch.setattr(explorer_module, "_show", recorder)
    yield recorder
    plt.close("all")


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Shown:
    """Figures counted but not rendered, where only the computations are checked (rendering is slow)."""
    recorder = Shown(None)
    monkeypatch.setattr(explorer_module, "_show", recorder)
    return recorder


def _png(output: ipywidgets.Output) -> str:
    (shown,) = output.outputs
    return shown["data"]["image/png"]


def _expected_neurons(explorer: NeuronExplorer) -> list[int]:
    region = box_region(explorer.region_box(), explorer.images[explorer.image.value].image.shape[:2])
    return region_neurons(explorer.activations(), explorer.thresholds, region)["neuron"].tolist()


def _around(explorer: NeuronExplorer, neuron: int) -> tuple[int, int, int, int]:
    """The bounding box ``(x0, y0, x1, y1)`` of ``neuron``'s above-threshold pixels."""
    ys, xs = np.nonzero(explorer.activations()[neuron] > explorer.thresholds[neuron])
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def test_the_model_runs_once_per_image_and_redraws_read_the_cache(data, counted, monkeypatch) -> None:
    images, maps, model = data
    forward, upsample = Calls(NeuronActivations.explain_roi), Calls(explorer_module.upsample_activations)
    monkeypatch.setattr(NeuronActivations, "explain_roi", lambda *args, **kwargs: forward(*args, **kwargs))
    monkeypatch.setattr(explorer_module, "upsample_activations", upsample)
    explorer = NeuronExplorer(images, maps, model, image_size=IMAGE_SIZE)
    assert [value for _, value in explorer.image.options] == [FIRST, SECOND]  # no maps, left out
    layers = list(explorer.layer_maps.values())
    assert layers[0].shape == (256, 2, 3)  # 64 × 96 halved five times
    np.testing.assert_array_equal(explorer.thresholds, activation_thresholds(layers))
    np.testing.assert_array_equal(explorer.embedding, neuron_embedding(np.stack([m.max(axis=(1, 2)) for m in layers])))
    assert explorer.activations().shape == (256, 64, 96)
    explorer.select_window(3, 2)
    explorer.region.value = WINDOW
    explorer.neuron.value = explorer.neuron.options[5][1]
    explorer.x_range.value = (10, 70)
    explorer.concept.value = "noise"
    explorer.label_button.click()
    explorer.image.value = SECOND
    explorer.row.value = 1
    explorer.image.value = FIRST
    assert (forward.count, upsample.count) == (2, 3)  # one pass per image; one upsampling per image shown


def test_window_summary_quotes_the_maps_of_the_window(data, shown) -> None:
    images, maps, model = data
    explorer = NeuronExplorer(images, maps, model, image_size=IMAGE_SIZE, labels=("b", "a"))
    first = maps[FIRST]
    predictions = first.window_predictions[[1, 0]]
    assert np.nanmax(predictions) == predictions[:, explorer.row.value, explorer.col.value].max()  # the best window
    before, picture = shown.counts.copy(), _png(explorer.window_output)
    explorer.select_window(4, 3)
    assert shown.since(before, explorer) == {"window_output": 1}  # the region is a box: no neuron redraw
    assert _png(explorer.window_output) != picture
    summary = explorer.window_summary.value
    assert f"window (4, 3): ρ(S_h, S_ŷ) = {first.window_rho_dist[4, 3]:.3f} · 16 masks" in summary
    for label in ("b", "a"):
        c = LABELS.index(label)
        assert (f"<td>{label}</td>\n      <td>{first.window_predictions[c, 4, 3]:.3f}</td>\n"
                f"      <td>{first.window_rho_class[c, 4, 3]:.3f}</td>") in summary
    assert "<td>c</td>" not in summary and summary.index("<td>b</td>") < summary.index("<td>a</td>")
    explorer.col.value = 8  # x from 64 on: background, skipped by CorRELAX
    assert explorer.window_summary.value == "window (4, 8): <i>background, not computed</i>"
    assert shown.since(before, explorer) == {"window_output": 2}


def test_neuron_table_follows_the_region(data, shown) -> None:
    images, maps, model = data
    explorer = NeuronExplorer(images, maps, model, image_size=IMAGE_SIZE)
    assert explorer.region.options == (("a box 1", ("box", "a", 0)), ("b box 1", ("box", "b", 0)),
                                       ("b box 2", ("box", "b", 1)), ("selected window", WINDOW),
                                       ("drawn (x, y sliders)", DRAWN))
    assert explorer.region_box() == (8.0, 10.0, 40.0, 50.0)
    assert explorer.neurons["neuron"].tolist() == _expected_neurons(explorer)
    table, pictures = explorer.table.value, [_png(o) for o in (explorer.activation_output, explorer.report_output)]
    most_active = int(explorer.layer_maps[FIRST].max(axis=(1, 2)).argmax())
    x0, y0, x1, y1 = _around(explorer, most_active)
    before = shown.counts.copy()
    explorer.x_range.value = (x0, x1)
    assert explorer.region.value == DRAWN  # moving a drawn slider makes the drawn box the region
    explorer.y_range.value = (y0, y1)
    assert explorer.region_box() == (x0, y0, x1, y1)
    assert shown.since(before, explorer) == {"activation_output": 2, "embedding_output": 2, "report_output": 2}
    listed = explorer.neurons["neuron"].tolist()
    assert listed == _expected_neurons(explorer) and most_active in listed
    assert explorer.table.value != table and f"<td>{listed[0]}</td>" in explorer.table.value
    assert explorer.neuron.value == listed[0]  # the best neuron of the region is shown
    assert explorer.neuron.options[0] == (f"{listed[0]} · IoU {explorer.neurons['iou'][0]:.2f}", listed[0])
    assert [_png(o) for o in (explorer.activation_output, explorer.report_output)] != pictures
    pictures, before = [_png(explorer.activation_output), _png(explorer.embedding_output)], shown.counts.copy()
    explorer.neuron.value = listed[-1]
    assert shown.since(before, explorer) == {"activation_output": 1, "embedding_output": 1}
    top = [FIRST, SECOND][int(explorer.max_activation[:, listed[-1]].argmax())]
    assert explorer.top_images.value.startswith(f"top activated images: {top[:8]} (")  # §2.3: top images
    assert [_png(explorer.activation_output), _png(explorer.embedding_output)] != pictures
    explorer.region.value = ("box", "b", 1)
    assert explorer.region_box() == (0.0, 0.0, 20.0, 20.0)
    assert explorer.neurons["neuron"].tolist() == _expected_neurons(explorer) != listed


def test_the_selected_window_can_be_the_region(data, counted) -> None:
    images, maps, model = data
    explorer = NeuronExplorer(images, maps, model, image_size=IMAGE_SIZE)
    explorer.region.value = WINDOW
    explorer.select_window(0, 0)
    assert explorer.region_box() == (0, 0, 32, 32)
    assert explorer.neurons["neuron"].tolist() == _expected_neurons(explorer)
    before = counted.counts.copy()
    explorer.select_window(4, 8)  # the last window, at (x, y) = (64, 32)
    assert explorer.region_box() == (64, 32, 96, 64)
    assert explorer.neurons["neuron"].tolist() == _expected_neurons(explorer)
    assert counted.since(before, explorer) == {"window_output": 1, "activation_output": 1, "embedding_output": 1,
                                             "report_output": 1}
    before = counted.counts.copy()
    explorer.draw_region(10, 20, 50, 40)  # what a drawing tool would call: both ranges at once
    assert (explorer.region.value, explorer.region_box()) == (DRAWN, (10, 20, 50, 40))
    assert explorer.neurons["neuron"].tolist() == _expected_neurons(explorer)
    assert counted.since(before, explorer) == {"activation_output": 1, "embedding_output": 1, "report_output": 1}


def test_labelled_concepts_appear_in_the_table_the_options_and_the_file(data, shown, tmp_path) -> None:
    images, maps, model = data
    concepts = ConceptLabels.open(tmp_path / "concepts.json")
    explorer = NeuronExplorer(images, maps, model, image_size=IMAGE_SIZE, concepts=concepts)
    explorer.draw_region(*_around(explorer, int(explorer.layer_maps[FIRST].max(axis=(1, 2)).argmax())))
    listed = explorer.neurons["neuron"].tolist()
    chosen = listed[-1]
    explorer.neuron.value = chosen
    pictures = [_png(o) for o in (explorer.embedding_output, explorer.report_output)]
    before = shown.counts.copy()
    explorer.concept.value = "spiculation"
    explorer.label_button.click()
    assert concepts.labels == {chosen: "spiculation"}
    assert ConceptLabels.open(tmp_path / "concepts.json").labels == {chosen: "spiculation"}
    assert explorer.concept.options == ("spiculation",)
    assert "<td>spiculation</td>" in explorer.table.value
    assert explorer.neuron.value == chosen and explorer.neuron.label.endswith(" · spiculation")
    assert shown.since(before, explorer) == {"activation_output": 1, "embedding_output": 1, "report_output": 1}
    assert [_png(o) for o in (explorer.embedding_output, explorer.report_output)] != pictures
    explorer.concept.value = "mass"
    explorer.label_all_button.click()  # the paper labels groups of neurons at once
    assert concepts.labels == dict.fromkeys(listed, "mass")
    assert explorer.table.value.count("<td>mass</td>") == len(listed)


def test_a_new_image_brings_its_grid_regions_and_figures(data, shown) -> None:
    images, maps, model = data
    explorer = NeuronExplorer(images, maps, model, image_size=IMAGE_SIZE)
    pictures = [_png(o) for o in (explorer.window_output, explorer.activation_output, explorer.report_output)]
    before = shown.counts.copy()
    explorer.image.value = SECOND
    assert shown.since(before, explorer) == {"window_output": 1, "activation_output": 1, "embedding_output": 1,
                                             "report_output": 1}
    assert (explorer.row.max, explorer.col.max) == (4, 8)
    assert explorer.region.value == ("box", "c", 0) and explorer.region_box() == (60.0, 20.0, 90.0, 60.0)
    assert explorer.neurons["neuron"].tolist() == _expected_neurons(explorer)
    assert [_png(o) for o in (explorer.window_output, explorer.activation_output, explorer.report_output)] != pictures


def test_bad_inputs_are_refused(data) -> None:
    images, maps, model = data
    with pytest.raises(ValueError, match="none of the images"):
        NeuronExplorer(images[2:], maps, model, image_size=IMAGE_SIZE)
    with pytest.raises(ValueError, match="not among the maps' labels"):
        NeuronExplorer(images, maps, model, image_size=IMAGE_SIZE, labels=("a", "mass"))
