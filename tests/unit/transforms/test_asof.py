"""As-of join: latest right row at or before the left time, within a tolerance, per key."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession

from spark_ml.errors import ConfigError, ParameterError, SchemaMismatchError
from spark_ml.transforms.asof import asof_join


def t(h: int, m: int = 0, day: int = 1) -> dt.datetime:
    return dt.datetime(2013, 1, day, h, m)


def origin_temp(flights, weather, tolerance_seconds: int, bucket_seconds: int = 3600):  # type: ignore[no-untyped-def]
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
        bucket_seconds=bucket_seconds,
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


# the bucket size changes how the join is cut, never its result: buckets much smaller than the
# tolerance, equal to the gap between observations, and larger than the whole data
@pytest.mark.parametrize("bucket_seconds", [600, 3600, 7 * 86400])
def test_asof_join_picks_latest_within_tolerance(spark: SparkSession, weather, bucket_seconds: int) -> None:  # type: ignore[no-untyped-def]
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
    out = origin_temp(flights, weather, tolerance_seconds=3 * 3600, bucket_seconds=bucket_seconds)
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


@pytest.mark.parametrize(("tolerance", "bucket"), [(-1, 3600), (3600, 0)])
def test_asof_join_refuses_a_negative_tolerance_or_an_empty_bucket(
    spark: SparkSession, weather, tolerance: int, bucket: int
) -> None:  # type: ignore[no-untyped-def]
    flights = spark.createDataFrame([(1, "EWR", t(6))], "id INT, origin STRING, dep TIMESTAMP")
    with pytest.raises(
        ParameterError,
        match=rf"asof_join needs tolerance_seconds >= 0 and bucket_seconds > 0, got {tolerance} and {bucket}",
    ) as raised:
        origin_temp(flights, weather, tolerance, bucket)
    assert isinstance(raised.value, ConfigError)  # exits 2, like the configuration the value came from


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


def test_asof_join_returns_the_latest_rows_values_nulls_included(spark: SparkSession) -> None:
    """The latest observation wins as a whole: a null in it stays null (no older value fills it),
    and ties at one time go to the greatest values, compared column by column, null lowest."""
    weather = spark.createDataFrame(
        [
            ("EWR", t(5), 30.0, 10.0),
            ("EWR", t(6), None, 12.0),  # latest for flight 1: temp unknown
            ("JFK", t(6), None, 9.0),
            ("JFK", t(6), 40.0, 1.0),  # same time: 40.0 > null
            ("LGA", t(6), 50.0, None),
            ("LGA", t(6), 50.0, 3.0),  # same time and temp: wind 3.0 > null
            ("LGA", t(6), 49.0, 8.0),
        ],
        "origin STRING, time_hour TIMESTAMP, temp DOUBLE, wind DOUBLE",
    )
    flights = spark.createDataFrame(
        [(1, "EWR", t(6, 30)), (2, "JFK", t(7)), (3, "LGA", t(6)), (4, "EWR", t(5, 59))],
        "id INT, origin STRING, dep TIMESTAMP",
    )
    out = asof_join(
        flights,
        weather,
        on=["origin"],
        left_time="dep",
        right_time="time_hour",
        tolerance_seconds=3 * 3600,
        columns=["temp", "wind"],
        prefix="w_",
    )
    expected = spark.createDataFrame(
        [
            (1, "EWR", t(6, 30), None, 12.0),
            (2, "JFK", t(7), 40.0, 1.0),
            (3, "LGA", t(6), 50.0, 3.0),
            (4, "EWR", t(5, 59), 30.0, 10.0),
        ],
        "id INT, origin STRING, dep TIMESTAMP, w_temp DOUBLE, w_wind DOUBLE",
    )
    assert_df_equality(out, expected, ignore_row_order=True)


def test_asof_join_bounds_are_exact_to_the_microsecond(spark: SparkSession) -> None:
    us = dt.timedelta(microseconds=1)
    weather = spark.createDataFrame(
        [("EWR", t(6), 1.0), ("EWR", t(7) + us, 2.0)], "origin STRING, time_hour TIMESTAMP, temp DOUBLE"
    )
    flights = spark.createDataFrame(
        [
            (1, "EWR", t(6) - us),  # before the first observation
            (2, "EWR", t(6)),  # exactly at it
            (3, "EWR", t(7)),  # 1 us before the next one: still the first
            (4, "EWR", t(7) + us),  # exactly at the next one
            (5, "EWR", t(8) + us),  # exactly the tolerance (1 h) after the next one
            (6, "EWR", t(8) + 2 * us),  # 1 us beyond
        ],
        "id INT, origin STRING, dep TIMESTAMP",
    )
    out = origin_temp(flights, weather, tolerance_seconds=3600)
    got = {r["id"]: r["origin_temp"] for r in out.collect()}
    assert got == {1: None, 2: 1.0, 3: 1.0, 4: 2.0, 5: 2.0, 6: None}
    exact = origin_temp(flights, weather, tolerance_seconds=0)  # a zero tolerance matches equal times only
    assert {r["id"]: r["origin_temp"] for r in exact.collect()} == {1: None, 2: 1.0, 3: None, 4: 2.0, 5: None, 6: None}


def test_asof_join_on_several_keys_keeps_every_left_row_once(spark: SparkSession) -> None:
    readings = spark.createDataFrame(
        [
            ("EWR", "a", t(5), 1.0),
            ("EWR", "b", t(6), 2.0),
            ("EWR", None, t(6), 3.0),  # a null key never matches
            ("JFK", "a", t(5, 30), 4.0),
            ("JFK", "a", None, 5.0),  # a null time never matches
        ],
        "origin STRING, sensor STRING, at TIMESTAMP, v DOUBLE",
    )
    left = spark.createDataFrame(
        [
            ("EWR", "a", t(6, 30)),
            ("EWR", "a", t(6, 30)),  # a duplicate left row stays a duplicate
            ("EWR", "b", t(6, 30)),
            ("EWR", None, t(6, 30)),
            ("JFK", "a", t(6)),
            ("JFK", "b", t(6)),
        ],
        "origin STRING, sensor STRING, ts TIMESTAMP",
    )
    out = asof_join(
        left,
        readings,
        on=["origin", "sensor"],
        left_time="ts",
        right_time="at",
        tolerance_seconds=2 * 3600,
        columns=["v"],
    )
    expected = spark.createDataFrame(
        [
            ("EWR", "a", t(6, 30), 1.0),
            ("EWR", "a", t(6, 30), 1.0),
            ("EWR", "b", t(6, 30), 2.0),
            ("EWR", None, t(6, 30), None),
            ("JFK", "a", t(6), 4.0),
            ("JFK", "b", t(6), None),
        ],
        "origin STRING, sensor STRING, ts TIMESTAMP, v DOUBLE",
    )
    assert_df_equality(out, expected, ignore_row_order=True)


def test_asof_join_broadcasts_a_small_right_side_and_never_shuffles_the_left(
    spark: SparkSession, weather, tmp_path, capsys
) -> None:  # type: ignore[no-untyped-def]
    """The performance contract: the left rows meet the right side in a broadcast hash join, with no
    row id and no ranking window over them, however many there are. (The right side is read from
    files, as tables are, so Spark knows it is small.)"""
    weather.write.parquet(str(tmp_path / "weather"))
    stored = spark.read.parquet(str(tmp_path / "weather"))
    flights = spark.range(1000).selectExpr(
        "id",
        "IF(id % 2 = 0, 'EWR', 'JFK') AS origin",
        "TIMESTAMP'2013-01-01 04:00:00' + make_interval(0, 0, 0, 0, 0, id % 300) AS dep",
    )
    origin_temp(flights, stored, tolerance_seconds=3600).explain()
    plan = capsys.readouterr().out
    assert "BroadcastHashJoin" in plan
    assert "LeftOuter" in plan
    assert "monotonically_increasing_id" not in plan
    assert "row_number" not in plan
