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
# # Preprocessing
#
# This chapter reproduces **§3.1 of the paper** and its **Figure 2**, and draws
# **Figure 1**, the schema of the whole pipeline, from the parameters this build uses.
# Every mammogram is scaled to [0, 1] and inverted when its DICOM says `MONOCHROME1`;
# CLAHE (8 × 8 tiles) at clip limits 1.0 and 2.0 is fused channel-wise with the original
# into a 3-channel image; the image is then cropped to the breast's region of interest
# (ROI), found with Otsu's threshold and contours. We end with the ROI-size statistics
# that §3.1 reports.

# %% tags=["parameters", "hide-cell"]
profile = "tiny"
dataset = "phantom-tiny"
data_root = "artifacts/tiny/data/phantom-tiny"
results_dir = "artifacts/tiny/results"
seed = 0
clahe_clip_limits = [1.0, 2.0]
clahe_tile_grid = 8
crop_size = 64
crop_scale = [0.05, 5.0]
crop_aspect = [0.33, 1.66]
backbone = "mobilenet_v3_small"
focal_alpha = 0.95
focal_gamma = 2.5
focal_alpha_form = "alpha_t"
epochs = 8
batch_size = 48
window_size = 64
stride = 16
n_masks = 32
mask_cells = 8
keep_prob = 0.5
pointing_tolerance = 16

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from corrrelax_lib.book.notes import dataset_banner, dataset_label
from corrrelax_lib.book.paper import paper_roi_size
from corrrelax_lib.book.results import ResultLog
from corrrelax_lib.data.vindr import image_path, read_breast_annotations, read_finding_annotations
from corrrelax_lib.io import read_mammogram
from corrrelax_lib.preprocess.pipeline import preprocess_mammogram
from corrrelax_lib.preprocess.roi_statistics import roi_size_table, size_summary
from corrrelax_lib.viz.pipeline_schema import draw_pipeline_schema
from corrrelax_lib.viz.preprocessing import plot_preprocessing_steps

results = ResultLog(results_dir, "01_preprocessing")
display(Markdown(dataset_banner(dataset)))

# %% [markdown]
# ## The pipeline (Figure 1)
#
# The schema below is drawn from this build's parameters (profile shown in its title), so
# it cannot drift from the code: on the `full` profile it reads 256-pixel windows with a
# 48-pixel stride and 2560 masks, as in the paper.

# %% mystnb={"figure": {"caption": "Figure 1 | The CorRELAX pipeline, labelled with the parameters of this build: preprocessing, multi-scale crop sampling, classifier training, sliding-window inspection, CorRELAX correlations and the resulting maps.", "name": "fig-pipeline"}}
pipeline_parameters = dict(
    clahe_clip_limits=clahe_clip_limits, clahe_tile_grid=clahe_tile_grid, crop_size=crop_size,
    crop_scale=crop_scale, crop_aspect=crop_aspect, backbone=backbone, focal_alpha=focal_alpha,
    focal_gamma=focal_gamma, epochs=epochs, batch_size=batch_size, window_size=window_size,
    stride=stride, n_masks=n_masks, mask_cells=mask_cells, keep_prob=keep_prob,
    pointing_tolerance=pointing_tolerance,
)
draw_pipeline_schema(pipeline_parameters, title=f"profile: {profile}")
plt.show()

# %% [markdown]
# ## One mammogram through the preprocessing (Figure 2)
#
# We take the first training image that has an annotated finding and show, left to
# right: the normalised full image with its ROI (red), then the ROI crop normalised,
# after CLAHE at each clip limit, and the three channels fused as RGB.

