"""VinDr-Mammo schema: grouping, Table 1 counting and clear errors on bad annotation tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from corrrelax_lib.data.labels import LABELS, group_categories
from corrrelax_lib.data.vindr import (
    AnnotationError,
    clipped_boxes,
    clipped_boxes_summary,
    finding_samples,
    n_finding_boxes,
    read_finding_annotations,
    table1_counts,
)

HEADER = ("study_id,series_id,image_id,laterality,view_position,height,width,breast_birads,breast_density,"
          "finding_categories,finding_birads,xmin,ymin,xmax,ymax,split")

# Hand-written table. Training: 2 normal images (one listed twice), boxes:
#   b1 Mass; b2 Mass + Suspicious Calcification; b3 Nipple + Skin Retraction (counts once);
#   b4 Focal Asymmetry + Global Asymmetry (counts once as Asymmetries); b5 "Other" only (no label).
# Test: 1 normal image; b6 Skin Thickening; b7 Suspicious Lymph Node + Architectural Distortion.
ROWS = [
    "s1,r1,i1,L,CC,100,80,BI-RADS 1,DENSITY B,['No Finding'],,,,,,training",
    "s1,r1,i1,L,CC,100,80,BI-RADS 1,DENSITY B,['No Finding'],,,,,,training",
    "s1,r2,i2,R,CC,100,80,BI-RADS 1,DENSITY B,['No Finding'],,,,,,training",
    "s2,r3,i3,L,MLO,100,80,BI-RADS 4,DENSITY C,['Mass'],BI-RADS 4,10,10,30,30,training",
    "s2,r3,i3,L,MLO,100,80,BI-RADS 4,DENSITY C,\"['Mass', 'Suspicious Calcification']\",BI-RADS 4,40,40,60,60,training",
    "s2,r4,i4,R,CC,100,80,BI-RADS 3,DENSITY C,\"['Nipple Retraction', 'Skin Retraction']\",BI-RADS 3,0,0,20,20,training",
    "s2,r4,i4,R,CC,100,80,BI-RADS 3,DENSITY C,\"['Focal Asymmetry', 'Global Asymmetry']\",BI-RADS 3,5,5,80,100,training",
    "s2,r4,i4,R,CC,100,80,BI-RADS 3,DENSITY C,['Other'],BI-RADS 2,1,1,2,2,training",
    "s3,r5,i5,L,CC,100,80,BI-RADS 1,DENSITY A,['No Finding'],,,,,,test",
    "s4,r6,i6,L,MLO,100,80,BI-RADS 4,DENSITY D,['Skin Thickening'],BI-RADS 4,1.5,2.5,10,20,test",
    "s4,r6,i6,L,MLO,100,80,BI-RADS 4,DENSITY D,\"['Suspicious Lymph Node', 'Architectural Distortion']\",BI-RADS 4,3,3,9,9,test",
]


def write_csv(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_group_categories_counts_each_label_once_in_label_order():
    assert group_categories(["Skin Retraction", "Nipple Retraction"]) == ("Retractions",)
    assert group_categories(["Suspicious Calcification", "Mass", "Other"]) == ("Mass", "Suspicious Calcification")
    assert group_categories(["Other"]) == ()


def test_table1_counts_by_hand(tmp_path):
    counts = table1_counts(write_csv(tmp_path / "finding_annotations.csv", ROWS))
    expected = pd.DataFrame(
        {"training": [2, 2, 1, 1, 0, 0, 0, 1], "test": [1, 0, 0, 0, 1, 1, 1, 0]}, index=list(LABELS)
    )
    assert list(counts.index) == list(LABELS)
    assert list(counts.columns) == ["training", "test"]
    pd.testing.assert_frame_equal(counts, expected, check_names=False)


def test_other_category_is_kept_in_data_but_not_a_sample(tmp_path):
    findings = read_finding_annotations(write_csv(tmp_path / "f.csv", ROWS))
    assert ("Other",) in set(findings["categories"])
    samples = finding_samples(findings)
    assert len(samples) == 3 + 6  # 3 normal images + 6 boxes with a paper label
    assert samples["labels"].map(len).min() == 1


def test_missing_column_is_named(tmp_path):
    path = write_csv(tmp_path / "f.csv", [r.rsplit(",", 1)[0] for r in ROWS], header=HEADER.rsplit(",", 1)[0])
    with pytest.raises(AnnotationError, match=r"f.csv, line 1: missing column\(s\) \['split'\]"):
        read_finding_annotations(path)


# Boxes as VinDr-Mammo has them: about 2 % reach a few pixels past the image edge (down to about -27 px).
CROSSING_ROWS = [
    "s7,r7,i7,L,CC,100,80,BI-RADS 4,DENSITY C,['Mass'],BI-RADS 4,-6.25,40,20,60,training",
    "s7,r7,i7,L,CC,100,80,BI-RADS 4,DENSITY C,['Skin Thickening'],BI-RADS 4,50,-27.1,70,10,training",
    "s7,r7,i7,L,CC,100,80,BI-RADS 4,DENSITY C,['Suspicious Lymph Node'],BI-RADS 4,60,90,83.5,104,test",
]


def test_boxes_reaching_past_the_image_are_clipped_and_counted(tmp_path):
    path = write_csv(tmp_path / "f.csv", [*ROWS, *CROSSING_ROWS])
    findings = read_finding_annotations(path)
    clipped = clipped_boxes(findings)
    assert [box.line for box in clipped] == [13, 14, 15]
    assert [box.clipped for box in clipped] == [(0.0, 40.0, 20.0, 60.0), (50.0, 0.0, 70.0, 10.0),
                                                (60.0, 90.0, 80.0, 100.0)]
    assert clipped[1].original == (50.0, -27.1, 70.0, 10.0)
    assert int(findings["box_clipped"].sum()) == 3
    boxes = findings.dropna(subset=["xmin"])
    assert (boxes["xmin"] >= 0).all() and (boxes["ymin"] >= 0).all()
    assert (boxes["xmax"] <= boxes["width"]).all() and (boxes["ymax"] <= boxes["height"]).all()
    summary = clipped_boxes_summary(clipped, n_finding_boxes(findings), path, max_lines=2)
    assert summary.endswith("3 of 10 finding boxes reached past their image and were clipped to it "
                            "(lines 13, 14, ... (1 more))")


def test_clipped_boxes_still_count_in_table1(tmp_path):
    with_crossing = table1_counts(write_csv(tmp_path / "f.csv", [*ROWS, *CROSSING_ROWS]))
    without = table1_counts(write_csv(tmp_path / "g.csv", ROWS))
    added = (with_crossing - without).loc[lambda t: (t != 0).any(axis=1)]
    assert added.to_dict("index") == {"Mass": {"training": 1, "test": 0},
                                      "Skin Thickening": {"training": 1, "test": 0},
                                      "Suspicious Lymph Node": {"training": 0, "test": 1}}


@pytest.mark.parametrize(
    ("box", "message"),
    [
        ("90,10,120,30", r"box \(90, 10, 120, 30\) lies entirely outside the 80 x 100 image"),
        ("-30,10,-2,30", r"box \(-30, 10, -2, 30\) lies entirely outside"),
        ("10,100,30,130", r"box \(10, 100, 30, 130\) lies entirely outside"),
        ("30,10,10,30", r"box \(30, 10, 10, 30\) is empty or inverted"),
        ("10,10,10,30", r"box \(10, 10, 10, 30\) is empty or inverted"),
    ],
)
def test_box_outside_or_empty_names_the_file_and_line(tmp_path, box, message):
    rows = [*ROWS[:3], f"s2,r3,i9,L,MLO,100,80,BI-RADS 4,DENSITY C,['Mass'],BI-RADS 4,{box},training"]
    with pytest.raises(AnnotationError, match=rf"f.csv, line 5: \(image_id i9\) {message}"):
        read_finding_annotations(write_csv(tmp_path / "f.csv", rows))


def test_finding_without_box_names_the_row(tmp_path):
    rows = ["s2,r3,i3,L,MLO,100,80,BI-RADS 4,DENSITY C,['Mass'],BI-RADS 4,,,,,training"]
    with pytest.raises(AnnotationError, match=r"line 2: \(image_id i3\) finding \['Mass'\] has no box"):
        read_finding_annotations(write_csv(tmp_path / "f.csv", rows))


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("s,r,i,L,CC,10,10,B,D,['No Finding'],,,,,,validation", "line 2: split 'validation'"),
        ("s,r,i,L,CC,10,10,B,D,Mass,,,,,,training", "line 2: finding_categories 'Mass' is not a list"),
        ("s,r,i,L,CC,10,10,B,D,[],,,,,,training", "line 2: finding_categories '\\[\\]' is not a list of names"),
    ],
)
def test_malformed_rows_are_named(tmp_path, row, message):
    with pytest.raises(AnnotationError, match=message):
        read_finding_annotations(write_csv(tmp_path / "f.csv", [row]))
