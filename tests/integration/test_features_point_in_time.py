"""Point-in-time correctness of the feature table on a slice of the real data.

Leakage: the features of day D's flights that depart before a cut-off (20:00 on D) must be the same
whatever happens at or after the cut-off in every input: later flights removed, or kept with
scrambled outcomes; day D's own outcomes scrambled; weather after the cut-off removed or scrambled;
planes that have not flown yet removed or scrambled. And changing any input before the cut-off
must change them: outcomes of the day before (every history feature), outcomes of D-8 (only the
28-day route rate, outside the 7-day windows), the weather before departure, a plane's year.
Incremental builds: a month built on its own equals the same month of a full build.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_ml.config import FeatureSettings
from spark_ml.errors import ConfigError
from spark_ml.features.flights import FLIGHT_ROW_KEY, flight_features
from spark_ml.io.delta import Lakehouse
from spark_ml.tasks import features
from tests.helpers import checksum
from tests.slice import SliceRun, slice_settings

DAY = dt.date(2013, 6, 12)  # a Wednesday
ZONE = "America/New_York"
CUTOFF_LOCAL = "2013-06-12 20:00:00"
OUTCOMES = ("dep_time", "dep_delay", "arr_time", "arr_delay", "air_time", "dep_ts", "arr_ts", "cancelled")
HISTORY = ("carrier_delay_rate_7d", "route_delay_rate_28d", "origin_mean_dep_delay_7d")
WEATHER = ("origin_temp", "origin_wind_speed", "origin_precip", "origin_visib")
LABEL = "is_delayed"
# The labels of the three tasks on this table: what day D's outcome may change, and nothing else.
LABELS = (LABEL, "arr_delay", "delay_band")


@dataclass(frozen=True)
class Inputs:
    flights: DataFrame
    weather: DataFrame
    planes: DataFrame
    params: FeatureSettings

    def features(
        self, flights: DataFrame | None = None, weather: DataFrame | None = None, planes: DataFrame | None = None
    ) -> DataFrame:
        """Day D's flights that depart before the cut-off, with every feature and the label."""
        built = flight_features(
            self.flights if flights is None else flights,
            self.weather if weather is None else weather,
            self.planes if planes is None else planes,
            self.params,
        )
        return built.where((F.col("flight_date") == F.lit(DAY)) & (F.col("sched_dep_ts") < cutoff()))


def cutoff() -> Column:
    return F.to_utc_timestamp(F.lit(CUTOFF_LOCAL).cast("timestamp"), ZONE)


@pytest.fixture(scope="module")
def inputs(spark: SparkSession, world: SliceRun) -> Iterator[Inputs]:
    tables = Lakehouse(spark, world.settings)
    frames = [tables.read(t).persist() for t in ("silver.flights", "silver.weather", "silver.planes")]
    yield Inputs(*frames, world.settings.features)
    for frame in frames:
        frame.unpersist()


@pytest.fixture(scope="module")
def known(inputs: Inputs) -> Iterator[DataFrame]:
    """The features of D's flights that depart before the cut-off, computed from all the data."""
    frame = inputs.features().persist()
    assert frame.count() >= 12  # enough flights to show anything (the slice has about 20 a day)
    # flights in the last hour before the cut-off with weather: a join that reached for weather
    # observed after departure would meet the scrambled observations from the cut-off on
    last_hour = F.col("sched_dep_ts") >= cutoff() - F.expr("INTERVAL 1 HOUR")
    assert frame.where(last_hour & F.col("origin_temp").isNotNull()).count() >= 1
    yield frame
    frame.unpersist()


def _scrambled_outcomes(flights: DataFrame, where: Column) -> DataFrame:
    """Every known outcome of the flights `where` selects replaced by values nothing real produces
    (an unknown one stays unknown: which flights have a label is itself an outcome)."""
    changed = {
        "dep_delay": F.lit(777),
        "arr_delay": F.lit(-555),
        "air_time": F.lit(1),
        "dep_time": F.lit(1),
        "arr_time": F.lit(2),
        "cancelled": ~F.col("cancelled"),
        "dep_ts": F.col("dep_ts") + F.expr("INTERVAL 5 HOURS"),
        "arr_ts": F.col("arr_ts") - F.expr("INTERVAL 5 HOURS"),
    }
    return flights.select(
        *[
            F.when(where & F.col(c).isNotNull(), changed[c]).otherwise(F.col(c)).alias(c) if c in changed else c
            for c in flights.columns
        ]
    )


