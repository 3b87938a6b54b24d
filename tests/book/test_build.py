"""End to end: papermill runs every notebook on `tiny` and Jupyter Book builds the HTML (`built_html`, conftest)."""

from __future__ import annotations

import html as html_module
import re
from html import unescape

import pytest

from corrrelax_lib.book.results import load_results
from corrrelax_lib.pipeline.study import Study

pytestmark = pytest.mark.book


def page(html_dir, name: str) -> str:
    return (html_dir / "chapters" / f"{name}.html").read_text()


def test_figure_1_and_2_are_rendered_figures_with_images(built_html):
    html = page(built_html, "01_preprocessing")
    for number in (1, 2):
        match = re.search(rf"<figure[^>]*>.*?<img[^>]+src=\"([^\"]+)\".*?Figure {number} \|.*?</figure>", html, re.S)
        assert match, f"Figure {number} missing"
        assert (built_html / "chapters" / match.group(1)).is_file()


def test_table_1_is_an_html_table_with_the_papers_column(built_html):
    html = page(built_html, "02_dataset")
    table = re.search(r"<table[^>]*>.*?Table 1 \|.*?</table>", html, re.S)
    assert table, "Table 1 missing"
    assert "paper (VinDr-Mammo)" in table.group(0) and "14589" in table.group(0)


def test_table_2_and_3_are_html_tables_with_the_papers_columns(built_html):
    table2 = re.search(r"<table[^>]*>.*?Table 2 \|.*?</table>", page(built_html, "03_model_selection"), re.S)
    assert table2, "Table 2 missing"
    assert all(text in table2.group(0) for text in ("paper (VinDr-Mammo)", "EfficientNetV2", "0.727"))
    table3 = re.search(r"<table[^>]*>.*?Table 3 \|.*?</table>", page(built_html, "04_classifier"), re.S)
    assert table3, "Table 3 missing"
    assert "paper (VinDr-Mammo)" in table3.group(0) and "0.9901" in table3.group(0)


def test_figure_3_is_rendered(built_html):
    html = page(built_html, "04_classifier")
    match = re.search(r"<figure[^>]*>.*?<img[^>]+src=\"([^\"]+)\".*?Figure 3 \|.*?</figure>", html, re.S)
    assert match, "Figure 3 missing"
    assert (built_html / "chapters" / match.group(1)).is_file()


def test_figures_4_5_7_8_are_rendered(built_html):
    for name, numbers in (("05_correlax_maps", (4, 5, 8)), ("06_mask_sensitivity", (7,))):
        html = page(built_html, name)
        for number in numbers:
            match = re.search(rf"<figure[^>]*>.*?<img[^>]+src=\"([^\"]+)\".*?Figure {number} [|(].*?</figure>",
                              html, re.S)
            assert match, f"Figure {number} missing from {name}"
            assert (built_html / "chapters" / match.group(1)).is_file()


def test_table_4_has_ours_and_the_papers_columns(built_html):
    html = page(built_html, "07_pointing_game")
    table = re.search(r"<table[^>]*>.*?Table 4 \|.*?</table>", html, re.S)
    assert table, "Table 4 missing"
    for text in ("paper (VinDr-Mammo)", "0.5205", "prediction ≥ 25%", "chance"):
        assert text in html_module.unescape(table.group(0)), text  # pandas' Styler may or may not escape ">"
    assert "0.4978" in html  # the paper's rows, support-weighted
    # The paper's means rebuilt exactly (hits over the 357 images with a finding; 227/357 = 0.63585 is printed
    # truncated), its Mass 50% typo flagged.
    for text in ("227/357 = 0.6359 (printed 0.6358)", "129/357 = 0.3613", "200/357 = 0.5602", "59/219 = 0.2694",
                 "Hits per image"):
        assert text in html, text


def test_tiny_maps_point_at_phantom_lesions_more_often_than_a_random_point(built_html):
    entries = {entry.quantity: entry for entry in load_results(Study.open("tiny").results_dir)["07_pointing_game"]}
    accuracy = entries["Weighted mean: prediction ≥ 25%"].ours
    chance = entries["Weighted mean: chance"].ours
    support = entries["Weighted mean: support"].ours
    assert support >= 20 and accuracy > 2 * chance, (accuracy, chance, support)