# %%
findings = read_finding_annotations(f"{data_root}/finding_annotations.csv")
example = findings[(findings["split"] == "training") & findings["xmin"].notna()].iloc[0]
example_file = image_path(data_root, example["study_id"], example["image_id"])
normalised = read_mammogram(example_file)
preprocessed = preprocess_mammogram(example_file, clip_limits=clahe_clip_limits, tile_grid=clahe_tile_grid)
print(f"{example['laterality']}-{example['view_position']}, {normalised.shape[1]} x {normalised.shape[0]} px; "
      f"ROI {preprocessed.roi} -> {preprocessed.image.shape[1]} x {preprocessed.image.shape[0]} px")

# %% mystnb={"figure": {"caption": "Figure 2 | Preprocessing of one mammogram of this build's dataset: normalised image with the Otsu breast ROI, then the ROI normalised, CLAHE at clip limits 1.0 and 2.0, and the three channels fused as RGB.", "name": "fig-preprocessing"}}
plot_preprocessing_steps(normalised, preprocessed.image, preprocessed.roi, clahe_clip_limits)
plt.suptitle(f"{dataset_label(dataset)}: {example['laterality']}-{example['view_position']}", fontsize=9)
plt.show()

# %% [markdown]
# ## ROI sizes over the dataset (§3.1)
#
# The paper reports VinDr-Mammo images of mean size 2647 × 3387 pixels and ROIs of
# (885 ± 190) × (2497 ± 502) pixels (width × height). We measure every image of this
# build's dataset; the paper's values are read from `data_manifests/vindr-mammo.yml`.

# %%
images = read_breast_annotations(f"{data_root}/breast-level_annotations.csv")
sizes = roi_size_table(data_root, images)
ours = size_summary(sizes)
comparison = pd.concat({f"ours ({dataset_label(dataset)})": ours, "paper (VinDr-Mammo)": paper_roi_size()}, axis=0)
display(comparison.style.format(precision=1, na_rep="—").set_caption(
    "ROI and image sizes in pixels, ours beside the paper's (§3.1)"))

# %%
roi_width_ratio = float((sizes["roi_width"] / sizes["width"]).mean())
roi_height_ratio = float((sizes["roi_height"] / sizes["height"]).mean())
paper = paper_roi_size()
paper_width_ratio = paper.loc["roi", "width mean"] / paper.loc["image", "width mean"]
paper_height_ratio = paper.loc["roi", "height mean"] / paper.loc["image", "height mean"]
results.record("§3.1", "images measured", len(sizes))
results.record("§3.1", "ROI width / image width (mean)", round(roi_width_ratio, 3),
               round(paper_width_ratio, 3), "paper: ratio of the published means")
results.record("§3.1", "ROI height / image height (mean)", round(roi_height_ratio, 3),
               round(paper_height_ratio, 3), "paper: ratio of the published means")
results.record("Figure 1", "pipeline schema drawn from parameters", "yes")
results.record("Figure 2", "preprocessing figure", "yes")

# %%
fig, ax = plt.subplots(figsize=(5, 3.5))
for view, group in sizes.groupby("view_position"):
    ax.scatter(group["roi_width"] / group["width"], group["roi_height"] / group["height"], label=view, s=14)
ax.scatter([paper_width_ratio], [paper_height_ratio], marker="*", s=160, color="black",
           label="paper (VinDr-Mammo means)")
ax.set_xlabel("ROI width / image width")
ax.set_ylabel("ROI height / image height")
ax.legend(title="view")
ax.set_title(f"Fraction of each image kept by the ROI ({dataset_label(dataset)})")
plt.show()

# %% [markdown]
# ## What we found

# %%
display(Markdown(
    f"Over the {len(sizes)} images of `{dataset}`, the ROI keeps on average "
    f"{roi_width_ratio:.0%} of the image width and {roi_height_ratio:.0%} of its height; "
    f"on VinDr-Mammo the paper's means give {paper_width_ratio:.0%} and {paper_height_ratio:.0%}. "
    "Film labels and markers outside the breast are left out by the morphological opening, "
    "and the faint periphery is kept by growing the Otsu region into a band around it, so "
    "the skin line (where skin thickening and retractions are annotated) stays inside the crop."
))