def _scrambled_weather(weather: DataFrame, where: Column) -> DataFrame:
    changed = {"temp": F.lit(-77.0), "wind_speed": F.lit(99.0), "precip": F.lit(9.9), "visib": F.lit(0.0)}
    return weather.select(
        *[F.when(where, changed[c]).otherwise(F.col(c)).alias(c) if c in changed else c for c in weather.columns]
    )


def _without_label(frame: DataFrame) -> DataFrame:
    return frame.drop(*LABELS)


def _planes_flown_by_day_d(inputs: Inputs) -> Column:
    flown = [
        r["tailnum"]
        for r in inputs.flights.where(F.col("flight_date") <= F.lit(DAY)).select("tailnum").distinct().collect()
        if r["tailnum"]
    ]
    return F.col("tailnum").isin(flown)


@pytest.mark.parametrize("how", ["removed", "scrambled"])
def test_nothing_at_or_after_the_cutoff_reaches_the_features(inputs: Inputs, known: DataFrame, how: str) -> None:
    day = F.col("flight_date")
    later_flights, later_weather = day > F.lit(DAY), F.col("time_hour") >= cutoff()
    not_flown = ~_planes_flown_by_day_d(inputs)
    if how == "removed":
        flights = _scrambled_outcomes(inputs.flights.where(~later_flights), day == F.lit(DAY))
        weather = inputs.weather.where(~later_weather)
        planes = inputs.planes.where(~not_flown)
    else:
        flights = _scrambled_outcomes(inputs.flights, day >= F.lit(DAY))
        weather = _scrambled_weather(inputs.weather, later_weather)
        planes = inputs.planes.withColumn("year", F.when(not_flown, F.lit(1900)).otherwise(F.col("year")))
    moved = inputs.features(flights, weather, planes)
    assert_df_equality(_without_label(moved), _without_label(known), ignore_row_order=True, ignore_nullable=True)
    # the scramble did reach day D: its label (arr_delay -555, never late) changed for every late flight
    late = known.where(F.col(LABEL) == 1).count()
    assert late > 0
    assert _changed(known, moved, LABEL).count() == late
    assert _changed(known, moved, "delay_band").count() == late  # every late band became on_time


def _changed(before: DataFrame, after: DataFrame, column: str) -> DataFrame:
    """Flights of D whose `column` differs (null-safe) between two builds, with both values."""
    joined = before.select(*FLIGHT_ROW_KEY, "carrier", F.col(column).alias("old")).join(
        after.select(*FLIGHT_ROW_KEY, F.col(column).alias("new")), on=list(FLIGHT_ROW_KEY), how="inner"
    )
    return joined.where(~F.col("old").eqNullSafe(F.col("new")))


def test_the_outcomes_of_the_day_before_move_every_history_feature(inputs: Inputs, known: DataFrame) -> None:
    before = F.col("flight_date") == F.lit(DAY - dt.timedelta(days=1))
    late = inputs.flights.withColumn("arr_delay", F.when(before, F.lit(500)).otherwise(F.col("arr_delay")))
    late = late.withColumn("dep_delay", F.when(before, F.lit(500)).otherwise(F.col("dep_delay")))
    moved = inputs.features(late)
    carriers_before = {r["carrier"] for r in inputs.flights.where(before).select("carrier").distinct().collect()}
    for column in HISTORY:
        changed = _changed(known, moved, column)
        assert changed.where(F.col("new") <= F.col("old")).count() == 0, column  # only ever more delay
        assert changed.count() > 0, column
    # the carrier rate changes for exactly the carriers that flew the day before (and had not all been late)
    rate = _changed(known, moved, "carrier_delay_rate_7d")
    assert {r["carrier"] for r in rate.select("carrier").distinct().collect()} <= carriers_before
    unchanged = known.where(~F.col("carrier").isin(list(carriers_before)))
    assert _changed(unchanged, moved, "carrier_delay_rate_7d").count() == 0
    assert _changed(known, moved, LABEL).count() == 0
    for column in WEATHER:
        assert _changed(known, moved, column).count() == 0, column


def test_outcomes_eight_days_before_move_only_the_28_day_route_rate(inputs: Inputs, known: DataFrame) -> None:
    eight = F.col("flight_date") == F.lit(DAY - dt.timedelta(days=8))
    late = inputs.flights.withColumn("arr_delay", F.when(eight, F.lit(500)).otherwise(F.col("arr_delay")))
    late = late.withColumn("dep_delay", F.when(eight, F.lit(500)).otherwise(F.col("dep_delay")))
    moved = inputs.features(late)
    assert _changed(known, moved, "route_delay_rate_28d").count() > 0
    assert _changed(known, moved, "carrier_delay_rate_7d").count() == 0
    assert _changed(known, moved, "origin_mean_dep_delay_7d").count() == 0


