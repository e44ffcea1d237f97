"""As-of join: for each left row, the latest right row at or before its time, within a tolerance."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from spark_ml.errors import SchemaMismatchError
from spark_ml.transforms.frames import require_columns


def asof_join(
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
    """Left rows with `columns` of the latest right row that has equal `on` keys and
    `left_time - tolerance <= right_time <= left_time` (null columns when there is none).

    Runs as an equi-join on (keys, time bucket) and a filter instead of a range join: each left
    row is expanded to the few buckets its tolerance spans, so the join stays a hash join. Among
    right rows at the same time, the one with the greatest `columns` values wins (deterministic).
    Output columns are named `prefix + column`.
    """
    if tolerance_seconds < 0 or bucket_seconds <= 0:
        raise SchemaMismatchError("asof_join needs tolerance_seconds >= 0 and bucket_seconds > 0")
    require_columns(left, [*on, left_time], "asof_join left side")
    require_columns(right, [*on, right_time, *columns], "asof_join right side")
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
