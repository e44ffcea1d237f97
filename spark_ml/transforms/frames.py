"""Generic DataFrame helpers: column contracts, de-duplication and a layout of one value per task."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from spark_ml.errors import SchemaMismatchError


def require_columns(df: DataFrame, columns: Sequence[str], what: str) -> None:
    """Raise a SchemaMismatchError naming every column of `columns` that `df` lacks."""
    present = set(df.columns)
    missing = [c for c in columns if c not in present]
    if missing:
        raise SchemaMismatchError(f"{what} is missing column(s): {', '.join(missing)}")


def dedupe_latest(df: DataFrame, keys: Sequence[str], order_by: Sequence[Column]) -> DataFrame:
    """One row per `keys`: the first by `order_by` (e.g. the latest ingested), ties broken by the
    values of every other column, so the winner depends on the rows only, never on their order in
    the input. Rows with null keys are kept as they are (they cannot be duplicates of anything known)."""
    require_columns(df, keys, "dedupe_latest input")
    orderable = [c for c, kind in df.dtypes if c not in keys and not kind.startswith("map")]
    ties = [F.col(c).desc_nulls_last() for c in orderable]
    window = (
        Window.partitionBy(*keys).orderBy(*order_by, *ties).rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    has_key = F.lit(True)
    for key in keys:
        has_key = has_key & F.col(key).isNotNull()
    ranked = df.withColumn("__rank", F.when(has_key, F.row_number().over(window)).otherwise(F.lit(1)))
    return ranked.where(F.col("__rank") == 1).drop("__rank")


# one_task_per_value tries partition counts up to this many per value before it gives up
MAX_PARTITIONS_PER_VALUE = 8


def one_task_per_value(df: DataFrame, columns: Sequence[str], values: Sequence[Sequence[Any]]) -> DataFrame:
    """`df` repartitioned by `columns` with each of `values` (the combinations of `columns` that its
    rows hold, in their Python types) alone in its partition: one task, so one file, per value, and
    tasks of about the same size where the values hold about as many rows each.

    `repartition(*columns)` hashes the values into `spark.sql.shuffle.partitions` partitions, where
    several share one, and adaptive execution merges small ones further: the largest task sets the
    stage's time (an x16 feature build wrote its 12 months in 3 tasks of 5, 4 and 3 months on 2
    cores). Here the number of partitions is the smallest at which Spark's own hash of the values
    (`hash`, which a hash partitioning takes modulo the number of partitions) puts no two of them
    in one partition; an explicit number, which adaptive execution keeps. Rows of a value not in
    `values` follow the same hash. Without such a number (two values of the same 32-bit hash, or
    none up to MAX_PARTITIONS_PER_VALUE per value), or without values, as `repartition(*columns)`."""
    require_columns(df, columns, "one_task_per_value input")
    distinct = list(dict.fromkeys(tuple(v) for v in values))
    if not distinct:
        return df.repartition(*columns)
    schema = df.select(*columns).schema
    hashed = df.sparkSession.createDataFrame(distinct, schema).select(F.hash(*columns).alias("h"))
    hashes = [row["h"] for row in hashed.collect()]
    for n in range(len(distinct), MAX_PARTITIONS_PER_VALUE * len(distinct) + 1):
        if len({h % n for h in hashes}) == len(distinct):  # Python's % of a negative hash is Spark's pmod
            return df.repartition(n, *columns)
    return df.repartition(*columns)
