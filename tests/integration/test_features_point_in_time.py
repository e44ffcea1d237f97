"""Point-in-time correctness: no leakage from day D onwards; incremental equals full rebuild."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_ml.features.flights import flight_features
from spark_ml.io.delta import Lakehouse
from spark_ml.tasks import features
from tests.helpers import checksum
from tests.slice import SliceRun, slice_settings

pytestmark = [pytest.mark.spark, pytest.mark.integration]

DAY = dt.date(2013, 6, 15)


def test_features_of_day_d_ignore_everything_from_day_d_on(spark: SparkSession, slice_run: SliceRun) -> None:
    tables = Lakehouse(spark, slice_run.settings)
    flights = tables.read("silver.flights")
    weather = tables.read("silver.weather")
    planes = tables.read("silver.planes")
    params = slice_run.settings.features
    # What is known at day D: flights before D, and D's own flights without any outcome.
    outcome = ["dep_time", "dep_delay", "arr_time", "arr_delay", "air_time", "dep_ts", "arr_ts", "cancelled"]
    day_d = flights.where(F.col("flight_date") == F.lit(DAY))
    truncated = flights.where(F.col("flight_date") < F.lit(DAY)).unionByName(day_d)
    # Same history, but the later data (and the outcomes of other flights on day D) changed wildly.
    later = flights.where(F.col("flight_date") > F.lit(DAY))
    scrambled = later.withColumn("arr_delay", F.lit(999)).withColumn("dep_delay", F.lit(999))
    with_future = flights.where(F.col("flight_date") <= F.lit(DAY)).unionByName(scrambled)
    on_day = F.col("flight_date") == F.lit(DAY)
    expected = flight_features(truncated, weather, planes, params).where(on_day)
    actual = flight_features(with_future, weather, planes, params).where(on_day)
    assert expected.count() > 0
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)
    all_data = flight_features(flights, weather, planes, params).where(on_day)
    assert_df_equality(all_data, expected, ignore_row_order=True, ignore_nullable=True)
    assert outcome  # the label itself is the only outcome column of day D in the features
    assert set(expected.columns).isdisjoint(set(outcome))


def test_history_features_change_only_with_earlier_days(spark: SparkSession, slice_run: SliceRun) -> None:
    tables = Lakehouse(spark, slice_run.settings)
    flights = tables.read("silver.flights")
    weather, planes = tables.read("silver.weather"), tables.read("silver.planes")
    params = slice_run.settings.features
    # Making every flight of day D-1 late must change day D's 7-day carrier rate somewhere.
    previous = F.col("flight_date") == F.lit(DAY - dt.timedelta(days=1))
    late = flights.withColumn("arr_delay", F.when(previous, F.lit(500)).otherwise(F.col("arr_delay")))
    on_day = F.col("flight_date") == F.lit(DAY)
    base = flight_features(flights, weather, planes, params).where(on_day).select("carrier", "carrier_delay_rate_7d")
    moved = flight_features(late, weather, planes, params).where(on_day).select("carrier", "carrier_delay_rate_7d")
    changed = base.exceptAll(moved).count()
    assert changed > 0


def test_month_by_month_build_equals_full_rebuild(spark: SparkSession, slice_run: SliceRun) -> None:
    full = Lakehouse(spark, slice_run.settings).read("gold.flight_features")
    root = slice_run.settings.lakehouse.root
    for month in range(12, 0, -1):  # newest first: order must not matter
        settings = slice_settings(
            __import__("pathlib").Path(root),
            "tables.gold.flight_features.location=gold/flight_features_incremental",
            f"features.months=[2013-{month:02d}]",
        )
        features.run(spark, settings)
    incremental = Lakehouse(spark, settings).read("gold.flight_features")
    assert checksum(incremental) == checksum(full)
    history = Lakehouse(spark, settings).history("gold.flight_features")
    assert [h["operation"] for h in history][-1] == "CREATE TABLE AS SELECT"
    assert all(h["operationParameters"].get("predicate") for h in history[:-1])


def test_unknown_month_is_a_config_error(spark: SparkSession, slice_run: SliceRun) -> None:
    from spark_ml.errors import ConfigError

    settings = slice_settings(
        __import__("pathlib").Path(slice_run.settings.lakehouse.root),
        "tables.gold.flight_features.location=gold/flight_features_unknown",
        "features.months=[2014-02]",
    )
    with pytest.raises(ConfigError, match=r"features.months: no flights for 2014-02 .*available: 2013-01..2013-12"):
        features.run(spark, settings)
