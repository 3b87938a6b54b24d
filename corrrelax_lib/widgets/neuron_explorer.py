"""Query and label the neurons of the classifier's last convolutional layer beside the CorRELAX windows.

The workflow of Lu & Perer's interactive dissection (related work, §4) on our images: browse the images,
pick a sliding window to see its crop, predictions and CorRELAX correlations, choose a region (an annotated
box, the window, or one drawn with sliders), list the neurons whose thresholded activation map overlaps it
(IoU ≥ 0.2), look at a neuron's map, see every neuron in a 2-D PCA embedding, label neurons with concepts,
and read the "activation value" and "activation area" reports. The computations are in
:mod:`corrrelax_lib.attribution.neurons`.

Figures are rendered to PNG and placed in ``ipywidgets.Output`` widgets, so the explorer needs neither
``ipympl`` nor JavaScript of its own and looks the same in JupyterLab and Voilà.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import ipywidgets
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import nn

from corrrelax_lib.attribution.correlax_maps import CorrelaxMaps
from corrrelax_lib.attribution.neuron_maps import NeuronActivations
from corrrelax_lib.attribution.neurons import (
    MIN_IOU,
    ConceptLabels,
    activation_report,
    activation_thresholds,
    box_region,
    neuron_embedding,
    region_neurons,
    upsample_activations,
)
from corrrelax_lib.pipeline.annotated_images import AnnotatedImage
from corrrelax_lib.widgets.layout import CONTROLS_WIDTH, fixed, flexible, row

# Region choices besides the annotated boxes, which are ("box", label, index).
WINDOW, DRAWN = ("window",), ("drawn",)
# The neuron table's column: neuron, IoU, activation value and area, concept.
TABLE_WIDTH = "440px"


class NeuronExplorer:
    """Explore the last convolutional layer's neurons of ``model`` on annotated images with CorRELAX maps.

    Built once: the model runs once per image (:class:`~corrrelax_lib.attribution.neuron_maps.NeuronActivations`)
    and the layer's maps are kept; the thresholds (99 % quantiles), maximum activations and the PCA embedding
    follow from them. The image on screen gets its maps upsampled to ROI pixels once; redraws only read them.

    Args:
        images: the annotated images; those without an entry in ``maps`` are left out.
        maps: image_id → its :class:`CorrelaxMaps` (the window predictions and correlations shown).
        model: the classifier the maps were computed with, e.g. a
            :class:`~corrrelax_lib.models.classifier.MultiLabelClassifier`.
        image_size: longer side of the model input for the activations, pixels.
        labels: the labels whose window values and boxes are shown; default all labels of the maps.
        concepts: the neurons' concept labels, updated by the label buttons (written back to their file
            if they have one); default an empty in-memory store.
        min_iou: the neurons listed for a region reach at least this IoU (the paper: 0.2).
        device: ``"cpu"`` or ``"cuda"`` for the forward passes.

    Example:
        >>> explorer = NeuronExplorer(images, maps, model, image_size=512,  # doctest: +SKIP
        ...                           concepts=ConceptLabels.open("concepts.json"))
        >>> display(explorer.widget)  # doctest: +SKIP
    """

    def __init__(
        self,
        images: Sequence[AnnotatedImage],
        maps: Mapping[str, CorrelaxMaps],
        model: nn.Module,
        *,
        image_size: int,
        labels: Sequence[str] | None = None,
        concepts: ConceptLabels | None = None,
        min_iou: float = MIN_IOU,
        device: str = "cpu",
    ) -> None:
        self.images = {image.image_id: image for image in images if image.image_id in maps}
        if not self.images:
            raise ValueError("none of the images has computed maps")
        self.maps = maps
        first = next(iter(self.images))
        self.labels = tuple(labels) if labels is not None else maps[first].labels
        unknown = [label for label in self.labels if label not in maps[first].labels]
        if unknown:
            raise ValueError(f"labels {unknown} are not among the maps' labels {maps[first].labels}")
        self.concepts = concepts if concepts is not None else ConceptLabels()
        self.min_iou = min_iou
        # The only forward passes: one per image, kept at the layer's resolution.
        neurons = NeuronActivations(model, image_size=image_size, device=device)
        self.layer_maps = {image_id: neurons.explain(image.image).layer_maps for image_id, image in self.images.items()}
        self.thresholds = activation_thresholds(self.layer_maps.values())
        self.max_activation = np.stack([layer.max(axis=(1, 2)) for layer in self.layer_maps.values()])
        self.embedding = neuron_embedding(self.max_activation)
        self.neurons: pd.DataFrame  # the region's neurons (region_neurons), set with the region
        self._roi_maps: tuple[str, np.ndarray] | None = None
        self._held = False

        self.image = ipywidgets.Dropdown(description="image", options=[
            (f"{image_id[:8]} ({', '.join(_present(image, self.labels)) or 'no box'})", image_id)
            for image_id, image in self.images.items()])
        self.row = ipywidgets.IntSlider(description="window row", continuous_update=False)
        self.col = ipywidgets.IntSlider(description="window col", continuous_update=False)
        self.window_summary = ipywidgets.HTML()
        self.window_output = ipywidgets.Output(layout=flexible())
        self.region = ipywidgets.Dropdown(description="region")
        self.x_range = ipywidgets.IntRangeSlider(description="drawn x", continuous_update=False)
        self.y_range = ipywidgets.IntRangeSlider(description="drawn y", continuous_update=False)
        self.table = ipywidgets.HTML(layout=fixed(TABLE_WIDTH))
        self.neuron = ipywidgets.Dropdown(description="neuron")
        self.top_images = ipywidgets.HTML()
        self.activation_output = ipywidgets.Output()
        self.embedding_output = ipywidgets.Output(layout=flexible())
        self.concept = ipywidgets.Combobox(description="concept", placeholder="e.g. calcification",
                                           ensure_option=False)
        self.label_button = ipywidgets.Button(description="label neuron",
                                              tooltip="label the chosen neuron; an empty concept removes its label")
        self.label_all_button = ipywidgets.Button(description="label all listed",
                                                  tooltip="label every neuron of the table with the concept")
        self.report_output = ipywidgets.Output()
        self.widget = ipywidgets.VBox([
            self.image,
            ipywidgets.HTML("<b>Window</b>"),
            row([ipywidgets.VBox([self.row, self.col, self.window_summary], layout=fixed(CONTROLS_WIDTH)),
                 self.window_output]),
            ipywidgets.HTML(f"<b>Query neurons</b> (IoU ≥ {min_iou:g} with the region)"),
            row([self.region, self.x_range, self.y_range]),
            row([self.table,
                 ipywidgets.VBox([self.neuron, self.top_images, self.activation_output], layout=flexible())]),
            ipywidgets.HTML("<b>Label neurons</b>"),
            row([ipywidgets.VBox([self.concept, ipywidgets.HBox([self.label_button, self.label_all_button])],
                                 layout=fixed(CONTROLS_WIDTH)),
                 self.embedding_output]),
            ipywidgets.HTML("<b>Report</b>"),
            self.report_output,
        ])
        self._on_image()
        self.image.observe(self._on_image, "value")
        for slider in (self.row, self.col):
            slider.observe(self._on_window, "value")
        self.region.observe(self._on_region, "value")
        for slider in (self.x_range, self.y_range):
            slider.observe(self._on_drawn, "value")
        self.neuron.observe(self._on_neuron, "value")
        self.label_button.on_click(lambda button: self.label([self.neuron.value]))
        self.label_all_button.on_click(lambda button: self.label(self.neurons["neuron"].tolist()))

    def select_window(self, row: int, col: int) -> None:
        """Show window ``(row, col)`` of the grid (what a click on the image would call); redraws once."""
        with self._hold():
            self.row.value, self.col.value = row, col
        self._on_window()

    def draw_region(self, x0: int, y0: int, x1: int, y1: int) -> None:
        """Make the box ``[x0, x1) × [y0, y1)`` (ROI pixels) the region, as the drawn sliders do; redraws once."""
        with self._hold():
            self.x_range.value, self.y_range.value = (x0, x1), (y0, y1)
            self.region.value = DRAWN
        self._update_region()

    def label(self, neurons: Sequence[int], concept: str | None = None) -> None:
        """Label ``neurons`` with ``concept`` (default: the concept box; empty removes labels), then redraw."""
        self.concepts.assign(neurons, self.concept.value if concept is None else concept)
        self.concept.options = self.concepts.concepts()
        self._update_neurons()

    def activations(self) -> np.ndarray:
        """``(K, H, W)`` activation maps of the image on screen, in ROI pixels (upsampled once per image)."""
        image_id = self.image.value
        if self._roi_maps is None or self._roi_maps[0] != image_id:
            self._roi_maps = image_id, upsample_activations(self.layer_maps[image_id],
                                                            self.images[image_id].image.shape[:2])
        return self._roi_maps[1]

    def region_box(self) -> tuple[float, float, float, float]:
        """The chosen region as a box ``(x0, y0, x1, y1)`` in ROI pixels."""
        if self.region.value == WINDOW:
            return self._window_box()
        if self.region.value == DRAWN:
            (x0, x1), (y0, y1) = self.x_range.value, self.y_range.value
            return x0, y0, x1, y1
        _, label, index = self.region.value
        x0, y0, x1, y1 = self.images[self.image.value].boxes_by_label[label][index]
        return float(x0), float(y0), float(x1), float(y1)

    def _on_image(self, change: object | None = None) -> None:
        """New image: its grid, its regions, the window of highest prediction; then everything is redrawn."""
        image = self.images[self.image.value]
        maps = self.maps[self.image.value]
        height, width = image.image.shape[:2]
        predictions = maps.window_predictions[[maps.labels.index(label) for label in self.labels]]
        best = np.nanargmax(predictions.reshape(len(self.labels), -1)) % predictions[0].size  # over labels
        row, col = np.unravel_index(best, maps.grid.shape)
        boxes = [(f"{label} box {i + 1}", ("box", label, i)) for label in self.labels
                 for i in range(len(image.boxes_by_label.get(label, ())))]
        with self._hold():
            self.row.max, self.col.max = maps.grid.n_rows - 1, maps.grid.n_cols - 1
            self.row.value, self.col.value = int(row), int(col)
            self.region.options = [*boxes, ("selected window", WINDOW), ("drawn (x, y sliders)", DRAWN)]
            self.region.value = boxes[0][1] if boxes else WINDOW
            x0, y0, x1, y1 = self._window_box()
            self.x_range.max, self.y_range.max = width, height
            self.x_range.value, self.y_range.value = (int(x0), int(x1)), (int(y0), int(y1))
        self._draw_window()
        self._update_region()

    def _on_window(self, change: object | None = None) -> None:
        """New window: its summary and crop; the neurons too if the window is the region."""
        if self._held:
            return
        self._draw_window()
        if self.region.value == WINDOW:
            self._update_region()

    def _on_region(self, change: object) -> None:
        if not self._held:
            self._update_region()

    def _on_drawn(self, change: object) -> None:
        """Moving a drawn-region slider makes the drawn box the region."""
        if self._held:
            return
        with self._hold():
            self.region.value = DRAWN
        self._update_region()

    def _on_neuron(self, change: object) -> None:
        if not self._held:
            self._draw_activation()
            self._draw_embedding()

    def _update_region(self) -> None:
        """Query the neurons of the region; list them, keep the chosen neuron if listed, redraw its views."""
        region = box_region(self.region_box(), self.images[self.image.value].image.shape[:2])
        self.neurons = region_neurons(self.activations(), self.thresholds, region, self.min_iou)
        self._update_neurons(keep=False)

    def _update_neurons(self, keep: bool = True) -> None:
        """Table and neuron options from :attr:`neurons` and the concepts, then the figures.

        ``keep`` keeps the chosen neuron; otherwise the region's best neuron is chosen (the image's most
        activated one when none reaches ``min_iou``).
        """
        listed = self.neurons["neuron"].tolist()
        shown = self.neurons.assign(concept=[self.concepts.labels.get(n, "") for n in listed])
        self.table.value = (shown.to_html(index=False, float_format="{:.3f}".format) if listed else
                            f"<i>no neuron has IoU ≥ {self.min_iou:g} with this region</i>")
        iou = dict(zip(listed, self.neurons["iou"], strict=True))
        others = [int(n) for n in np.argsort(-self.layer_maps[self.image.value].max(axis=(1, 2)), kind="stable")
                  if n not in iou]
        chosen = self.neuron.value if keep else (listed or others)[0]
        with self._hold():
            self.neuron.options = [(self._neuron_name(n, iou.get(n)), n) for n in [*listed, *others]]
            self.neuron.value = chosen
        self._draw_activation()
        self._draw_embedding()
        self._draw_report()

    def _neuron_name(self, neuron: int, iou: float | None) -> str:
        """Dropdown text: ``"12 · IoU 0.41 · mass"``."""
        parts = [str(neuron)] + ([f"IoU {iou:.2f}"] if iou is not None else [])
        return " · ".join(parts + ([self.concepts.labels[neuron]] if neuron in self.concepts.labels else []))

    def _window_box(self) -> tuple[float, float, float, float]:
        """The selected window ``(x0, y0, x1, y1)``, clipped to the ROI."""
        grid = self.maps[self.image.value].grid
        y0, x0 = self.row.value * grid.stride, self.col.value * grid.stride
        return x0, y0, min(x0 + grid.window_size, grid.width), min(y0 + grid.window_size, grid.height)

    def _draw_window(self) -> None:
        """Summary of the window's CorRELAX values and a figure of the window on the ROI and its crop."""
        maps, image = self.maps[self.image.value], self.images[self.image.value]
        self.window_summary.value = _window_summary(maps, self.labels, self.row.value, self.col.value)
        box = self._window_box()
        figure = Figure(figsize=(6.0, 3.0))
        whole, crop = figure.subplots(1, 2)
        whole.imshow(image.image)
        _outline(whole, box, "yellow")
        whole.set_title(f"{image.image_id[:8]} · window ({self.row.value}, {self.col.value})", fontsize=8)
        x0, y0, x1, y1 = (int(v) for v in box)
        crop.imshow(image.image[y0:y1, x0:x1])
        crop.set_title(f"crop x {x0}–{x1}, y {y0}–{y1}", fontsize=8)
        for ax in (whole, crop):
            ax.axis("off")
        _show(self.window_output, figure, f"window ({self.row.value}, {self.col.value})")

    def _draw_activation(self) -> None:
        """The chosen neuron's map over the image, its above-threshold area outlined, and the region; its top images."""
        neuron = self.neuron.value
        top = np.argsort(-self.max_activation[:, neuron], kind="stable")[:3]
        image_ids = list(self.layer_maps)
        self.top_images.value = "top activated images: " + ", ".join(
            f"{image_ids[i][:8]} ({self.max_activation[i, neuron]:.3g})" for i in top)
        activation = self.activations()[neuron]
        image = self.images[self.image.value]
        figure = Figure(figsize=(4.0, 4.0))
        ax = figure.subplots()
        ax.imshow(image.image[..., 0], cmap="gray")
        shown = ax.imshow(activation, cmap="inferno", alpha=0.55)
        figure.colorbar(shown, ax=ax, fraction=0.046, pad=0.02).ax.tick_params(labelsize=6)
        above = activation > self.thresholds[neuron]
        if above.any() and not above.all():
            ax.contour(above.astype(float), levels=[0.5], colors="cyan", linewidths=1.0)
        _outline(ax, self.region_box(), "yellow")
        concept = self.concepts.labels.get(neuron)
        ax.set_title(f"neuron {neuron}{f' ({concept})' if concept else ''} · threshold "
                     f"{self.thresholds[neuron]:.3g}", fontsize=8)
        ax.axis("off")
        _show(self.activation_output, figure, f"activation map of neuron {neuron}")

    def _draw_embedding(self) -> None:
        """PCA scatter of all neurons: concepts coloured, the region's neurons enlarged, the chosen one ringed."""
        figure = Figure(figsize=(5.5, 4.0))
        ax = figure.subplots()
        x, y = self.embedding.T
        ax.scatter(x, y, s=8, color="lightgrey", label="unlabelled")
        for colour, concept in enumerate(self.concepts.concepts()):
            members = [n for n, c in self.concepts.labels.items() if c == concept and n < len(x)]
            ax.scatter(x[members], y[members], s=14, color=f"C{colour % 10}", label=concept)
        listed = self.neurons["neuron"].to_numpy(dtype=int)
        ax.scatter(x[listed], y[listed], s=60, facecolors="none", edgecolors="black",
                   label=f"IoU ≥ {self.min_iou:g}")
        for n in listed[:20]:
            ax.annotate(str(n), (x[n], y[n]), fontsize=6, xytext=(3, 3), textcoords="offset points")
        ax.scatter(x[self.neuron.value], y[self.neuron.value], s=160, facecolors="none", edgecolors="red",
                   linewidths=1.5, label=f"neuron {self.neuron.value}")
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0))
        ax.set(xlabel="PC 1", ylabel="PC 2")
        ax.set_title("neurons: PCA of the max activation per image", fontsize=8)
        figure.subplots_adjust(left=0.12, right=0.72, bottom=0.12, top=0.92)  # fixed: layout engines are slow
        _show(self.embedding_output, figure, "neuron embedding")

    def _draw_report(self) -> None:
        """The "activation value" and "activation area" bars of the region's neurons, grouped by concept."""
        region = box_region(self.region_box(), self.images[self.image.value].image.shape[:2])
        report = activation_report(self.activations(), self.thresholds, region, self.neurons["neuron"].tolist(),
                                   self.concepts)
        height = 0.8 + 0.25 * max(len(report), 2)  # inches
        figure = Figure(figsize=(7.0, height))
        value_ax, area_ax = figure.subplots(1, 2, sharey=True)
        if len(report):
            value_ax.barh(report["bar"], report["activation_value"], color="C0")
            area_ax.barh(report["bar"], report["activation_area"], color="C1")
            value_ax.invert_yaxis()
        else:
            value_ax.text(0.5, 0.5, "no neuron listed", ha="center", va="center", transform=value_ax.transAxes)
        value_ax.set_title("activation value (mean in region)", fontsize=8)
        area_ax.set_title("activation area (share of region above threshold)", fontsize=8)
        for ax in (value_ax, area_ax):
            ax.tick_params(labelsize=7)
        figure.subplots_adjust(left=0.18, right=0.98, wspace=0.08, bottom=0.35 / height, top=1 - 0.3 / height)
        _show(self.report_output, figure, "activation report")

    @contextmanager
    def _hold(self) -> Iterator[None]:
        """Suppress observers while several controls change together."""
        self._held = True
        try:
            yield
        finally:
            self._held = False


