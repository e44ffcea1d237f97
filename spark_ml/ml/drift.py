"""Drift: population stability index (PSI) of features and scores, reference vs current.

Bins come from the reference: quantiles for numeric columns (one `percentile_approx` pass for all
columns), categories for categorical ones; nulls are a bin of their own. Counts per (column, bin)
for both data sets come from one unpivoted aggregation over the two.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

NULL_BIN = "<null>"
OTHER_BIN = "<other>"
SMOOTHING = 1e-4


@dataclass(frozen=True)
class Drift:
    column: str
    kind: str
    psi: float
    reference_rows: int
    current_rows: int
    status: str


def numeric_edges(reference: DataFrame, columns: Sequence[str], bins: int) -> dict[str, list[float]]:
    """Inner quantile edges per numeric column, from one aggregation over the reference."""
    if not columns:
        return {}
    probs = [i / bins for i in range(1, bins)]
    row = reference.agg(
        *[F.percentile_approx(F.col(c).cast("double"), probs, 10000).alias(c) for c in columns]
    ).collect()[0]
    return {c: sorted(set(row[c] or [])) for c in columns}


def categories(reference: DataFrame, columns: Sequence[str], limit: int = 50) -> dict[str, list[str]]:
    """The most frequent categories per column in the reference (the rest share one bin), from
    one aggregation over all columns."""
    out: dict[str, list[str]] = {c: [] for c in columns}
    if not columns:
        return out
    pairs = [F.struct(F.lit(c).alias("column"), F.col(c).cast("string").alias("value")) for c in columns]
    counted = (
        reference.select(F.explode(F.array(*pairs)).alias("cv"))
        .where(F.col("cv.value").isNotNull())
        .groupBy("cv.column", "cv.value")
        .count()
    )
    rank = (
        Window.partitionBy("column")
        .orderBy(F.desc("count"), F.asc("value"))
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    top = counted.withColumn("rank", F.row_number().over(rank)).where(F.col("rank") <= limit).collect()
    for row in sorted(top, key=lambda r: (r["column"], r["rank"])):
        out[row["column"]].append(row["value"])
    return out


def _bin_expr(column: str, edges: list[float] | None, cats: list[str] | None) -> Column:
    value = F.col(column)
    if cats is not None:
        text = value.cast("string")
        return F.when(value.isNull(), F.lit(NULL_BIN)).when(text.isin(cats), text).otherwise(F.lit(OTHER_BIN))
    expr = F.when(value.isNull(), F.lit(NULL_BIN))
    for i, edge in enumerate(edges or []):
        expr = expr.when(value.cast("double") < F.lit(edge), F.lit(f"b{i:03d}"))
    return expr.otherwise(F.lit(f"b{len(edges or []):03d}"))


def bin_counts(
    frames: Sequence[DataFrame], edges: Mapping[str, list[float]], cats: Mapping[str, list[str]]
) -> list[dict[str, dict[str, int]]]:
    """For each frame, column -> bin -> rows, from one aggregation over all of them (columns
    unpivoted with an exploded array, the frames told apart by their position)."""
    if not frames:
        return []
    columns = [*edges, *cats]
    pairs = [F.struct(F.lit(c).alias("column"), _bin_expr(c, edges.get(c), cats.get(c)).alias("bin")) for c in columns]
    sides = [df.select(F.lit(i).alias("side"), F.explode(F.array(*pairs)).alias("cb")) for i, df in enumerate(frames)]
    union = functools.reduce(lambda a, b: a.unionByName(b), sides)  # the instance's own method: also Connect's
    counted = union.groupBy("side", "cb.column", "cb.bin").count().collect()
    out: list[dict[str, dict[str, int]]] = [{c: {} for c in columns} for _ in frames]
    for row in counted:
        out[row["side"]][row["column"]][row["bin"]] = int(row["count"])
    return out


def psi(reference: Mapping[str, int], current: Mapping[str, int]) -> float:
    """sum((c - r) * ln(c / r)) over bins, with shares smoothed so empty bins stay finite."""
    ref_total, cur_total = sum(reference.values()), sum(current.values())
    if ref_total == 0 or cur_total == 0:
        return math.nan
    total = 0.0
    for b in set(reference) | set(current):
        r = max(reference.get(b, 0) / ref_total, SMOOTHING)
        c = max(current.get(b, 0) / cur_total, SMOOTHING)
        total += (c - r) * math.log(c / r)
    return total


def status_of(value: float, warn: float, alert: float) -> str:
    if math.isnan(value):
        return "alert"
    return "alert" if value >= alert else "warn" if value >= warn else "ok"


def drift_report(
    reference: DataFrame,
    current: DataFrame,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
    bins: int,
    warn: float,
    alert: float,
) -> list[Drift]:
    """PSI and status of every column, reference vs current."""
    edges = numeric_edges(reference, numeric, bins)
    cats = categories(reference, categorical)
    ref_counts, cur_counts = bin_counts([reference, current], edges, cats)
    report = []
    for c in [*numeric, *categorical]:
        value = psi(ref_counts[c], cur_counts[c])
        report.append(
            Drift(
                c,
                "numeric" if c in edges else "categorical",
                value,
                sum(ref_counts[c].values()),
                sum(cur_counts[c].values()),
                status_of(value, warn, alert),
            )
        )
    return report


def overall_status(report: Sequence[Drift]) -> str:
    statuses = {d.status for d in report}
    return "alert" if "alert" in statuses else "warn" if "warn" in statuses else "ok"


RETRAIN_STATUSES = {"alert": ("alert",), "warn": ("warn", "alert"), "never": ()}


def retrain_wanted(status: str, retrain_on: str) -> bool:
    """Whether a month whose overall drift status is `status` retrains under `monitor.retrain_on`."""
    return status in RETRAIN_STATUSES[retrain_on]
