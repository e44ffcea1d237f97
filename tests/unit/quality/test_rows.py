"""Row-level rejection reasons: required fields, accepted values, ranges, references."""

from __future__ import annotations

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession

from spark_ml.config import AcceptedValuesCheck, RangeCheck, ReferentialCheck
from spark_ml.errors import DataQualityError
from spark_ml.quality.rows import with_rejection_reason


def test_reasons_name_every_failed_rule(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [
            (1, "AA", "EWR", 5, None),
            (2, "ZZ", "EWR", 5, None),
            (3, "AA", "SFO", 13, None),
            (4, None, "JFK", 0, None),
            (5, "AA", None, None, None),
            (6, "AA", "EWR", 5, "column x: 'q' is not int"),
        ],
        "id INT, carrier STRING, origin STRING, month INT, err STRING",
    )
    airlines = spark.createDataFrame([("AA",), ("UA",), (None,)], "carrier STRING")
    rules = [
        AcceptedValuesCheck(check="accepted_values", column="origin", values=("EWR", "JFK", "LGA")),
        RangeCheck(check="range", column="month", min=1, max=12),
        ReferentialCheck(check="referential", column="carrier", ref_table="bronze.airlines", ref_column="carrier"),
    ]
    out = with_rejection_reason(
        df, required=["carrier"], rules=rules, references={"bronze.airlines": airlines}, parse_error="err"
    ).select("id", "reason")
    expected = spark.createDataFrame(
        [
            (1, None),
            (2, "carrier 'ZZ' not found in bronze.airlines.carrier"),
            (3, "origin 'SFO' not in accepted values [EWR, JFK, LGA]; month 13 out of range [1, 12]"),
            (4, "missing required field carrier; month 0 out of range [1, 12]"),
            (5, None),
            (6, "column x: 'q' is not int"),
        ],
        "id INT, reason STRING",
    )
    assert_df_equality(out, expected, ignore_row_order=True)


def test_no_rules_means_no_reason(spark: SparkSession) -> None:
    df = spark.createDataFrame([(1,), (None,)], "id INT")
    out = with_rejection_reason(df)
    assert [r["reason"] for r in out.collect()] == [None, None]


def test_missing_reference_table_is_an_error(spark: SparkSession) -> None:
    df = spark.createDataFrame([("AA",)], "carrier STRING")
    rule = ReferentialCheck(check="referential", column="carrier", ref_table="bronze.airlines", ref_column="carrier")
    with pytest.raises(DataQualityError, match=r"referential check needs table bronze.airlines, which was not given"):
        with_rejection_reason(df, rules=[rule])
