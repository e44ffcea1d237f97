"""Task `features`: silver -> gold.flight_features, partitioned by year and month.

With `features.months` empty every month is rebuilt and the table replaced; with
`--set features.months=[2013-12]` only those partitions are rebuilt (reading the history they
need) and replaced atomically with replaceWhere. Both give identical rows (tested).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F

from spark_ml.config import Settings
from spark_ml.errors import ConfigError
from spark_ml.features.flights import flight_features, history_days
from spark_ml.tasks.base import TaskContext, TaskResult
from spark_ml.transforms.time import month_bounds


def in_months(months: Sequence[str]) -> Column:
    """True on rows of the year and month partitions of `months` ('2013-12')."""
    condition = F.lit(False)
    for month in sorted(months):
        condition = condition | ((F.col("year") == int(month[:4])) & (F.col("month") == int(month[5:])))
    return condition


def _in_range(column: Column, start: dt.date, end: dt.date) -> Column:
    return (column >= F.lit(start)) & (column <= F.lit(end))


def run(spark: SparkSession, cfg: Settings, *, run_id: str | None = None) -> TaskResult:
    with TaskContext("features", spark, cfg, run_id) as ctx:
        lake = ctx.lakehouse
        params = cfg.features
        flights = lake.read("silver.flights")
        available = sorted(
            f"{r['year']:04d}-{r['month']:02d}" for r in flights.select("year", "month").distinct().collect()
        )
        months = list(params.months) or available
        unknown = [m for m in months if m not in available]
        if unknown:
            span = f"{available[0]}..{available[-1]}" if available else "none"
            raise ConfigError(
                f"features.months: no flights for {', '.join(unknown)} in silver.flights (available: {span})"
            )
        first = min(month_bounds(m)[0] for m in months)
        last = max(month_bounds(m)[1] for m in months)
        history_start = first - dt.timedelta(days=history_days(params))
        window = flights.where(
            (F.make_date("year", "month", F.lit(1)) >= F.lit(history_start.replace(day=1)))
            & (F.make_date("year", "month", F.lit(1)) <= F.lit(last))
            & _in_range(F.col("flight_date"), history_start, last)
        )
        weather = lake.read("silver.weather").where(
            _in_range(F.to_date("time_hour"), first - dt.timedelta(days=1), last + dt.timedelta(days=1))
        )
        # One task per month partition writes one file per month (instead of one per shuffle partition).
        features = (
            flight_features(window, weather, lake.read("silver.planes"), params)
            .where(in_months(months))
            .repartition("year", "month")
        )
        rebuilt = in_months(months) if params.months else None
        written = ctx.checked_write(features, params.output, mode="overwrite", where=rebuilt)
        ctx.note(f"{params.output}: {written.rows:,} rows for {len(months)} month(s) {months[0]}..{months[-1]}")
        return ctx.result({"months": months, "rows": written.rows})


def main(argv: Sequence[str] | None = None) -> int:
    """spark-submit entry point of earlier releases (jobs/ now call spark_ml.cli.run_task)."""
    from spark_ml.cli.runner import task_main

    return task_main("features", argv)
