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
# # The dataset
#
# This chapter reproduces **§3.2 and Table 1** of the paper. VinDr-Mammo findings are
# grouped into the paper's 8 labels (asymmetries and retractions are merged); every
# annotated box is one multi-label sample and every image without findings is one
# *No Finding* sample. We count samples per label and split, put the paper's counts
# beside ours, and show example crops of each label after preprocessing.

# %% tags=["parameters", "hide-cell"]
profile = "tiny"  # book/profiles/<profile>.yml
overrides = {}  # dotted keys of corrrelax_lib.config.StudyConfig, e.g. {"correlax.n_masks": 64}

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from corrrelax_lib.book.notes import dataset_banner, dataset_label
from corrrelax_lib.book.results import ResultLog
from corrrelax_lib.data.examples import label_example_crops
from corrrelax_lib.data.labels import CATEGORY_TO_LABEL
from corrrelax_lib.data.vindr import (
    FINDINGS_CSV,
    clipped_boxes,
    clipped_boxes_summary,
    n_finding_boxes,
    read_finding_annotations,
    table1_counts,
)
from corrrelax_lib.metrics.paper import paper_table1
from corrrelax_lib.pipeline.study import Study
from corrrelax_lib.viz.preprocessing import plot_crop_grid

study = Study.open(profile, overrides)
config = study.config
results = ResultLog(study.results_dir, "02_dataset")
display(Markdown(dataset_banner(config.data.dataset)))

# %% [markdown]
# ## Label grouping (§3.2)

# %%
grouping = pd.Series(CATEGORY_TO_LABEL, name="paper label").rename_axis("VinDr-Mammo category").to_frame()
display(grouping.style.set_caption("VinDr-Mammo categories and the paper label each one counts towards"))

# %% [markdown]
# ## Samples per label and split (Table 1)

# %%
ours = table1_counts(study.data_root / FINDINGS_CSV)
paper = paper_table1()
table1 = pd.concat({f"ours ({dataset_label(config.data.dataset)})": ours, "paper (VinDr-Mammo)": paper}, axis=1)
display(table1.style.set_caption(f"Table 1 | Number of samples per label and split: ours "
                                 f"({dataset_label(config.data.dataset)}) beside the paper's (VinDr-Mammo)"))

# %% [markdown]
# Boxes that reach past their image are clipped to it when the annotations are read, and counted:
# about 2 % of VinDr-Mammo's finding boxes (42 of 2,254) extend a few pixels past the edge (down to
# about −27 px). The phantoms have such boxes on purpose; a box entirely outside its image is an error.

# %%
findings = read_finding_annotations(study.data_root / FINDINGS_CSV)
clipped = clipped_boxes(findings)
display(Markdown(clipped_boxes_summary(clipped, n_finding_boxes(findings), FINDINGS_CSV) + "."))
results.record("§3.2", "finding boxes clipped to their image", len(clipped), None,
               f"of {n_finding_boxes(findings)} boxes; VinDr-Mammo: 42 of 2,254 (measured on the real file)")

# %%
for label in ours.index:
    for split in ours.columns:
        results.record("Table 1", f"{label} ({split})", int(ours.loc[label, split]), int(paper.loc[label, split]))

# %% [markdown]
# Our phantoms are a few hundred samples, the paper's dataset twenty thousand images;
# what can be compared is the *shape* of the distribution. The figure shows each label's
# share of the finding samples (No Finding excluded) in both.

# %%
findings_only = pd.concat({f"ours ({dataset_label(config.data.dataset)})": ours.drop(index="No Finding").sum(axis=1),
                           "paper": paper.drop(index="No Finding").sum(axis=1)}, axis=1)
shares = findings_only / findings_only.sum()
ax = shares.plot.barh(figsize=(6, 3.5))
ax.invert_yaxis()
ax.set_xlabel("share of finding samples (training + test)")
ax.set_title("Label distribution of finding samples")
plt.show()

# %% [markdown]
# ## Example crops per label
#
# Each row shows random samples of one label, cut from the preprocessed (CLAHE-fused,
# ROI-cropped) image around the annotated box with half a box of context on every side;
# No Finding crops are taken at the centre of the ROI.

# %% mystnb={"figure": {"caption": "Example crops of every label after preprocessing (fused RGB), drawn at random with the profile's seed.", "name": "fig-label-crops"}}
samples = study.samples
crops = label_example_crops(study.image_store(), samples[samples["split"] == "training"],
                            config.data.n_examples_per_label, seed=config.seed)
plot_crop_grid(crops, suptitle=f"{dataset_label(config.data.dataset)}: training crops per label")
plt.show()

# %% [markdown]
# ## What we found

# %%
multi_label = int((samples["labels"].map(len) > 1).sum())
display(Markdown(
    f"`{config.data.dataset}` holds {int(ours.values.sum())} label counts from {len(samples)} samples "
    f"({multi_label} of them multi-label boxes), with every one of the 8 labels present in both "
    f"splits (minimum count {int(ours.values.min())}). The paper's VinDr-Mammo counts are dominated "
    f"by No Finding ({paper.loc['No Finding'].sum()} of {paper.values.sum()} label counts) and masses "
    f"({paper.loc['Mass'].sum()}); rare labels such as Retractions have {paper.loc['Retractions'].sum()} samples "
    "in total, which the paper names as the reason for their low F1 scores."
))