def test_tiny_classifier_learns_the_phantom_lesions_above_chance(built_html):
    entries = {entry.quantity: entry for entry in load_results(Study.open("tiny").results_dir)["04_classifier"]}
    auc = entries["mean ROC AUC over labels (chance 0.5)"]
    p_value = float(auc.note.removeprefix("permutation p = "))
    assert auc.ours > 0.75 and p_value < 0.01, (auc.ours, auc.note)


def test_pages_say_the_data_are_synthetic(built_html):
    for name in ("01_preprocessing", "02_dataset", "03_model_selection", "04_classifier", "05_correlax_maps",
                 "06_mask_sensitivity", "07_pointing_game", "08_baselines", "09_related_methods", "10_explorer",
                 "11_external_images", "12_full_reproduction"):
        assert "SYNTHETIC phantom mammograms" in page(built_html, name)


def test_baselines_table_scores_every_method_on_the_same_pairs(built_html):
    html = page(built_html, "08_baselines")
    table = re.search(r"<table[^>]*>.*?Pointing-game accuracy.*?</table>", html, re.S)
    assert table, "comparison table missing"
    for method in ("CorRELAX prediction", "Grad-CAM (whole ROI)", "Grad-CAM++ (whole ROI)", "Eigen-CAM (whole ROI)",
                   "Gradient saliency (whole ROI)", "RISE (whole ROI)", "RELAX (whole ROI)", "Grad-CAM (windows)",
                   "seconds / image"):
        assert method in table.group(0), method
    entries = {entry.quantity: entry for entry in load_results(Study.open("tiny").results_dir)["08_baselines"]}
    assert entries["Grad-CAM: Mass accuracy"].paper == 0.41
    accuracies = [entry.ours for quantity, entry in entries.items() if quantity.endswith("all pairs")]
    assert len(accuracies) >= 10 and all(0 <= value <= 1 for value in accuracies)


def test_related_methods_page_scores_lem_and_compares_mldam_with_the_paper(built_html):
    entries = {entry.quantity: entry for entry in load_results(Study.open("tiny").results_dir)["09_related_methods"]}
    assert 0 <= entries["LEM: pointing accuracy, all pairs"].ours <= 1
    assert entries["MLDAM: f1"].paper == 0.1837 and 0 <= entries["MLDAM: f1"].ours <= 1
    html = page(built_html, "09_related_methods")
    assert "paper (CBIS-DDSM, ResNet-50)" in html and "LEM score map" in html


def test_explorer_page_holds_a_saved_widget_view(built_html):
    html = page(built_html, "10_explorer")
    assert "application/vnd.jupyter.widget-view+json" in html and "candidate" in html


def test_status_page_lists_computed_numbers(built_html):
    html = (built_html / "reproduction_status.html").read_text()
    assert "Table 1" in html and "989" in html


def test_external_chapter_shows_every_breast_of_the_real_scans(built_html):
    html = page(built_html, "11_external_images")
    assert "The scans in this chapter are real" in html
    assert "Patient P_00820, left breast (malignant mass per CBIS-DDSM)" in html
    assert "P_00173 left, P_00173 right, P_00820 right" in html
    for patient in ("P_00173", "P_00820"):
        for breast in ("L", "R"):
            for view in ("CC", "MLO"):
                assert f"{patient}_{breast}_{view}" in html  # each scan's row in the cost table
    figures = re.findall(r'<img[^>]+src="[^"]+\.png"', html)
    assert len(figures) >= 2, len(figures)
    entries = {entry.quantity: entry for entry in load_results(Study.open("tiny").results_dir)["11_external_images"]}
    mass = entries["Mass: max window prediction, averaged over scans"]
    assert 0.0 <= mass.ours <= 1.0 and mass.note.startswith("on phantom-tiny test images")


def test_full_reproduction_page_gives_measured_costs_and_commands(built_html):
    # Code blocks are highlighted span by span: compare the page's text.
    text = unescape(re.sub(r"<[^>]+>", "", page(built_html, "12_full_reproduction")))
    for expected in ("masked passes per second", "seconds per image", "seconds per epoch",
                     "torchrun --nproc_per_node 8", "--nnodes", "corrrelax check-data --profile full",
                     "Still unmeasured"):
        assert expected in text, expected
    recorded = load_results(Study.open("tiny").results_dir)["12_full_reproduction"]
    entries = {entry.quantity: entry for entry in recorded}
    assert entries["full settings on this machine: masked passes per second"].ours > 0
