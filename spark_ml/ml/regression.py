"""Regression metrics computed by Spark on full data sets (never a sample).

RMSE, MAE and R² of a prediction column against the label come from one aggregation, together with
the same metrics of a constant baseline (the training window's mean label), so the baseline costs
no extra pass. R² is 1 - SSE / SST with SST around the evaluated set's own mean (scikit-learn's
`r2_score`): a constant equal to the training mean scores about 0, below 0 when the set's mean moved.
The plots' data (mean actual and residual spread per predicted bin) is a second aggregation of at
most `bins` rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_ml.errors import SparkMLError

PLOT_BINS = 40


@dataclass(frozen=True)
class RegressionMetrics:
    rows: int
    rmse: float
    mae: float
    r2: float
    mean_label: float
    mean_prediction: float
    curves: dict[str, list[float]] = field(default_factory=dict, repr=False)

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        names = ("rows", "rmse", "mae", "r2", "mean_label", "mean_prediction")
        return {f"{prefix}{n}": float(getattr(self, n)) for n in names}

    def metric(self, name: str) -> float:
        return float(getattr(self, name))


def _metrics(rows: int, sse: float, sae: float, sum_y: float, sum_y2: float, sum_p: float) -> RegressionMetrics:
    sst = sum_y2 - sum_y * sum_y / rows
    r2 = 1.0 - sse / sst if sst > 0 else math.nan  # a constant label has no variance to explain
    return RegressionMetrics(rows, math.sqrt(sse / rows), sae / rows, r2, sum_y / rows, sum_p / rows)


def evaluate_regression(
    scored: DataFrame, label: str, prediction: str, baseline: float | None = None, plot_bins: int = PLOT_BINS
) -> tuple[RegressionMetrics, RegressionMetrics | None]:
    """The metrics of `prediction` against `label` on every row of `scored` whose label is known,
    and (when `baseline` is given) those of predicting that constant on the same rows."""
    y, p = F.col(label).cast("double"), F.col(prediction).cast("double")
    known = scored.where(y.isNotNull())
    aggs = [
        F.count(F.lit(1)).alias("n"),
        F.sum(F.pow(y - p, 2)).alias("sse"),
        F.sum(F.abs(y - p)).alias("sae"),
        F.sum(y).alias("sy"),
        F.sum(y * y).alias("sy2"),
        F.sum(p).alias("sp"),
        F.min(p).alias("lo"),
        F.max(p).alias("hi"),
    ]
    if baseline is not None:
        c = F.lit(float(baseline))
        aggs += [F.sum(F.pow(y - c, 2)).alias("bsse"), F.sum(F.abs(y - c)).alias("bsae")]
    row = known.agg(*aggs).collect()[0]
    n = int(row["n"])
    if n == 0:
        raise SparkMLError("cannot evaluate an empty data set (no row has a label)")
    if row["sse"] is None:
        raise SparkMLError(f"the prediction column {prediction!r} is null on every row")
    sy, sy2 = float(row["sy"]), float(row["sy2"])
    model = _metrics(n, float(row["sse"]), float(row["sae"]), sy, sy2, float(row["sp"]))
    model = RegressionMetrics(
        **{**model.__dict__, "curves": _curves(known, y, p, float(row["lo"]), float(row["hi"]), plot_bins)}
    )
    base = None
    if baseline is not None:
        base = _metrics(n, float(row["bsse"]), float(row["bsae"]), sy, sy2, float(baseline) * n)
    return model, base


def _curves(known: DataFrame, y: Column, p: Column, lo: float, hi: float, bins: int) -> dict[str, list[float]]:
    """Per bin of the prediction's range: mean prediction, mean label, residual standard deviation
    and row count (predicted-vs-actual and the residual plot)."""
    width = (hi - lo) / bins if hi > lo else 1.0
    index = F.least(F.floor((p - F.lit(lo)) / F.lit(width)), F.lit(bins - 1)).cast("int")
    rows = (
        known.select(index.alias("bin"), p.alias("p"), y.alias("y"), (y - p).alias("r"))
        .groupBy("bin")
        .agg(F.count(F.lit(1)).alias("n"), F.avg("p").alias("p"), F.avg("y").alias("y"), F.stddev_pop("r").alias("sd"))
        .orderBy("bin")
        .collect()
    )
    return {
        "predicted": [float(r["p"]) for r in rows],
        "actual": [float(r["y"]) for r in rows],
        "residual_mean": [float(r["y"]) - float(r["p"]) for r in rows],
        "residual_sd": [float(r["sd"] or 0.0) for r in rows],
        "rows": [float(r["n"]) for r in rows],
    }
