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
profile = "tiny"
dataset = "phantom-tiny"
data_root = "artifacts/tiny/data/phantom-tiny"
results_dir = "artifacts/tiny/results"
seed = 0
n_examples_per_label = 4

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from corrrelax_lib.book.notes import dataset_banner, dataset_label
from corrrelax_lib.book.paper import paper_table1
from corrrelax_lib.book.results import ResultLog
from corrrelax_lib.data.examples import label_example_crops
from corrrelax_lib.data.labels import CATEGORY_TO_LABEL
from corrrelax_lib.data.vindr import finding_samples, read_finding_annotations, table1_counts
from corrrelax_lib.viz.preprocessing import plot_crop_grid

results = ResultLog(results_dir, "02_dataset")
display(Markdown(dataset_banner(dataset)))

# %% [markdown]
# ## Label grouping (§3.2)

# %%
grouping = pd.Series(CATEGORY_TO_LABEL, name="paper label").rename_axis("VinDr-Mammo category").to_frame()
display(grouping.style.set_caption("VinDr-Mammo categories and the paper label each one counts towards"))

# %% [markdown]
# ## Samples per label and split (Table 1)

# %%
ours = table1_counts(f"{data_root}/finding_annotations.csv")
paper = paper_table1()
table1 = pd.concat({f"ours ({dataset_label(dataset)})": ours, "paper (VinDr-Mammo)": paper}, axis=1)
display(table1.style.set_caption(
    f"Table 1 | Number of samples per label and split: ours ({dataset_label(dataset)}) beside the paper's (VinDr-Mammo)"
))

# %%
for label in ours.index:
    for split in ours.columns:
        results.record("Table 1", f"{label} ({split})", int(ours.loc[label, split]), int(paper.loc[label, split]))

# %% [markdown]
# Our phantoms are a few hundred samples, the paper's dataset twenty thousand images;
# what can be compared is the *shape* of the distribution. The figure shows each label's
# share of the finding samples (No Finding excluded) in both.

# %%
findings_only = pd.concat({f"ours ({dataset_label(dataset)})": ours.drop(index="No Finding").sum(axis=1),
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
samples = finding_samples(read_finding_annotations(f"{data_root}/finding_annotations.csv"))
crops = label_example_crops(data_root, samples[samples["split"] == "training"], n_examples_per_label, seed=seed)
plot_crop_grid(crops, suptitle=f"{dataset_label(dataset)}: training crops per label")
plt.show()

# %% [markdown]
# ## What we found

# %%
multi_label = int((samples["labels"].map(len) > 1).sum())
display(Markdown(
    f"`{dataset}` holds {int(ours.values.sum())} label counts from {len(samples)} samples "
    f"({multi_label} of them multi-label boxes), with every one of the 8 labels present in both "
    f"splits (minimum count {int(ours.values.min())}). The paper's VinDr-Mammo counts are dominated "
    f"by No Finding ({paper.loc['No Finding'].sum()} of {paper.values.sum()} label counts) and masses "
    f"({paper.loc['Mass'].sum()}); rare labels such as Retractions have {paper.loc['Retractions'].sum()} samples "
    "in total, which the paper names as the reason for their low F1 scores."
))
