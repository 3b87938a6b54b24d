# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # CorRELAX maps
#
# This chapter introduces the method of **§3.4–3.5 (Figure 4)** and reproduces **Figure 5 (§4.1)
# and Figure 8 (§4.4)**: sliding windows over the breast, random masks and masked forward passes
# per window, the correlations ρ(S_h, S_ŷ) and ρ(S_h, ŷ_M) per window, and the global maps the
# IoU kernel builds from them. The maps of every test image with a finding are computed once here
# and cached; the pointing-game chapter scores the same maps.

# %% tags=["parameters", "hide-cell"]
profile = "tiny"  # book/profiles/<profile>.yml
overrides = {}  # dotted keys of corrrelax_lib.config.StudyConfig, e.g. {"correlax.n_masks": 64}

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from corrrelax_lib.book.notes import dataset_banner, dataset_label
from corrrelax_lib.book.results import ResultLog
from corrrelax_lib.data.labels import LABELS, NO_FINDING
from corrrelax_lib.pipeline.study import Study
from corrrelax_lib.viz.correlax_maps import plot_correlax_panel, plot_label_maps
from corrrelax_lib.viz.correlax_schema import draw_correlax_schema
from corrrelax_lib.widgets.correlax_panel import CorrelaxPanel
from corrrelax_lib.windows.kernel import iou_kernel

study = Study.open(profile, overrides)
config = study.config
results = ResultLog(study.results_dir, "05_correlax_maps")
display(Markdown(dataset_banner(config.data.dataset)))

# %% [markdown]
# ## The method (Figure 4)
#
# The classifier of the previous chapter splits into a feature extractor, giving the vector **h**
# in front of the head, and the head, giving the sigmoid outputs **ŷ**. For one window *X* and
# many random masks *M*, CorRELAX compares the masked and unmasked passes with the cosine
# similarity (Eq. 2) and correlates, over the masks, the feature similarity S_h with the prediction
# similarity S_ŷ (Eq. 3, the *distance correlation*) and with each class's masked probability
# ŷ_M[c] (Eq. 4, the *class correlation*). A window whose features and predictions move together
# when parts of it are hidden is one whose content the model's decision rests on. The figure is
# drawn from this profile's parameters.

# %% mystnb={"figure": {"caption": "Figure 4 | The CorRELAX workflow for one window, drawn from this profile's parameters (window size, mask count and grid, keep probability).", "name": "fig-correlax-workflow"}}
draw_correlax_schema(config.correlax, title=f"CorRELAX with the `{profile}` profile")
plt.show()

# %% [markdown]
# Windows of the ROI are `window_size` pixels every `stride` pixels; windows with (almost) no
# breast are skipped. Each window's values are placed on the window grid and smoothed with the
# IoU kernel (Eq. 5–10): the weight of a neighbour is its overlap (IoU) with the centre window,
# for neighbours up to half a window away. Skipped windows are left out of the average
# (normalised convolution) instead of counting as zeros.

