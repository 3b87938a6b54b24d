"""The paper's numbers as transcribed into the manifest are consistent with themselves."""

import numpy as np

from corrrelax_lib.book.paper import TABLE2_LABELS, paper_table1, paper_table2, paper_table3
from corrrelax_lib.data.labels import LABELS


def test_table2_weighted_average_is_the_support_weighted_f1():
    table = paper_table2()
    rows = table.loc[list(TABLE2_LABELS)]
    assert rows["N"].sum() == table.loc["Weighted Average", "N"]
    for backbone in table.columns.drop("N"):
        weighted = np.average(rows[backbone], weights=rows["N"])
        assert abs(weighted - table.loc["Weighted Average", backbone]) < 1.5e-3, backbone


def test_table3_f1_is_the_harmonic_mean_of_precision_and_recall():
    table = paper_table3()
    assert list(table.index) == list(LABELS)
    harmonic = 2 * table["precision"] * table["recall"] / (table["precision"] + table["recall"])
    np.testing.assert_allclose(table["f1"], harmonic, atol=1e-4)


def test_table3_support_is_table1_test_column_for_findings():
    table3, table1 = paper_table3(), paper_table1()
    assert (table3["support"] == table1["test"]).all()
