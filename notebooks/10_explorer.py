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
# # Neuron explorer
#
# Beyond the paper, following interactive neuron dissection (Lu & Perer; related work): the CorRELAX
# maps say *where* the classifier's decision rests; the neurons (channels) of its last convolutional
# layer say *what* it responds to there. Each neuron's activation map is thresholded at its 99%
# quantile over all test images; a region (a box, a window, or one drawn by hand) lists the neurons
# whose thresholded map overlaps it with IoU ≥ 0.2; neurons are embedded in 2-D by PCA of their
# maximum activation per image, and can be labelled with concepts. The explorer below works in
# JupyterLab and Voilà; the static book shows its saved state for the first image.

# %% tags=["parameters", "hide-cell"]
profile = "tiny"  # book/profiles/<profile>.yml
overrides = {}  # dotted keys of corrrelax_lib.config.StudyConfig, e.g. {"correlax.n_masks": 64}

# %%
import pandas as pd
from IPython.display import Markdown, display

from corrrelax_lib.attribution.neurons import ConceptLabels, finding_neurons
from corrrelax_lib.book.notes import dataset_banner, dataset_label
from corrrelax_lib.book.results import ResultLog
from corrrelax_lib.pipeline.study import FINDINGS, Study
from corrrelax_lib.widgets.neuron_explorer import NeuronExplorer

study = Study.open(profile, overrides)
config = study.config
results = ResultLog(study.results_dir, "10_explorer")
display(Markdown(dataset_banner(config.data.dataset)))

# %%
images = study.test_images()
maps = study.correlax_maps()  # the maps chapter's, from their cache
concepts = ConceptLabels()  # in memory; pass ConceptLabels.open("my_concepts.json") to keep your labels
explorer = NeuronExplorer(images, maps, study.classifier().model, image_size=config.explorer.image_size,
                          concepts=concepts, device=config.device)
n_neurons = len(explorer.thresholds)

# %% [markdown]
# ## Which neurons fire on the findings?
#
# Every annotated box of the test images queries the neurons (IoU ≥ 0.2 with the neuron's thresholded
# map). A neuron that overlaps at least `explorer_concept_share` of a finding's boxes is a candidate
# for that finding's concept; the explorer starts with those candidates labelled `<finding> (candidate)`.
# These are overlaps, not causes: a neuron that fires on bright tissue overlaps every bright lesion.

# %%
found = finding_neurons(explorer.layer_maps, explorer.thresholds,
                        {image.image_id: {label: boxes for label, boxes in image.boxes_by_label.items()
                                          if label in FINDINGS} for image in images},
                        {image.image_id: image.image.shape[:2] for image in images})
candidates = found[found["share"] >= config.explorer.concept_share]
for label, rows in candidates.groupby("label"):
    explorer.label(rows["neuron"].tolist(), f"{label} (candidate)")
boxes_per_label = pd.Series({label: sum(len(image.boxes_by_label.get(label, ())) for image in images)
                             for label in FINDINGS}, name="boxes")
summary = pd.DataFrame({
    "boxes": boxes_per_label,
    "neurons overlapping any box": found.groupby("label")["neuron"].nunique(),
    "candidates": candidates.groupby("label")["neuron"].nunique(),
    "best neuron": found.groupby("label").first()["neuron"],
    "its share of boxes": found.groupby("label").first()["share"],
}).loc[lambda frame: frame["boxes"] > 0].fillna({"neurons overlapping any box": 0, "candidates": 0})
display(summary.style.format({"its share of boxes": "{:.2f}"}, na_rep="–")
        .format("{:.0f}", subset=["boxes", "neurons overlapping any box", "candidates", "best neuron"],
                na_rep="–")
        .set_caption(f"Neurons of the last conv layer ({n_neurons} channels) overlapping the annotated boxes with "
                     f"IoU ≥ 0.2, per finding ({dataset_label(config.data.dataset)}); candidates overlap at least "
                     f"{config.explorer.concept_share:.0%} of the finding's boxes."))
for label, row in summary.iterrows():
    results.record("Neuron explorer", f"{label}: candidate neurons", int(row["candidates"]))

# %% [markdown]
# ## The explorer
#
# Pick an image; move the window sliders to see a window's crop, its predictions and its CorRELAX
# values (ρ(S_h, S_ŷ) and ρ(S_h, ŷ_M[c])); choose a region (a box, the window, or the drawn x/y
# ranges) to list its neurons; pick a neuron to see its activation map and where it sits in the
# embedding; type a concept and label it. The reports below show the region's neurons by
# "activation value" (mean activation in the region) and "activation area" (share of the region
# above the neuron's threshold), grouped by concept.

# %%
display(explorer.widget)

# %% [markdown]
# ## What we found

# %%
labelled = len(concepts.labels)
display(Markdown(
    f"The last convolutional layer of the `{config.classifier.backbone}` classifier has {n_neurons} neurons. Over the "
    f"{int(summary['boxes'].sum())} finding boxes of {len(images)} test images, "
    f"{found['neuron'].nunique()} neurons overlap at least one box with IoU ≥ 0.2, and {labelled} neurons overlap "
    f"at least {config.explorer.concept_share:.0%} of some finding's boxes and start labelled as that finding's candidate. "
    "On synthetic phantoms these concepts are the phantom's own shapes (bright discs, specks, streaks); the "
    "labels are a starting point for a reader's own dissection, not a finding about mammograms."
))
results.record("Neuron explorer", "neurons overlapping a box", int(found["neuron"].nunique()))
results.record("Neuron explorer", "neurons labelled as candidates", labelled)
