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
profile = "tiny"
dataset = "phantom-tiny"
data_root = "artifacts/tiny/data/phantom-tiny"
artifacts_dir = "artifacts/tiny"
results_dir = "artifacts/tiny/results"
seed = 0
device = "cpu"
clahe_clip_limits = [1.0, 2.0]
clahe_tile_grid = 8
crop_size = 64
crop_scale = [0.05, 5.0]
crop_aspect = [0.33, 1.66]
model_selection_backbones = ["mobilenet_v3_small", "resnet18"]
model_selection_epochs = 12
pretrained_weights = None
learning_rate = 1e-3
final_learning_rate = 1e-7
focal_alpha = 0.95
focal_gamma = 2.5
focal_alpha_form = "alpha_t"
batch_size = 48
num_workers = 0
progress = False

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from corrrelax_lib.book.notes import dataset_banner, dataset_label
from corrrelax_lib.book.paper import TABLE2_LABELS, paper_table2
from corrrelax_lib.book.results import ResultLog
from corrrelax_lib.data.crop_dataset import restrict_to_labels
from corrrelax_lib.data.vindr import finding_samples, findings_sha256, read_finding_annotations
from corrrelax_lib.metrics.classification import weighted_f1
from corrrelax_lib.models.backbones import DISPLAY_NAMES
from corrrelax_lib.training.config import TrainingConfig
from corrrelax_lib.training.run import evaluate_classifier, train_classifier

results = ResultLog(results_dir, "03_model_selection")
display(Markdown(dataset_banner(dataset)))

# %% [markdown]
# ## The four-label subset
#
# Every annotated box carrying at least one of the four labels is a sample; its target keeps
# only those labels. No-Finding images are not part of this experiment.

# %%
findings = read_finding_annotations(f"{data_root}/finding_annotations.csv")
samples = restrict_to_labels(finding_samples(findings), TABLE2_LABELS)
split_counts = pd.DataFrame({
    split: {label: int(samples.loc[samples["split"] == split, "labels"].map(lambda ls, lb=label: lb in ls).sum())
            for label in TABLE2_LABELS}
    for split in ("training", "test")
})
display(split_counts.style.set_caption(f"Samples of the 4-label subset per split ({dataset_label(dataset)})"))

# %% [markdown]
# ## Training every backbone under one protocol

# %%
protocol = dict(
    labels=TABLE2_LABELS, dataset=dataset, data_fingerprint=findings_sha256(data_root), weights=pretrained_weights,
    crop_size=crop_size, crop_scale=tuple(crop_scale), crop_aspect=tuple(crop_aspect),
    epochs=model_selection_epochs, batch_size=batch_size, learning_rate=learning_rate,
    final_learning_rate=final_learning_rate, focal_alpha=focal_alpha, focal_gamma=focal_gamma,
    focal_alpha_form=focal_alpha_form,
    clahe_clip_limits=tuple(clahe_clip_limits), clahe_tile_grid=clahe_tile_grid, seed=seed, device=device,
    num_workers=num_workers,
)
runs, evaluations = {}, {}
for backbone in model_selection_backbones:
    runs[backbone] = train_classifier(TrainingConfig(backbone=backbone, **protocol), samples, data_root,
                                      artifacts_dir, progress=progress)
    evaluations[backbone] = evaluate_classifier(runs[backbone], samples, data_root, artifacts_dir)

cost = pd.DataFrame({
    DISPLAY_NAMES[name]: {
        "parameters (M)": sum(p.numel() for p in run.model.parameters()) / 1e6,
        "seconds per epoch": run.history["seconds"].median(),
        "final training loss": run.history["train_loss"].iloc[-1],
    }
    for name, run in runs.items()
}).T
display(cost.style.format("{:.3g}").set_caption(
    f"Size and training cost of each backbone ({model_selection_epochs} epochs, {crop_size} px crops, {device})"
))

# %% [markdown]
# ## Table 2: F1 per label, ours beside the paper's

# %%
ours = pd.DataFrame({
    DISPLAY_NAMES[name]: [*evaluation.table.loc[list(TABLE2_LABELS), "f1"], weighted_f1(evaluation.table)]
    for name, evaluation in evaluations.items()
}, index=[*TABLE2_LABELS, "Weighted Average"])
support = evaluations[model_selection_backbones[0]].table["support"]
ours.insert(0, "N", [*support.loc[list(TABLE2_LABELS)], support.loc[list(TABLE2_LABELS)].sum()])
paper = paper_table2().rename(columns=DISPLAY_NAMES)
table2 = pd.concat({f"ours ({dataset_label(dataset)})": ours, "paper (VinDr-Mammo)": paper}, axis=1)
display(table2.style.format("{:.3f}", na_rep="–").format("{:d}", subset=[c for c in table2.columns if c[1] == "N"])
        .set_caption(f"Table 2 | Test-set F1 per backbone on the 4-label subset: ours ({dataset_label(dataset)}, "
                     f"{model_selection_epochs} epochs) beside the paper's (VinDr-Mammo, 50 epochs, ImageNet weights)"))

# %%
for name in model_selection_backbones:
    for row in ours.index:
        paper_value = paper.loc[row, DISPLAY_NAMES[name]] if DISPLAY_NAMES[name] in paper.columns else None
        results.record("Table 2", f"F1 {DISPLAY_NAMES[name]}: {row}", round(float(ours.loc[row, DISPLAY_NAMES[name]]), 3),
                       paper_value)

# %% mystnb={"figure": {"caption": "Support-weighted test F1 of every backbone: ours and, where the paper trained the same architecture, the paper's.", "name": "fig-model-selection"}}
weighted = pd.DataFrame({
    f"ours ({dataset_label(dataset)})": ours.loc["Weighted Average"].drop("N"),
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
    f"On `{dataset}` the best support-weighted F1 after {model_selection_epochs} epochs is "
    f"{ours.loc['Weighted Average', best]:.3f} ({best}); the backbones range from "
    f"{ours.loc['Weighted Average'].drop('N').min():.3f} to {ours.loc['Weighted Average'].drop('N').max():.3f}. "
    f"The paper reports {paper.loc['Weighted Average'].drop('N').min():.3f}–"
    f"{paper.loc['Weighted Average'].drop('N').max():.3f} on VinDr-Mammo with ImageNet-pretrained weights and "
    f"chose EfficientNetV2 ({paper.loc['Weighted Average', 'EfficientNetV2']:.3f}). "
    + ("Our models start from random weights and see a few hundred synthetic crops, so this ranking says how "
       "quickly each architecture fits the phantoms, not which one is better on mammograms."
       if pretrained_weights is None else "")
))
