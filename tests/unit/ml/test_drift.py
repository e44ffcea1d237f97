"""Drift on inline data: bins from the reference, both data sets counted in one aggregation."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession

from spark_ml.ml.drift import NULL_BIN, OTHER_BIN, Drift, bin_counts, categories, drift_report, numeric_edges

SCHEMA = "x DOUBLE, c STRING"
# reference x: 1, 2, 3, 4 and a null; c: a twice, b, z and a null
REFERENCE = [(1.0, "a"), (2.0, "a"), (3.0, "b"), (4.0, None), (None, "z")]
# current x: 1 twice and two nulls (nothing at or above the median 2); c: a, b twice, q (unseen)
CURRENT = [(1.0, "a"), (1.0, "b"), (None, "b"), (None, "q")]


def test_bins_come_from_the_reference_and_both_sides_are_counted_apart(spark: SparkSession) -> None:
    reference = spark.createDataFrame(REFERENCE, SCHEMA)
    current = spark.createDataFrame(CURRENT, SCHEMA)
    edges = numeric_edges(reference, ["x"], bins=2)
    cats = categories(reference, ["c"])
    assert edges == {"x": [2.0]}
    assert cats == {"c": ["a", "b", "z"]}  # by count, then by value
    ref, cur = bin_counts([reference, current], edges, cats)
    assert ref == {"x": {"b000": 1, "b001": 3, NULL_BIN: 1}, "c": {"a": 2, "b": 1, "z": 1, NULL_BIN: 1}}
    assert cur == {"x": {"b000": 2, NULL_BIN: 2}, "c": {"a": 1, "b": 2, OTHER_BIN: 1}}


def test_an_empty_current_side_has_no_bins(spark: SparkSession) -> None:
    reference = spark.createDataFrame(REFERENCE, SCHEMA)
    ref, cur = bin_counts([reference, reference.limit(0)], {"x": [2.0]}, {})
    assert ref == {"x": {"b000": 1, "b001": 3, NULL_BIN: 1}}
    assert cur == {"x": {}}
    assert bin_counts([], {"x": [2.0]}, {}) == []


def test_the_report_holds_each_columns_psi_rows_and_status(spark: SparkSession) -> None:
    report = drift_report(
        spark.createDataFrame(REFERENCE, SCHEMA),
        spark.createDataFrame(CURRENT, SCHEMA),
        numeric=["x"],
        categorical=["c"],
        bins=2,
        warn=0.1,
        alert=5.5,
    )
    # x: shares 0.2 / 0.6 / 0.2 against 0.5 / 1e-4 (smoothed 0) / 0.5 -> PSI 5.7686
    # c: 0.4 / 0.2 / 0.2 / 0.2 (a, b, z, null) against 0.25 / 0.5 / 1e-4 / 1e-4 and other 0.25 -> 5.3395
    assert report == [
        Drift("x", "numeric", pytest.approx(5.768613, abs=1e-6), 5, 4, "alert"),  # type: ignore[arg-type]
        Drift("c", "categorical", pytest.approx(5.339458, abs=1e-6), 5, 4, "warn"),  # type: ignore[arg-type]
    ]
