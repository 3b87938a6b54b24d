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
# # Related methods: LEM and MLDAM
#
# Beyond the paper: two related systems that readers of this field compare against, rebuilt in the
# library and run on the same data at `tiny` scale. **LEM** (local extremum mapping) localises findings
# from image-level labels only and is scored with the same pointing game as CorRELAX. **MLDAM**
# (multi-level dual attention) adds attention to a classifier; as in its paper, a baseline and MLDAM
# are trained with and without augmentation and compared by accuracy, precision, recall and F1, and
# their gradient saliency maps are shown. The published numbers of both papers are their own, on their
# own data, and are shown beside ours only as a reference.

# %% tags=["parameters", "hide-cell"]
profile = "tiny"  # book/profiles/<profile>.yml
overrides = {}  # dotted keys of corrrelax_lib.config.StudyConfig, e.g. {"correlax.n_masks": 64}

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from corrrelax_lib.book.notes import dataset_banner, dataset_label
from corrrelax_lib.book.results import ResultLog
from corrrelax_lib.data.vindr import findings_sha256
from corrrelax_lib.metrics.paper import paper_mldam_results
from corrrelax_lib.pipeline.method_comparison import method_comparison
from corrrelax_lib.pipeline.study import FINDINGS, Study
from corrrelax_lib.training.mldam import example_crops, mldam_training_config, run_mldam_experiment
from corrrelax_lib.viz.method_comparison import plot_method_grid
from corrrelax_lib.viz.mldam import plot_mldam_maps

study = Study.open(profile, overrides)
config = study.config
results = ResultLog(study.results_dir, "09_related_methods")
display(Markdown(dataset_banner(config.data.dataset)))
samples = study.samples

# %% [markdown]
# ## LEM: local extremum mapping from image-level labels
#
# LEM replaces global average pooling with a 1×1-convolution score map per finding whose positive
# local maxima (3×3 neighbourhoods) vote for the finding and negative local minima against it; a sparse
# loss keeps the other scores near zero, and training switches from average pooling to the extrema
# (GAP → LEM). It never sees a box: the whole ROI, resized, with the image's labels. Its localisation
# map backpropagates the extrema through positive weights only. Both that map and the plain score
# map are scored with the pointing game on the same test images as CorRELAX (maximum on a box grown by
# `pointing_tolerance` px).

# %%
images = study.test_images()
correlax_maps = study.correlax_maps()  # the maps chapter's, from their cache
lem_run, lem_methods = study.lem_maps()
methods = [*study.correlax_method_maps(("prediction", "correlation"), correlax_maps), *lem_methods]
lem_pairs, lem_table = method_comparison(images, methods, FINDINGS, tolerance=config.pointing_game.tolerance)
shown_labels = [label for label in FINDINGS if (lem_pairs["label"] == label).any()]
display(lem_table[[*shown_labels, "all pairs", "chance", "support", "seconds / image"]]
        .style.format("{:.3f}", na_rep="–").format("{:.0f}", subset=["support"])
        .format("{:.2f}", subset=["seconds / image"])
        .set_caption(f"Pointing-game accuracy (map maximum on a box) of LEM, trained with image-level labels only "
                     f"({config.lem.epochs} epochs, {lem_run.training_seconds:.0f} s on `{config.device}`), beside CorRELAX's maps "
                     f"of the same {len(images)} test images ({dataset_label(config.data.dataset)})."))
for name, row in lem_table.iterrows():
    results.record("LEM", f"{name}: pointing accuracy, all pairs", round(float(row["all pairs"]), 4))
results.record("LEM", "training seconds", round(lem_run.training_seconds, 1))

# %% mystnb={"figure": {"caption": "LEM's localisation and score maps beside CorRELAX's prediction map, for the first finding of four test images; the dot is each map's maximum.", "name": "fig-lem-maps"}}
shown = images[:4]
plot_method_grid(shown, [next(label for label in FINDINGS if label in image.boxes_by_label) for image in shown],
                 [methods[0], *lem_methods], title=f"LEM and CorRELAX maps ({dataset_label(config.data.dataset)})")
plt.show()

