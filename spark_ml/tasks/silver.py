"""Task `silver`: bronze -> typed, de-duplicated silver tables of the flight use case.

Each table is checked by its configured data-quality checks before it is written (an `error`
check fails the task with nothing written to that table) and replaced in one Delta commit.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame, SparkSession

from spark_ml.config import Settings
from spark_ml.features.flights import silver_airlines, silver_airports, silver_flights, silver_planes, silver_weather
from spark_ml.tasks.base import TaskContext, TaskResult


def run(spark: SparkSession, cfg: Settings, *, run_id: str | None = None) -> TaskResult:
    zone = cfg.silver.timezone
    steps: list[tuple[str, str, Callable[[DataFrame], DataFrame]]] = [
        ("bronze.airlines", "silver.airlines", silver_airlines),
        ("bronze.airports", "silver.airports", silver_airports),
        ("bronze.planes", "silver.planes", silver_planes),
        ("bronze.weather", "silver.weather", silver_weather),
        ("bronze.flights", "silver.flights", lambda df: silver_flights(df, zone).repartition("year", "month")),
    ]
    with TaskContext("silver", spark, cfg, run_id) as ctx:
        for source, target, build in steps:
            ctx.checked_write(build(ctx.lakehouse.read(source)), target, mode="overwrite")
        return ctx.result({"tables": len(steps)})