# %%
kernel = iou_kernel(config.correlax.window_size, config.correlax.stride)
display(pd.DataFrame(kernel, index=(np.arange(len(kernel)) - len(kernel) // 2) * config.correlax.stride,
                     columns=(np.arange(len(kernel)) - len(kernel) // 2) * config.correlax.stride)
        .style.format("{:.4f}").background_gradient(cmap="Greys", axis=None)
        .set_caption(f"IoU kernel for {config.correlax.window_size}-px windows at stride {config.correlax.stride} px (rows, columns: neighbour "
                     "offset in px; weights sum to 1)"))

# %% [markdown]
# ## Maps of every test image with a finding
#
# `corrrelax explain --profile <profile>` computes the same maps from the command line, sharing the
# images out over the processes of a `torchrun` job; whichever runs first, the other reads them.

# %%
images = study.test_images()
maps = study.correlax_maps()

cost = pd.DataFrame([{"image": image.image_id[:8], "ROI (h × w)": f"{image.image.shape[0]} × {image.image.shape[1]}",
                      "windows": maps[image.image_id].metadata["windows"],
                      "masked passes": maps[image.image_id].metadata["masked_passes"],
                      "seconds": maps[image.image_id].metadata["seconds"]["explain"],
                      "masked passes / s": maps[image.image_id].metadata["masks_per_second"]} for image in images])
display(cost.style.format({"seconds": "{:.1f}", "masked passes / s": "{:.0f}"}).hide(axis="index")
        .set_caption(f"Cost per image on `{config.device}` ({config.correlax.n_masks} masks per window; computed once, then read from "
                     "the cache)"))

# %% [markdown]
# ## Figure 5: the maps of two images
#
# As in the paper, one image with a group of masses and one with calcifications: the image and
# its boxes, the distance-correlation map, and for No Finding, Mass, Suspicious Calcification and
# every other label present, the prediction map (smoothed ŷ_c), the correlation map (smoothed
# ρ(S_h, ŷ_M[c])) and their product. The dot marks each map's maximum, the point the pointing game
# scores.

# %%
def shown_labels(image):
    return [label for label in LABELS if label in (NO_FINDING, "Mass", "Suspicious Calcification")
            or label in image.boxes_by_label]


with_masses = max(images, key=lambda image: len(image.boxes_by_label.get("Mass", ())))
with_calcifications = max(
    (image for image in images if image is not with_masses),
    key=lambda image: max(((b[2] - b[0]) * (b[3] - b[1]) for b in image.boxes_by_label.get("Suspicious Calcification", ())),
                          default=0),
)

# %% mystnb={"figure": {"caption": "Figure 5 (upper panel) | The test image with the most mass boxes: image and boxes, distance-correlation map, and prediction, correlation and product maps per label, with each map's maximum.", "name": "fig-correlax-masses"}}
for image in [with_masses]:
    plot_correlax_panel(image.image, image.boxes_by_label, maps[image.image_id].pixel_map("distance"),
                        maps[image.image_id].pixel_maps(shown_labels(image), ("prediction", "correlation", "product")),
                        title=f"{image.image_id[:8]} ({dataset_label(config.data.dataset)})")
    plt.show()

# %% mystnb={"figure": {"caption": "Figure 5 (lower panel) | The test image with the largest calcification box, in the same layout.", "name": "fig-correlax-calcifications"}}
for image in [with_calcifications]:
    plot_correlax_panel(image.image, image.boxes_by_label, maps[image.image_id].pixel_map("distance"),
                        maps[image.image_id].pixel_maps(shown_labels(image), ("prediction", "correlation", "product")),
                        title=f"{image.image_id[:8]} ({dataset_label(config.data.dataset)})")
    plt.show()

# %% [markdown]
# ## Figure 8: one image, several findings
#
# The test image with the most different labels: prediction maps above, correlation maps below,
# one column per label present, with its boxes and the maximum of each map.

# %% mystnb={"figure": {"caption": "Figure 8 | Prediction maps (above) and correlation maps (below) of every label present in the test image with the most labels; boxes are the annotations, dots the maxima.", "name": "fig-label-maps"}}
most_labels = max(images, key=lambda image: len(image.boxes_by_label))
plot_label_maps(most_labels.image, most_labels.boxes_by_label,
                maps[most_labels.image_id].pixel_maps(list(most_labels.boxes_by_label), ("prediction", "correlation")),
                title=f"{most_labels.image_id[:8]} ({dataset_label(config.data.dataset)})")
plt.show()

# %% [markdown]
# ## Explore the maps yourself
#
# Rerunning this notebook in Jupyter gives a panel that redraws any image's maps from the results
# computed above, without recomputing them: choose the image, the label, the map type, a display
# threshold, and the number of masks (the correlations after the first masks are kept too).

# %%
panel = CorrelaxPanel(images, maps)
display(panel.widget)

# %% [markdown]
# ## What we found

# %%
def inside_versus_outside(kind):
    """Mean map value over the pixels of a label's boxes, and over the rest of the breast."""
    inside, outside = [], []
    for image in images:
        for label, boxes in image.boxes_by_label.items():
            heatmap = maps[image.image_id].pixel_map(kind, label)
            in_box = np.zeros(heatmap.shape, dtype=bool)
            for x0, y0, x1, y1 in boxes.astype(int):
                in_box[y0:y1, x0:x1] = True
            inside.append(np.nanmean(heatmap[in_box]))
            outside.append(np.nanmean(heatmap[~in_box]))
    return np.nanmean(inside), np.nanmean(outside)


contrast = {kind: inside_versus_outside(kind) for kind in ("prediction", "correlation", "product")}
passes_per_second = cost["masked passes"].sum() / cost["seconds"].sum()
for kind, (inside, outside) in contrast.items():
    results.record("Figure 5", f"{kind} map of a present label: mean inside / outside its boxes",
                   f"{inside:.3f} / {outside:.3f}", None)
results.record("§3.5", f"masked passes per second on {config.device}", round(passes_per_second), None)
results.record("Figure 5, 8", "figures drawn from computed maps", "yes", "yes")
display(Markdown(
    f"On {len(images)} test images of `{config.data.dataset}` with at least one finding, CorRELAX ran "
    f"{cost['windows'].sum():,} windows × {config.correlax.n_masks} masks = {cost['masked passes'].sum():,} masked passes at "
    f"{passes_per_second:,.0f} per second on `{config.device}`. Averaged over the {sum(len(i.boxes_by_label) for i in images)} "
    "image-label pairs, the maps of the label that is present are, inside its boxes versus elsewhere in the "
    "breast: " + "; ".join(f"{kind} {inside:.3f} vs {outside:.3f}" for kind, (inside, outside) in contrast.items())
    + ". The pointing-game chapter turns this into Table 4. These are synthetic phantoms and a small "
    "model trained on them; the paper's maps come from EfficientNetV2 on VinDr-Mammo."
))