def test_a_configured_window_names_its_column_and_reaches_that_far_back(inputs: Inputs, known: DataFrame) -> None:
    nine_days = Inputs(
        inputs.flights, inputs.weather, inputs.planes, inputs.params.model_copy(update={"carrier_window_days": 9})
    )
    eight = F.col("flight_date") == F.lit(DAY - dt.timedelta(days=8))
    late = inputs.flights.withColumn("arr_delay", F.when(eight, F.lit(500)).otherwise(F.col("arr_delay")))
    wide, wide_late = nine_days.features(), nine_days.features(late)
    assert "carrier_delay_rate_9d" in wide.columns
    assert "carrier_delay_rate_7d" not in wide.columns
    assert {"route_delay_rate_28d", "origin_mean_dep_delay_7d"} <= set(wide.columns)
    # D-8 is inside a 9-day window: its outcomes now move the carrier rate (they do not at 7 days)
    assert _changed(wide, wide_late, "carrier_delay_rate_9d").count() > 0
    assert _changed(known, inputs.features(late), "carrier_delay_rate_7d").count() == 0


def test_weather_before_departure_moves_the_weather_features(inputs: Inputs, known: DataFrame) -> None:
    # every observation of D up to the cut-off gets an impossible temperature
    start = F.to_utc_timestamp(F.lit("2013-06-12 00:00:00").cast("timestamp"), ZONE)
    on_d = (F.col("time_hour") >= start) & (F.col("time_hour") <= cutoff())
    weather = inputs.weather.withColumn("temp", F.when(on_d, F.lit(150.0)).otherwise(F.col("temp")))
    moved = inputs.features(weather=weather)
    # flights departing from 03:00 look back at most 3 hours, so only at observations of day D
    after_three = F.col("sched_dep_ts") >= F.to_utc_timestamp(F.lit("2013-06-12 03:00:00").cast("timestamp"), ZONE)
    looked = moved.where(after_three & F.col("origin_temp").isNotNull())
    assert looked.count() > 0
    assert looked.where(F.col("origin_temp") != 150.0).count() == 0
    assert _changed(known, moved, "origin_wind_speed").count() == 0


def test_a_planes_year_moves_its_flights_age(inputs: Inputs, known: DataFrame) -> None:
    tail = (
        known.where(F.col("plane_age").isNotNull())
        .join(inputs.flights.select(*FLIGHT_ROW_KEY, "tailnum"), on=list(FLIGHT_ROW_KEY))
        .select("tailnum")
        .first()
    )
    assert tail is not None
    planes = inputs.planes.withColumn(
        "year", F.when(F.col("tailnum") == tail["tailnum"], F.lit(1950)).otherwise(F.col("year"))
    )
    moved = inputs.features(planes=planes)
    changed = _changed(known, moved, "plane_age")
    assert changed.count() >= 1
    assert {r["new"] for r in changed.select("new").collect()} == {2013 - 1950}


@pytest.mark.slow
def test_months_built_on_their_own_equal_the_full_build(spark: SparkSession, world_copy: SliceRun) -> None:
    """January (no history before it), March (the DST switch) and December, newest first: the
    order must not matter, and each is built from the 28 days of history it needs."""
    full = Lakehouse(spark, world_copy.settings).read("gold.flight_features")
    root = Path(world_copy.settings.lakehouse.root)
    months = ["2013-12", "2013-03", "2013-01"]
    for month in months:
        settings = slice_settings(
            root, "tables.gold.flight_features.location=gold/flight_features_incremental", f"features.months=[{month}]"
        )
        features.run(spark, settings)
    built = Lakehouse(spark, settings).read("gold.flight_features")
    same_months = full.where(F.col("month").isin(12, 3, 1))
    assert built.select("month").distinct().count() == 3
    assert checksum(built) == checksum(same_months)
    history = Lakehouse(spark, settings).history("gold.flight_features")
    assert [h["operation"] for h in history][-1] == "CREATE TABLE AS SELECT"
    assert all(h["operationParameters"].get("predicate") for h in history[:-1])


def test_unknown_month_is_a_config_error(spark: SparkSession, world_copy: SliceRun) -> None:
    settings = slice_settings(
        Path(world_copy.settings.lakehouse.root),
        "tables.gold.flight_features.location=gold/flight_features_unknown",
        "features.months=[2014-02]",
    )
    with pytest.raises(ConfigError, match=r"features.months: no flights for 2014-02 .*available: 2013-01..2013-12"):
        features.run(spark, settings)
