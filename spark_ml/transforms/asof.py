"""As-of join: for each left row, the latest right row at or before its time, within a tolerance."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from spark_ml.errors import ParameterError
from spark_ml.transforms.frames import require_columns

MICROS = 1_000_000


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

    The latest right row's values are returned as they are, nulls included. Among right rows at
    the same time, the one with the greatest `columns` values wins (compared in order, null lowest),
    so the result is deterministic. Null keys and null times never match; every left row is kept
    once, duplicates included, in no particular order. Output columns are named `prefix + column`.

    Runs as an equi-join without a range join, a row id or a window over the left side: each right
    row (per key and time) is valid from its time until just before the next right time of its key,
    and for at most `tolerance` (in elapsed microseconds). Those intervals do not overlap, so a left
    time falls in at most one: the intervals are listed once per time bucket they cover (a few per
    right row when the tolerance is a few buckets) and joined on (keys, the left time's bucket), then
    filtered on the interval. A small right side is broadcast and the left side is not shuffled.
    A right row is listed once per bucket its interval covers (the interval is no longer than the
    gap to the next right row, nor than the tolerance), and a left row is compared with every
    interval listed in its bucket: a bucket near the usual spacing of the right rows keeps both
    to one or two.
    """
    if tolerance_seconds < 0 or bucket_seconds <= 0:
        raise ParameterError(
            "asof_join needs tolerance_seconds >= 0 and bucket_seconds > 0, "
            f"got {tolerance_seconds} and {bucket_seconds}"
        )
    require_columns(left, [*on, left_time], "asof_join left side")
    require_columns(right, [*on, right_time, *columns], "asof_join right side")
    keys = [f"__asof_k{i}" for i in range(len(on))]
    values = [f"{prefix}{c}" for c in columns]
    bucket, start, end, latest = "__asof_bucket", "__asof_start", "__asof_end", "__asof_values"

    def bucket_of(micros: Column) -> Column:
        # monotone in `micros`, which is all the matching needs (start <= t <= end gives a bucket
        # of t between those of start and end)
        return F.floor(micros / F.lit(bucket_seconds * MICROS))

    observed = right.where(_all_not_null([*on, right_time])).select(
        *[F.col(c).alias(k) for c, k in zip(on, keys, strict=True)],
        F.unix_micros(F.col(right_time)).alias(start),
        F.struct(*[F.col(c).alias(v) for c, v in zip(columns, values, strict=True)]).alias(latest),
    )
    # ties at one time: the greatest values (a struct compares its fields in order, null lowest)
    per_time = observed.groupBy(*keys, start).agg(F.max(latest).alias(latest))
    # lead() takes no frame: it reads the next row of the ordered partition (null after the last
    # one, which least() skips)
    following = F.lead(start).over(Window.partitionBy(*keys).orderBy(start))
    valid_until = F.least(following - 1, F.col(start) + F.lit(tolerance_seconds * MICROS))
    intervals = (
        per_time.withColumn(end, valid_until)
        .withColumn(bucket, F.explode(F.sequence(bucket_of(F.col(start)), bucket_of(F.col(end)))))
        .select(*keys, bucket, start, end, *[F.col(latest)[v].alias(v) for v in values])
    )
    lhs = left.withColumn(bucket, bucket_of(F.unix_micros(F.col(left_time))))
    condition = F.col(f"l.{bucket}") == F.col(f"r.{bucket}")
    for c, k in zip(on, keys, strict=True):
        condition = condition & (F.col(f"l.{c}") == F.col(f"r.{k}"))
    at = F.unix_micros(F.col(f"l.{left_time}"))
    condition = condition & at.between(F.col(f"r.{start}"), F.col(f"r.{end}"))
    joined = lhs.alias("l").join(intervals.alias("r"), on=condition, how="left")
    return joined.select(*[F.col(f"l.{c}") for c in left.columns], *[F.col(f"r.{v}") for v in values])


def _all_not_null(names: Sequence[str]) -> Column:
    present = F.lit(True)
    for name in names:
        present = present & F.col(name).isNotNull()
    return present
