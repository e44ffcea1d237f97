"""Rolling means over calendar days strictly before the row's date."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession

from spark_ml.errors import ParameterError, SchemaMismatchError
from spark_ml.transforms.rolling import with_mean_before


def d(day: int, month: int = 3) -> dt.date:
    return dt.date(2013, month, day)


@pytest.mark.parametrize("broadcast", [False, True], ids=["shuffled", "broadcast"])
def test_mean_uses_only_days_before_within_the_window(spark: SparkSession, broadcast: bool) -> None:
    rows = [
        (1, "AA", d(1), 1.0),
        (2, "AA", d(1), 0.0),
        (3, "AA", d(2), 1.0),
        (4, "AA", d(2), None),  # unknown values do not count
        (5, "AA", d(5), 0.0),
        (6, "AA", d(9), 1.0),  # window 2..8 holds d(2) and d(5)
        (7, "AA", d(20), 1.0),  # nothing in the previous 7 days
        (8, "UA", d(2), 1.0),  # other keys never mix
        (9, None, d(3), 1.0),  # null key: null
        (10, "AA", None, 1.0),  # null date: null
        (11, "AA", d(10, 3), 0.0),  # window 3..9: d(5)=0, d(9)=1
    ]
    df = spark.createDataFrame(rows, "id INT, carrier STRING, day DATE, v DOUBLE")
    out = df.transform(with_mean_before, "rate", by=["carrier"], date="day", value="v", days=7, broadcast=broadcast)
    expected = spark.createDataFrame(
        [
            (1, "AA", d(1), 1.0, None),
            (2, "AA", d(1), 0.0, None),  # same day never counts
            (3, "AA", d(2), 1.0, 0.5),
            (4, "AA", d(2), None, 0.5),
            (5, "AA", d(5), 0.0, 2 / 3),
            (6, "AA", d(9), 1.0, 0.5),
            (7, "AA", d(20), 1.0, None),
            (8, "UA", d(2), 1.0, None),
            (9, None, d(3), 1.0, None),
            (10, "AA", None, 1.0, None),
            (11, "AA", d(10), 0.0, 0.5),
        ],
        "id INT, carrier STRING, day DATE, v DOUBLE, rate DOUBLE",
    )
    assert_df_equality(out, expected, ignore_row_order=True)


def test_window_spans_a_dst_switch_by_calendar_days(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [("AA", d(9), 1.0), ("AA", d(10), 0.0), ("AA", d(11), 0.0)], "k STRING, day DATE, v DOUBLE"
    )
    out = df.transform(with_mean_before, "m", by=["k"], date="day", value="v", days=1)
    expected = spark.createDataFrame(
        [("AA", d(9), 1.0, None), ("AA", d(10), 0.0, 1.0), ("AA", d(11), 0.0, 0.0)],
        "k STRING, day DATE, v DOUBLE, m DOUBLE",
    )
    assert_df_equality(out, expected, ignore_row_order=True)


def test_empty_input_and_bad_arguments(spark: SparkSession) -> None:
    empty = spark.createDataFrame([], "k STRING, day DATE, v DOUBLE")
    out = empty.transform(with_mean_before, "m", by=["k"], date="day", value="v", days=3)
    assert out.columns == ["k", "day", "v", "m"]
    assert out.count() == 0
    with pytest.raises(ParameterError, match=r"needs days >= 1, got 0"):
        with_mean_before(empty, "m", by=["k"], date="day", value="v", days=0)
    with pytest.raises(SchemaMismatchError, match=r"missing column.*nope"):
        with_mean_before(empty, "m", by=["nope"], date="day", value="v", days=3)