def _window_summary(maps: CorrelaxMaps, labels: Sequence[str], row: int, col: int) -> str:
    """HTML: ρ(S_h, S_ŷ) and masks of window ``(row, col)``, and per label its ŷ and ρ(S_h, ŷ_M[c])."""
    if maps.masks_used[row, col] == 0:
        return f"window ({row}, {col}): <i>background, not computed</i>"
    rows = pd.DataFrame({
        "label": list(labels),
        "ŷ": [maps.window_predictions[maps.labels.index(label), row, col] for label in labels],
        "ρ(S_h, ŷ_M[c])": [maps.window_rho_class[maps.labels.index(label), row, col] for label in labels],
    })
    return (f"window ({row}, {col}): ρ(S_h, S_ŷ) = {_number(maps.window_rho_dist[row, col])} · "
            f"{maps.masks_used[row, col]} masks" + rows.to_html(index=False, float_format=_number, na_rep="–"))


def _number(value: float) -> str:
    """Three decimals, or "–" for NaN (an undefined correlation)."""
    return f"{value:.3f}" if np.isfinite(value) else "–"


def _present(image: AnnotatedImage, labels: Sequence[str]) -> list[str]:
    """The labels of ``labels`` with at least one box on ``image``."""
    return [label for label in labels if len(image.boxes_by_label.get(label, ()))]


def _outline(ax: Axes, box: tuple[float, float, float, float], colour: str) -> None:
    """Outline an ``(x0, y0, x1, y1)`` box in ROI pixels."""
    x0, y0, x1, y1 = box
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=colour, linewidth=1.2))


def _show(output: ipywidgets.Output, figure: Figure, text: str) -> None:
    """Replace ``output``'s content with ``figure`` as a PNG (alt text ``text``)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=72)
    png = base64.b64encode(buffer.getvalue()).decode("ascii")
    output.outputs = ({"output_type": "display_data", "data": {"image/png": png, "text/plain": text},
                       "metadata": {}},)
