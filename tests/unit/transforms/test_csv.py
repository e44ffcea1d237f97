"""CSV lines -> typed columns, the raw line kept, and why a bad line is bad."""

from __future__ import annotations

import datetime as dt

from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_ml.transforms.csv import parse_csv_lines
from spark_ml.transforms.frames import dedupe_latest

COLUMNS = {"id": "int", "name": "string", "score": "double", "at": "timestamp"}


def test_parse_keeps_good_rows_and_explains_bad_ones(spark: SparkSession) -> None:
    lines = spark.createDataFrame(
        [
            ("1,x,2.5,2013-01-01T06:00:00Z",),
            ('2,"a,b",NA,NA',),
            ("3,y",),
            ("4,z,1.0,2013-01-01T06:00:00Z,extra",),
            ("five,w,1.0,2013-01-01T06:00:00Z",),
            ("6,v,abc,2013-01-01T06:00:00Z",),
            ('7,"unclosed,1.0,2013-01-01T06:00:00Z',),
        ],
        "value STRING",
    )
    out = parse_csv_lines(lines, COLUMNS).select("id", "name", "score", "at", "_parse_error")
    at = dt.datetime(2013, 1, 1, 6, 0)
    expected = spark.createDataFrame(
        [
            (1, "x", 2.5, at, None),
            (2, "a,b", None, None, None),
            (3, "y", None, None, "too few fields (found 2, expected 4)"),
            (4, "z", 1.0, at, "too many fields (expected 4)"),
            (None, "w", 1.0, at, "column id: 'five' is not int"),
            (6, "v", None, at, "column score: 'abc' is not double"),
            (
                7,
                "unclosed,1.0,2013-01-01T06:00:00Z",
                None,
                None,
                "malformed line (expected 4 fields: id,name,score,at)",
            ),
        ],
        "id INT, name STRING, score DOUBLE, at TIMESTAMP, _parse_error STRING",
    )
    assert_df_equality(out, expected, ignore_row_order=True)


def test_corrupt_record_holds_the_raw_line(spark: SparkSession) -> None:
    lines = spark.createDataFrame([("1,x,2.5,NA",), ("oops",)], "value STRING")
    rows = {r["value"]: r["_corrupt_record"] for r in parse_csv_lines(lines, COLUMNS).collect()}
    assert rows == {"1,x,2.5,NA": None, "oops": "oops"}


def test_dedupe_latest_keeps_first_by_order_and_null_keys(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [("AA", 1, "old"), ("AA", 2, "new"), ("UA", 1, "only"), (None, 1, "n1"), (None, 2, "n2")],
        "k STRING, v INT, tag STRING",
    )
    out = dedupe_latest(df, ["k"], [F.col("v").desc()])
    expected = spark.createDataFrame(
        [("AA", 2, "new"), ("UA", 1, "only"), (None, 1, "n1"), (None, 2, "n2")], "k STRING, v INT, tag STRING"
    )
    assert_df_equality(out, expected, ignore_row_order=True)
