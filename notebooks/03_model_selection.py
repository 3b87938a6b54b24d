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
# # Model selection
#
# This chapter reproduces **§3.3 and Table 2** of the paper: several torchvision backbones,
# each with the paper's head (Dropout 0.5 → Dense 512 → ReLU → Dense → Sigmoid), trained under
# one protocol (multi-scale crops, focal loss, Adam with cosine annealing) on the four most
# common findings — Mass, Suspicious Calcification, Asymmetries and Suspicious Lymph Node —
# and scored by F1 on the test split's annotated boxes. The paper (quoting its ref. 43) chose
# EfficientNetV2 for the best support-weighted F1. Each trained model is an artifact keyed by
# its configuration, so rerunning this chapter with unchanged parameters trains nothing.

# %% tags=["parameters", "hide-cell"]
profile = "tiny"  # book/profiles/<profile>.yml
overrides = {}  # dotted keys of corrrelax_lib.config.StudyConfig, e.g. {"correlax.n_masks": 64}

# %%
import dataclasses

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from corrrelax_lib.book.notes import dataset_banner, dataset_label
from corrrelax_lib.book.results import ResultLog
from corrrelax_lib.data.crop_dataset import restrict_to_labels
from corrrelax_lib.metrics.classification import weighted_f1
from corrrelax_lib.metrics.paper import TABLE2_LABELS, paper_table2
from corrrelax_lib.models.backbones import DISPLAY_NAMES
from corrrelax_lib.pipeline.study import Study
from corrrelax_lib.training.run import evaluate_classifier, train_classifier

study = Study.open(profile, overrides)
config = study.config
results = ResultLog(study.results_dir, "03_model_selection")
display(Markdown(dataset_banner(config.data.dataset)))

# %% [markdown]
# ## The four-label subset
#
# Every annotated box carrying at least one of the four labels is a sample; its target keeps
# only those labels. No-Finding images are not part of this experiment.

# %%
samples = restrict_to_labels(study.samples, TABLE2_LABELS)
split_counts = pd.DataFrame({
    split: {label: int(samples.loc[samples["split"] == split, "labels"].map(lambda ls, lb=label: lb in ls).sum())
            for label in TABLE2_LABELS}
    for split in ("training", "test")
})
display(split_counts.style.set_caption(
    f"Samples of the 4-label subset per split ({dataset_label(config.data.dataset)})"))

# %% [markdown]
# ## Training every backbone under one protocol

# %%
# The study's classifier settings, on the 4 labels and for the model-selection epochs; only the backbone varies.
protocol = dataclasses.replace(study.training_config(), labels=TABLE2_LABELS, epochs=config.model_selection.epochs)
runs, evaluations = {}, {}
for backbone in config.model_selection.backbones:
    runs[backbone] = train_classifier(dataclasses.replace(protocol, backbone=backbone), samples, study.data_root,
                                      study.artifacts_dir, progress=study.progress)
    evaluations[backbone] = evaluate_classifier(runs[backbone], samples, study.data_root, study.artifacts_dir)

cost = pd.DataFrame({
    DISPLAY_NAMES[name]: {
        "parameters (M)": sum(p.numel() for p in run.model.parameters()) / 1e6,
        "seconds per epoch": run.history["seconds"].median(),
        "final training loss": run.history["train_loss"].iloc[-1],
    }
    for name, run in runs.items()
}).T
display(cost.style.format("{:.3g}").set_caption(
    f"Size and training cost of each backbone ({config.model_selection.epochs} epochs, "
    f"{config.classifier.crop_size} px crops, {config.device})"))

# %% [markdown]
# ## Table 2: F1 per label, ours beside the paper's

# %%
ours = pd.DataFrame({
    DISPLAY_NAMES[name]: [*evaluation.table.loc[list(TABLE2_LABELS), "f1"], weighted_f1(evaluation.table)]
    for name, evaluation in evaluations.items()
}, index=[*TABLE2_LABELS, "Weighted Average"])
support = evaluations[config.model_selection.backbones[0]].table["support"]
ours.insert(0, "N", [*support.loc[list(TABLE2_LABELS)], support.loc[list(TABLE2_LABELS)].sum()])
paper = paper_table2().rename(columns=DISPLAY_NAMES)
table2 = pd.concat({f"ours ({dataset_label(config.data.dataset)})": ours, "paper (VinDr-Mammo)": paper}, axis=1)
display(table2.style.format("{:.3f}", na_rep="–").format("{:d}", subset=[c for c in table2.columns if c[1] == "N"])
        .set_caption(f"Table 2 | Test-set F1 per backbone on the 4-label subset: ours ({dataset_label(config.data.dataset)}, "
                     f"{config.model_selection.epochs} epochs) beside the paper's (VinDr-Mammo, 50 epochs, ImageNet weights)"))

# %%
for name in config.model_selection.backbones:
    for row in ours.index:
        paper_value = paper.loc[row, DISPLAY_NAMES[name]] if DISPLAY_NAMES[name] in paper.columns else None
        results.record("Table 2", f"F1 {DISPLAY_NAMES[name]}: {row}", round(float(ours.loc[row, DISPLAY_NAMES[name]]), 3),
                       paper_value)

# %% mystnb={"figure": {"caption": "Support-weighted test F1 of every backbone: ours and, where the paper trained the same architecture, the paper's.", "name": "fig-model-selection"}}
weighted = pd.DataFrame({
    f"ours ({dataset_label(config.data.dataset)})": ours.loc["Weighted Average"].drop("N"),
    "paper (VinDr-Mammo)": paper.loc["Weighted Average"].drop("N"),
})
ax = weighted.plot.barh(figsize=(6, 3.5))
ax.invert_yaxis()
ax.set_xlabel("support-weighted F1 on the test split")
ax.set_xlim(0, 1)
ax.set_title("Model selection (Table 2, weighted average)")
plt.show()

# %% [markdown]
# ## What we found

# %%
best = ours.loc["Weighted Average"].drop("N").idxmax()
display(Markdown(
    f"On `{config.data.dataset}` the best support-weighted F1 after {config.model_selection.epochs} epochs is "
    f"{ours.loc['Weighted Average', best]:.3f} ({best}); the backbones range from "
    f"{ours.loc['Weighted Average'].drop('N').min():.3f} to {ours.loc['Weighted Average'].drop('N').max():.3f}. "
    f"The paper reports {paper.loc['Weighted Average'].drop('N').min():.3f}–"
    f"{paper.loc['Weighted Average'].drop('N').max():.3f} on VinDr-Mammo with ImageNet-pretrained weights and "
    f"chose EfficientNetV2 ({paper.loc['Weighted Average', 'EfficientNetV2']:.3f}). "
    + ("Our models start from random weights and see a few hundred synthetic crops, so this ranking says how "
       "quickly each architecture fits the phantoms, not which one is better on mammograms."
       if config.classifier.pretrained_weights is None else "")
))
