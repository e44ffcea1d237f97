"""The as-of join designs measured against spark_ml.transforms.asof.asof_join (benchmarks only).

Each takes the same arguments as `asof_join` and returns the same rows (the peers benchmark checks
that at every size): the latest right row at or before the left time within the tolerance, ties at
one time broken by the greatest values, the latest row's values kept as they are (nulls included),
null columns when there is none.

- `landed`: the as-of join before this change: each left row gets a monotonically_increasing_id()
  and is exploded to the hour buckets its tolerance spans, joined on (keys, bucket), then a
  row_number window over the row id keeps the latest match (a shuffle of the exploded left side).
- `union_window`: Tempo's design made exact: a union of both sides, sorted by time per key (right
  rows before left rows at one time), and the last right row's struct carried forward by a
  last(ignorenulls) window, then the tolerance filter. One sort of all rows per key, and a key
  (3 airports here) is one task.
- `bucket_rank`: the bucket join keyed by the left's own key columns (`left_key`, unique per left
  row) instead of a row id, with the right side exploded to the buckets its tolerance reaches
  (no left explode), then a row_number window per left key.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F


def landed(
    left: DataFrame,
    right: DataFrame,
    *,
    on: Sequence[str],
    left_time: str,
    right_time: str,
    tolerance_seconds: int,
    columns: Sequence[str],
    prefix: str = "",
    bucket_seconds: int = 3600,
) -> DataFrame:
    row, bucket, rt = "__asof_row", "__asof_bucket", "__asof_time"
    lt_seconds = F.unix_seconds(F.col(left_time))
    lhs = left.withColumn(row, F.monotonically_increasing_id()).withColumn(
        bucket,
        F.explode_outer(
            F.sequence(
                F.floor((lt_seconds - tolerance_seconds) / bucket_seconds),
                F.floor(lt_seconds / bucket_seconds),
            )
        ),
    )
    renamed = {c: f"__asof_r_{i}" for i, c in enumerate(on)}
    values = {c: f"{prefix}{c}" for c in columns}
    rhs = right.select(
        *[F.col(c).alias(renamed[c]) for c in on],
        F.col(right_time).alias(rt),
        F.floor(F.unix_seconds(F.col(right_time)) / bucket_seconds).alias(bucket),
        *[F.col(c).alias(values[c]) for c in columns],
    )
    condition = (F.col(f"l.{bucket}") == F.col(f"r.{bucket}")) & (F.col(f"r.{rt}") <= F.col(f"l.{left_time}"))
    condition = condition & (
        F.col(f"r.{rt}") >= F.col(f"l.{left_time}") - F.expr(f"INTERVAL {tolerance_seconds} SECONDS")
    )
    for c in on:
        condition = condition & (F.col(f"l.{c}") == F.col(f"r.{renamed[c]}"))
    joined = lhs.alias("l").join(rhs.alias("r"), on=condition, how="left")
    order = [F.col(rt).desc_nulls_last(), *[F.col(values[c]).desc_nulls_last() for c in columns]]
    window = Window.partitionBy(row).orderBy(*order)
    best = joined.withColumn("__asof_rank", F.row_number().over(window)).where(F.col("__asof_rank") == 1)
    return best.select(*[F.col(f"l.{c}") for c in left.columns], *[F.col(values[c]) for c in columns])


def union_window(
    left: DataFrame,
    right: DataFrame,
    *,
    on: Sequence[str],
    left_time: str,
    right_time: str,
    tolerance_seconds: int,
    columns: Sequence[str],
    prefix: str = "",
) -> DataFrame:
    ts, side, lrow, rrow = "__asof_ts", "__asof_side", "__asof_left", "__asof_right"
    keys = [f"__asof_k{i}" for i in range(len(on))]
    right_struct = F.struct(F.col(right_time).alias("__rt"), *[F.col(c).alias(f"{prefix}{c}") for c in columns])
    right_type = right.select(right_struct.alias("s")).schema["s"].dataType
    left_struct = F.struct(*[F.col(c) for c in left.columns])
    left_type = left.select(left_struct.alias("s")).schema["s"].dataType
    lhs = left.select(
        *[F.col(c).alias(k) for c, k in zip(on, keys, strict=True)],
        F.col(left_time).alias(ts),
        F.lit(1).alias(side),
        left_struct.alias(lrow),
        F.lit(None).cast(right_type).alias(rrow),
    )
    present = F.lit(True)
    for c in [*on, right_time]:
        present = present & F.col(c).isNotNull()
    rhs = right.where(present).select(
        *[F.col(c).alias(k) for c, k in zip(on, keys, strict=True)],
        F.col(right_time).alias(ts),
        F.lit(0).alias(side),
        F.lit(None).cast(left_type).alias(lrow),
        right_struct.alias(rrow),
    )
    # right rows before left rows at one time; among right rows at one time the greatest values last
    window = (
        Window.partitionBy(*keys)
        .orderBy(F.col(ts).asc_nulls_first(), side, F.col(rrow).asc_nulls_first())
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    latest = F.last(rrow, ignorenulls=True).over(window)
    combined = lhs.unionByName(rhs).withColumn("__asof_latest", latest).where(F.col(side) == 1)
    within = F.col("__asof_latest.__rt") >= F.col(ts) - F.expr(f"INTERVAL {tolerance_seconds} SECONDS")
    return combined.select(
        *[F.col(lrow)[c].alias(c) for c in left.columns],
        *[F.when(within, F.col("__asof_latest")[f"{prefix}{c}"]).alias(f"{prefix}{c}") for c in columns],
    )


def bucket_rank(
    left: DataFrame,
    right: DataFrame,
    *,
    on: Sequence[str],
    left_time: str,
    right_time: str,
    tolerance_seconds: int,
    columns: Sequence[str],
    left_key: Sequence[str],
    prefix: str = "",
    bucket_seconds: int = 3600,
) -> DataFrame:
    bucket, rt = "__asof_bucket", "__asof_time"
    keys = [f"__asof_k{i}" for i in range(len(on))]
    values = [f"{prefix}{c}" for c in columns]
    seconds = F.unix_seconds(F.col(right_time))
    rhs = right.select(
        *[F.col(c).alias(k) for c, k in zip(on, keys, strict=True)],
        F.col(right_time).alias(rt),
        F.explode(
            F.sequence(F.floor(seconds / bucket_seconds), F.floor((seconds + tolerance_seconds) / bucket_seconds))
        ).alias(bucket),
        *[F.col(c).alias(v) for c, v in zip(columns, values, strict=True)],
    )
    lhs = left.withColumn(bucket, F.floor(F.unix_seconds(F.col(left_time)) / bucket_seconds))
    condition = (F.col(f"l.{bucket}") == F.col(f"r.{bucket}")) & (F.col(f"r.{rt}") <= F.col(f"l.{left_time}"))
    condition = condition & (
        F.col(f"r.{rt}") >= F.col(f"l.{left_time}") - F.expr(f"INTERVAL {tolerance_seconds} SECONDS")
    )
    for c, k in zip(on, keys, strict=True):
        condition = condition & (F.col(f"l.{c}") == F.col(f"r.{k}"))
    joined = lhs.alias("l").join(rhs.alias("r"), on=condition, how="left")
    order = [F.col(rt).desc_nulls_last(), *[F.col(v).desc_nulls_last() for v in values]]
    window = Window.partitionBy(*[F.col(f"l.{c}") for c in left_key]).orderBy(*order)
    best = joined.withColumn("__asof_rank", F.row_number().over(window)).where(F.col("__asof_rank") == 1)
    return best.select(*[F.col(f"l.{c}") for c in left.columns], *[F.col(v) for v in values])
