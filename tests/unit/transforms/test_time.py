"""hhmm + local date + zone -> timestamp, including the 2013 New York DST switches."""

from __future__ import annotations

import datetime as dt

from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_ml.transforms.time import hhmm_minutes, with_local_timestamp

NY = "America/New_York"


def ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def test_hhmm_minutes_handles_nulls_and_invalid_values(spark: SparkSession) -> None:
    df = spark.createDataFrame([(517,), (0,), (2400,), (1275,), (-5,), (None,)], "hhmm INT")
    out = df.select("hhmm", hhmm_minutes("hhmm").alias("m"))
    expected = spark.createDataFrame(
        [(517, 317), (0, 0), (2400, 1440), (1275, None), (-5, None), (None, None)], "hhmm INT, m INT"
    )
    assert_df_equality(out, expected, ignore_row_order=True)


def test_local_times_become_utc_instants_across_dst(spark: SparkSession) -> None:
    rows = [
        ("2013-01-01", 517, ts("2013-01-01 10:17:00")),  # EST, UTC-5
        ("2013-07-01", 517, ts("2013-07-01 09:17:00")),  # EDT, UTC-4
        ("2013-03-10", 130, ts("2013-03-10 06:30:00")),  # before the spring-forward switch
        ("2013-03-10", 230, ts("2013-03-10 07:30:00")),  # in the gap: moves forward to 03:30 EDT
        ("2013-03-10", 330, ts("2013-03-10 07:30:00")),  # after the switch
        ("2013-11-03", 30, ts("2013-11-03 04:30:00")),  # EDT before fall-back
        ("2013-11-03", 130, ts("2013-11-03 05:30:00")),  # ambiguous hour: the earlier offset (EDT)
        ("2013-11-03", 230, ts("2013-11-03 07:30:00")),  # EST after fall-back
        ("2013-12-31", 2400, ts("2014-01-01 05:00:00")),  # 2400 is midnight ending the day
        ("2013-05-01", None, None),
        (None, 1200, None),
        ("2013-05-01", 1275, None),  # minute 75 is not a clock time
    ]
    schema = "d STRING, hhmm INT, expected TIMESTAMP"
    df = spark.createDataFrame(rows, schema).withColumn("d", F.to_date("d"))
    out = df.transform(with_local_timestamp, "ts", "d", "hhmm", NY)
    assert_df_equality(
        out.select("d", "hhmm", "ts"),
        df.select("d", "hhmm", F.col("expected").alias("ts")),
        ignore_row_order=True,
    )


def test_day_offset_rolls_to_the_next_local_day(spark: SparkSession) -> None:
    df = spark.createDataFrame([("2013-03-09", 30, 1), ("2013-03-09", 30, 0)], "d STRING, hhmm INT, off INT")
    df = df.withColumn("d", F.to_date("d"))
    out = df.transform(with_local_timestamp, "ts", "d", "hhmm", NY, F.col("off")).select("off", "ts")
    expected = spark.createDataFrame(
        [(1, ts("2013-03-10 05:30:00")), (0, ts("2013-03-09 05:30:00"))], "off INT, ts TIMESTAMP"
    )
    assert_df_equality(out, expected, ignore_row_order=True)


def test_empty_input_gives_empty_output(spark: SparkSession) -> None:
    df = spark.createDataFrame([], "d DATE, hhmm INT")
    out = df.transform(with_local_timestamp, "ts", "d", "hhmm", NY)
    assert out.columns == ["d", "hhmm", "ts"]
    assert out.count() == 0
