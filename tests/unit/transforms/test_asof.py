"""As-of join: latest right row at or before the left time, within a tolerance, per key."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession

from spark_ml.errors import SchemaMismatchError
from spark_ml.transforms.asof import asof_join

pytestmark = [pytest.mark.connect]


def t(h: int, m: int = 0, day: int = 1) -> dt.datetime:
    return dt.datetime(2013, 1, day, h, m)


def origin_temp(flights, weather, tolerance_seconds: int):  # type: ignore[no-untyped-def]
    """Each flight's origin temperature as of its departure (`dep`), within the tolerance."""
    return asof_join(
        flights,
        weather,
        on=["origin"],
        left_time="dep",
        right_time="time_hour",
        tolerance_seconds=tolerance_seconds,
        columns=["temp"],
        prefix="origin_",
    )


@pytest.fixture
def weather(spark: SparkSession):  # type: ignore[no-untyped-def]
    rows = [
        ("EWR", t(5), 30.0),
        ("EWR", t(6), 31.0),
        ("EWR", t(9), 35.0),
        ("JFK", t(6), 40.0),
        ("JFK", t(6), 41.0),  # tie at the same time: the greater value wins
        ("LGA", t(1), 50.0),
        (None, t(6), 99.0),
    ]
    return spark.createDataFrame(rows, "origin STRING, time_hour TIMESTAMP, temp DOUBLE")


def test_asof_join_picks_latest_within_tolerance(spark: SparkSession, weather) -> None:  # type: ignore[no-untyped-def]
    flights = spark.createDataFrame(
        [
            (1, "EWR", t(6, 30)),  # latest at or before: 06:00
            (2, "EWR", t(6, 0)),  # exactly at an observation: inclusive
            (3, "EWR", t(8, 59)),  # 06:00 is 2h59 old: within 3 h
            (4, "EWR", t(4, 59)),  # nothing at or before within 3 h
            (5, "JFK", t(7, 0)),  # tie broken deterministically
            (6, "LGA", t(4, 0)),  # 01:00 is exactly 3 h old: inclusive
            (7, "LGA", t(4, 1)),  # 3 h 1 min old: too old
            (8, None, t(6, 30)),  # null key never matches
            (9, "EWR", None),  # null time never matches
            (10, "SFO", t(6, 0)),  # unknown key
        ],
        "id INT, origin STRING, dep TIMESTAMP",
    )
    out = origin_temp(flights, weather, tolerance_seconds=3 * 3600)
    expected = spark.createDataFrame(
        [
            (1, "EWR", t(6, 30), 31.0),
            (2, "EWR", t(6, 0), 31.0),
            (3, "EWR", t(8, 59), 31.0),
            (4, "EWR", t(4, 59), None),
            (5, "JFK", t(7, 0), 41.0),
            (6, "LGA", t(4, 0), 50.0),
            (7, "LGA", t(4, 1), None),
            (8, None, t(6, 30), None),
            (9, "EWR", None, None),
            (10, "SFO", t(6, 0), None),
        ],
        "id INT, origin STRING, dep TIMESTAMP, origin_temp DOUBLE",
    )
    assert_df_equality(out, expected, ignore_row_order=True)


def test_asof_join_keeps_duplicate_left_rows(spark: SparkSession, weather) -> None:  # type: ignore[no-untyped-def]
    flights = spark.createDataFrame(
        [(1, "EWR", t(6, 30)), (1, "EWR", t(6, 30))], "id INT, origin STRING, dep TIMESTAMP"
    )
    out = asof_join(
        flights,
        weather,
        on=["origin"],
        left_time="dep",
        right_time="time_hour",
        tolerance_seconds=3600,
        columns=["temp"],
    )
    assert [r["temp"] for r in out.collect()] == [31.0, 31.0]


def test_asof_join_on_empty_inputs(spark: SparkSession, weather) -> None:  # type: ignore[no-untyped-def]
    empty_left = spark.createDataFrame([], "id INT, origin STRING, dep TIMESTAMP")
    out = asof_join(
        empty_left,
        weather,
        on=["origin"],
        left_time="dep",
        right_time="time_hour",
        tolerance_seconds=3600,
        columns=["temp"],
    )
    assert out.columns == ["id", "origin", "dep", "temp"]
    assert out.count() == 0
    flights = spark.createDataFrame([(1, "EWR", t(6))], "id INT, origin STRING, dep TIMESTAMP")
    none = asof_join(
        flights,
        weather.limit(0),
        on=["origin"],
        left_time="dep",
        right_time="time_hour",
        tolerance_seconds=3600,
        columns=["temp"],
    )
    assert [r["temp"] for r in none.collect()] == [None]


def test_asof_join_names_missing_columns(spark: SparkSession, weather) -> None:  # type: ignore[no-untyped-def]
    flights = spark.createDataFrame([(1, "EWR")], "id INT, origin STRING")
    with pytest.raises(SchemaMismatchError, match=r"asof_join left side is missing column"):
        asof_join(
            flights,
            weather,
            on=["origin"],
            left_time="dep",
            right_time="time_hour",
            tolerance_seconds=3600,
            columns=["temp"],
        )


def test_asof_join_measures_the_tolerance_in_elapsed_time_across_dst(spark: SparkSession) -> None:
    """Times are UTC instants (the session time zone is UTC); the comments give New York wall-clock
    time. 2013-03-10: 02:00-02:59 does not exist; 2013-11-03: 01:00-01:59 happens twice."""
    from pyspark.sql import functions as F

    def instants(rows: list[tuple[object, ...]], schema: str, column: str):  # type: ignore[no-untyped-def]
        frame = spark.createDataFrame(rows, schema)
        return frame.withColumn(column, F.col(column).cast("timestamp"))

    weather = instants(
        [
            ("EWR", "2013-03-10 06:00:00", 1.0),  # 01:00 EST, the last hour before the switch
            ("EWR", "2013-11-03 05:30:00", 2.0),  # 01:30 EDT
            ("EWR", "2013-11-03 06:30:00", 3.0),  # 01:30 EST, one hour later
        ],
        "origin STRING, time_hour STRING, temp DOUBLE",
        "time_hour",
    )
    flights = instants(
        [
            (1, "EWR", "2013-03-10 07:30:00"),  # 03:30 EDT: 1.5 h after 01:00 EST (2.5 h on the wall clock)
            (2, "EWR", "2013-03-10 08:30:00"),  # 04:30 EDT: 2.5 h after, beyond the 2 h tolerance
            (3, "EWR", "2013-11-03 06:15:00"),  # 01:15 EST: after 01:30 EDT, before 01:30 EST
            (4, "EWR", "2013-11-03 06:45:00"),  # 01:45 EST: the second 01:30 is the latest
            (5, "EWR", None),
        ],
        "id INT, origin STRING, dep STRING",
        "dep",
    )
    out = origin_temp(flights, weather, tolerance_seconds=2 * 3600)
    expected = instants(
        [
            (1, "EWR", "2013-03-10 07:30:00", 1.0),
            (2, "EWR", "2013-03-10 08:30:00", None),
            (3, "EWR", "2013-11-03 06:15:00", 2.0),
            (4, "EWR", "2013-11-03 06:45:00", 3.0),
            (5, "EWR", None, None),
        ],
        "id INT, origin STRING, dep STRING, origin_temp DOUBLE",
        "dep",
    )
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True)
