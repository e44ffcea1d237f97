"""Task `features`: the configured feature builder's inputs -> `features.output`.

`features.builder` names the builder (spark_ml/features/registry.py; default `flights`: silver ->
gold.flight_features, partitioned by year and month). The task reads the builder's input tables
through the lakehouse (each read pinned to a version and recorded), builds, runs the output
table's quality checks and writes it.

With `features.months` empty every month is rebuilt and the table replaced; with
`--set features.months=[2013-12]` (builders that support it) only those partitions are rebuilt
(reading the history they need) and replaced atomically with replaceWhere. Both give identical
rows (tested).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_ml.config import Settings
from spark_ml.errors import ConfigError, TableNotFoundError
from spark_ml.features.builder import MonthlyRebuild
from spark_ml.features.registry import Resolved, resolve
from spark_ml.tasks.base import TaskContext, TaskResult
from spark_ml.transforms.frames import require_columns
from spark_ml.transforms.time import month_bounds


def _year_month(month: str) -> tuple[int, int]:
    """'2013-12' -> (2013, 12): the values of the year and month partition columns."""
    return int(month[:4]), int(month[5:])


def in_months(months: Sequence[str]) -> Column:
    """True on rows of the year and month partitions of `months` ('2013-12')."""
    condition = F.lit(False)
    for year, month in map(_year_month, sorted(months)):
        condition = condition | ((F.col("year") == year) & (F.col("month") == month))
    return condition


def run(spark: SparkSession, cfg: Settings, *, run_id: str | None = None) -> TaskResult:
    with TaskContext("features", spark, cfg, run_id) as ctx:
        found = resolve(cfg)
        output = cfg.features.output
        frames = {role: ctx.lakehouse.read(table) for role, table in found.tables.items()}
        if found.builder.monthly is None:
            written = ctx.checked_write(found.builder.build(frames, found.params), output, mode="overwrite")
            ctx.note(f"{output}: {written.rows:,} rows built by {found.builder.name!r}")
            return ctx.result({"months": [], "rows": written.rows})
        months, features = _monthly(cfg, found, found.builder.monthly, frames)
        rebuilt = in_months(months) if cfg.features.months else None
        added = ctx.lakehouse.add_missing_columns(features, output)
        if added:  # a table built by an earlier release: the months not rebuilt read them as null
            ctx.note(f"{output}: added the column(s) {', '.join(added)}")
        # One task per month partition writes one file per month (instead of one per shuffle
        # partition); the months are known, so no two share a task (tasks balanced over the cores).
        written = ctx.checked_write(
            features,
            output,
            mode="overwrite",
            where=rebuilt,
            files_by=("year", "month"),
            file_values=[_year_month(m) for m in months],
        )
        ctx.note(f"{output}: {written.rows:,} rows for {len(months)} month(s) {months[0]}..{months[-1]}")
        return ctx.result({"months": months, "rows": written.rows})


def _monthly(
    cfg: Settings, found: Resolved, monthly: MonthlyRebuild[Any], frames: dict[str, DataFrame]
) -> tuple[list[str], DataFrame]:
    """The months to build (features.months, or every month of the data) and their feature rows."""
    available = monthly.available(frames)
    source = found.tables[monthly.source]
    if not available:
        raise TableNotFoundError(f"{source} holds no {monthly.noun}: no feature month to build")
    months = list(cfg.features.months) or available
    unknown = [m for m in months if m not in available]
    if unknown:
        span = f"{available[0]}..{available[-1]}"
        raise ConfigError(
            f"features.months: no {monthly.noun} for {', '.join(unknown)} in {source} (available: {span})"
        )
    first = min(month_bounds(m)[0] for m in months)
    last = max(month_bounds(m)[1] for m in months)
    built = found.builder.build(monthly.inputs_for(frames, first, last, found.params), found.params)
    require_columns(built, ["year", "month"], f"the output of feature builder {found.builder.name!r}")
    return months, built.where(in_months(months))
