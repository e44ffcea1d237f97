"""Tables on the console: one helper aligns the columns of every command's table."""

from __future__ import annotations

from spark_ml.logs import text_table


def test_columns_are_as_wide_as_their_longest_cell_header_included_and_lines_end_without_spaces() -> None:
    rows = [("silver.flights", "3", "1,204", ""), ("gold.flight_features", "", "", "12")]
    assert text_table(rows, ("table", "version read", "rows written", "version written")) == [
        "table                 version read  rows written  version written",
        "silver.flights        3             1,204",
        "gold.flight_features                              12",
    ]


def test_an_indent_prefixes_every_line_and_no_rows_is_no_lines() -> None:
    assert text_table([("auc_roc", "0.68 -> 0.68  equal"), ("f1", "0.5 -> 0.4  DIFFERS")], indent="    ") == [
        "    auc_roc  0.68 -> 0.68  equal",
        "    f1       0.5 -> 0.4  DIFFERS",
    ]
    assert text_table([]) == []
    assert text_table([], ("only", "header")) == ["only  header"]
