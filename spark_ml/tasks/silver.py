"""Task `silver`: bronze -> typed, de-duplicated silver tables, one per `silver.steps` entry.

Each step's builder (a use case's silver builder, spark_ml/features/registry.py) turns the source
table's rows into the target's. Each table is checked by its configured data-quality checks before
it is written (an `error` check fails the task with nothing written to that table) and replaced in
one Delta commit. Steps run in the order listed.
"""

from __future__ import annotations

from pyspark.sql import SparkSession

from spark_ml.config import Settings
from spark_ml.features.registry import resolve_silver
from spark_ml.tasks.base import TaskContext, TaskResult


def run(spark: SparkSession, cfg: Settings, *, run_id: str | None = None) -> TaskResult:
    steps = resolve_silver(cfg)
    with TaskContext("silver", spark, cfg, run_id) as ctx:
        for step, builder in steps:
            rows = builder.build(ctx.lakehouse.read(step.source), cfg.silver)
            ctx.checked_write(rows, step.target, mode="overwrite", files_by=builder.partition_by)
        return ctx.result({"tables": len(steps)})