# %% [markdown]
# ## MLDAM: multi-level dual attention
#
# The backbone's last three stages give coarse-to-fine feature maps I_A, I_B, I_C. A position
# attention takes its queries from I_A, keys from I_B and values from I_C; a channel attention
# reweights I_C's channels by their mutual similarity; the two refined maps are normalised, averaged
# and classified. The baseline classifies I_C with the same head, so the two differ only by the
# attention. "Augmentation" is the MLDAM paper's (small rotations, shifts, scaling, horizontal flips),
# on top of the multi-scale crops every arm is trained on. The task scored is the crop's "any
# finding vs No Finding" (the MLDAM paper's is benign vs malignant), at probability 0.5.

# %%
mldam_config = mldam_training_config(config, findings_sha256(study.data_root))
experiment = run_mldam_experiment(mldam_config, samples, study.data_root, study.artifacts_dir, progress=study.progress)
paper_mldam = paper_mldam_results()
comparison = pd.concat({f"ours ({dataset_label(config.data.dataset)}, {config.mldam.backbone})": experiment.table,
                        "paper (CBIS-DDSM, ResNet-50)": paper_mldam}, axis=1)
display(comparison.style.format("{:.3f}", na_rep="–")
        .format("{:.1f}", subset=[column for column in comparison.columns if column[1] == "training_seconds"])
        .set_caption(f"MLDAM use cases: accuracy, precision, recall and F1 of 'any finding' on "
                     f"{len(experiment.test_set)} test crops ({config.mldam.epochs} epochs each; training seconds on "
                     f"`{config.device}`), beside the MLDAM paper's CBIS-DDSM test results (benign vs malignant, "
                     "best-validation weights)."))
for use_case, row in experiment.table.iterrows():
    for metric in ("accuracy", "precision", "recall", "f1"):
        results.record("MLDAM", f"{use_case}: {metric}", round(float(row[metric]), 4),
                       float(paper_mldam.loc[use_case, metric]), "paper: CBIS-DDSM, ResNet-50, benign vs malignant")

# %% mystnb={"figure": {"caption": "MLDAM use cases on test crops: gradient saliency of each model (|\u2202 logit / \u2202 input|, scaled to its maximum) and, for the MLDAM models, the spatial attention over the crop.", "name": "fig-mldam-maps"}}
crops, crop_labels, crop_titles = example_crops(experiment)
plot_mldam_maps({title: run.model for title, run in experiment.runs.items()}, crops, crop_labels, crop_titles)
plt.show()

# %% [markdown]
# ## What we found

# %%
best = experiment.table["f1"].idxmax()
display(Markdown(
    f"LEM, trained from image-level labels only, puts its localisation-map maximum on the finding in "
    f"{lem_table.loc['LEM', 'all pairs']:.1%} of {int(lem_table.loc['LEM', 'support'])} image-label pairs "
    f"(score map: {lem_table.loc['LEM score map', 'all pairs']:.1%}; CorRELAX prediction map: "
    f"{lem_table.loc['CorRELAX prediction', 'all pairs']:.1%}; a random breast point: "
    f"{lem_table.loc['LEM', 'chance']:.1%}). "
    f"On {len(experiment.test_set)} synthetic test crops, the best use case by F1 is **{best}** "
    f"({experiment.table.loc[best, 'f1']:.3f}); the baseline scores {experiment.table.loc['Baseline', 'f1']:.3f} "
    f"and MLDAM {experiment.table.loc['MLDAM', 'f1']:.3f}. Augmentation changes the baseline's F1 by "
    f"{experiment.table.loc['Baseline with Data Augmentation', 'f1'] - experiment.table.loc['Baseline', 'f1']:+.3f} "
    f"and MLDAM's by "
    f"{experiment.table.loc['MLDAM with Data Augmentation', 'f1'] - experiment.table.loc['MLDAM', 'f1']:+.3f} "
    f"after {config.mldam.epochs} epochs. The MLDAM paper found no consistent winner on CBIS-DDSM either (its ResNet-50 "
    f"F1 ranges from {paper_mldam['f1'].min():.3f} to {paper_mldam['f1'].max():.3f}). With one small CNN, a few "
    "dozen synthetic crops and one seed, differences of a few crops are noise."
))
