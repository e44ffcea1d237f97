"""Rolling aggregates over calendar-day windows strictly before each row's date (point in time)."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from spark_ml.errors import ParameterError
from spark_ml.transforms.frames import require_columns


def with_mean_before(
    df: DataFrame,
    output: str,
    *,
    by: Sequence[str],
    date: str,
    value: str,
    days: int,
    broadcast: bool = False,
) -> DataFrame:
    """Adds `output`: the mean of non-null `value` over rows with the same `by` keys dated
    `date - days` .. `date - 1` (never the row's own date or later). Null when there is no such
    value, when a key is null, or when the date is null.

    Aggregates to one row per (keys, day) first, then a range window of `days` days over day
    numbers, then joins back: one shuffle per key set, whatever the number of rows per day.
    `broadcast`: join back with that per-day side broadcast (one row per key and day: set it when
    the keys are few, as carriers or routes are, so `df` is neither shuffled nor sorted for it).
    """
    if days < 1:
        raise ParameterError(f"with_mean_before needs days >= 1, got {days}")
    require_columns(df, [*by, date, value], "with_mean_before input")
    day = "__day"
    daily = (
        df.where(F.col(date).isNotNull())
        .groupBy(*by, date)
        .agg(F.sum(F.col(value).cast("double")).alias("__sum"), F.count(F.col(value)).alias("__n"))
        .withColumn(day, F.datediff(F.col(date), F.lit("1970-01-01").cast("date")))
    )
    window = Window.partitionBy(*by).orderBy(day).rangeBetween(-days, -1)
    total, count = F.sum("__sum").over(window), F.sum("__n").over(window)
    rolled = daily.select(
        *[F.col(k).alias(f"__k{i}") for i, k in enumerate(by)],
        F.col(date).alias("__d"),
        F.when(count > 0, total / count).alias(output),
    )
    condition = F.col(date) == F.col("__d")
    for i, key in enumerate(by):
        condition = condition & (F.col(key) == F.col(f"__k{i}"))  # null keys never match: null output
    daily_side = F.broadcast(rolled) if broadcast else rolled
    return df.join(daily_side, on=condition, how="left").select(*df.columns, output)
