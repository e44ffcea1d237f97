"""Binary classification metrics computed by Spark on full data sets (never a sample).

AUC-ROC and AUC-PR come from Spark's BinaryClassificationEvaluator; log loss, Brier score, the
curves, calibration and the threshold metrics come from one aggregation into 100 score bins, a
bounded result of at most 101 rows per data set.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.functions import vector_to_array
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_ml.errors import SparkMLError

BINS = 100
EPS = 1e-15


def positive_probability(column: str = "probability") -> Column:
    """The probability of class 1 from Spark ML's probability vector."""
    return vector_to_array(F.col(column)).getItem(1)


@dataclass(frozen=True)
class Histogram:
    """Per score bin (0..100): positives, negatives, sum of scores, log loss and Brier sums."""

    positives: tuple[int, ...]
    negatives: tuple[int, ...]
    score_sums: tuple[float, ...]
    log_loss_sum: float
    brier_sum: float

    @property
    def total(self) -> int:
        return sum(self.positives) + sum(self.negatives)


@dataclass(frozen=True)
class ThresholdStats:
    threshold: float
    precision: float
    recall: float
    f1: float


@dataclass
class Metrics:
    rows: int
    positive_rate: float
    auc_roc: float
    auc_pr: float
    log_loss: float
    brier: float
    threshold: float
    precision: float
    recall: float
    f1: float
    curves: dict[str, list[float]] = field(default_factory=dict, repr=False)

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        names = (
            "rows",
            "positive_rate",
            "auc_roc",
            "auc_pr",
            "log_loss",
            "brier",
            "threshold",
            "precision",
            "recall",
            "f1",
        )
        return {f"{prefix}{n}": float(getattr(self, n)) for n in names}

    def metric(self, name: str) -> float:
        return float(getattr(self, name))


def histogram(scored: DataFrame, label: str, score: str) -> Histogram:
    """One aggregation: counts and sums per score bin of width 1/BINS (the last bin holds 1.0)."""
    p = F.least(F.greatest(F.col(score).cast("double"), F.lit(EPS)), F.lit(1 - EPS))
    y = F.col(label).cast("double")
    row_loss = -(y * F.log(p) + (1 - y) * F.log(1 - p))
    bins = (
        scored.select(
            F.floor(F.col(score) * BINS).cast("int").alias("bin"),
            y.alias("y"),
            F.col(score).alias("s"),
            row_loss.alias("loss"),
            F.pow(F.col(score) - y, 2).alias("sq"),
        )
        .groupBy("bin")
        .agg(
            F.sum("y").alias("pos"),
            F.count(F.lit(1)).alias("n"),
            F.sum("s").alias("s"),
            F.sum("loss").alias("loss"),
            F.sum("sq").alias("sq"),
        )
        .collect()
    )
    pos, neg, sums = [0] * (BINS + 1), [0] * (BINS + 1), [0.0] * (BINS + 1)
    loss = sq = 0.0
    for row in bins:
        b = min(max(int(row["bin"]), 0), BINS)
        pos[b] += int(row["pos"])
        neg[b] += int(row["n"]) - int(row["pos"])
        sums[b] += float(row["s"])
        loss += float(row["loss"])
        sq += float(row["sq"])
    return Histogram(tuple(pos), tuple(neg), tuple(sums), loss, sq)


def threshold_stats(hist: Histogram, threshold: float) -> ThresholdStats:
    """Precision, recall and F1 when predicting 1 for scores >= threshold (a bin edge)."""
    start = min(max(round(threshold * BINS), 0), BINS + 1)
    tp = sum(hist.positives[start:])
    fp = sum(hist.negatives[start:])
    fn = sum(hist.positives[:start])
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return ThresholdStats(threshold, precision, recall, f1)


def best_threshold(hist: Histogram) -> float:
    """The bin edge with the highest F1 (the lowest such edge on ties)."""
    best = max((threshold_stats(hist, b / BINS) for b in range(1, BINS)), key=lambda s: (s.f1, -s.threshold))
    return best.threshold


def _curves(hist: Histogram, calibration_bins: int) -> dict[str, list[float]]:
    total_pos, total_neg = sum(hist.positives), sum(hist.negatives)
    fpr, tpr, precision, recall = [0.0], [0.0], [], []
    tp = fp = 0
    for b in range(BINS, -1, -1):
        tp += hist.positives[b]
        fp += hist.negatives[b]
        tpr.append(tp / total_pos if total_pos else 0.0)
        fpr.append(fp / total_neg if total_neg else 0.0)
        if tp + fp:
            precision.append(tp / (tp + fp))
            recall.append(tp / total_pos if total_pos else 0.0)
    calib_pred, calib_true = [], []
    edges = [round(k * BINS / calibration_bins) for k in range(calibration_bins)] + [BINS + 1]
    for start, end in itertools.pairwise(edges):
        n = sum(hist.positives[start:end]) + sum(hist.negatives[start:end])
        if n:
            calib_pred.append(sum(hist.score_sums[start:end]) / n)
            calib_true.append(sum(hist.positives[start:end]) / n)
    return {
        "fpr": fpr,
        "tpr": tpr,
        "precision": precision,
        "recall": recall,
        "calibration_predicted": calib_pred,
        "calibration_observed": calib_true,
    }


def evaluate(
    scored: DataFrame, label: str, score: str, threshold: float | None = None, calibration_bins: int = 10
) -> Metrics:
    """Every metric of `score` (probability of class 1) against `label` (0/1) on all rows of
    `scored`. With no threshold, the F1-best threshold of this data set is used (validation).
    The calibration curve groups scores into `calibration_bins` equal-width bins."""
    if not 2 <= calibration_bins <= BINS:
        raise SparkMLError(f"calibration_bins must be between 2 and {BINS}, got {calibration_bins}")
    hist = histogram(scored, label, score)
    if hist.total == 0:
        raise SparkMLError("cannot evaluate an empty data set")
    chosen = best_threshold(hist) if threshold is None else threshold
    stats = threshold_stats(hist, chosen)
    positives = sum(hist.positives)
    both_classes = 0 < positives < hist.total
    evaluator = BinaryClassificationEvaluator(rawPredictionCol=score, labelCol=label)
    target = scored.select(F.col(score).cast("double").alias(score), F.col(label).cast("double").alias(label))
    auc_roc = evaluator.setMetricName("areaUnderROC").evaluate(target) if both_classes else math.nan
    auc_pr = evaluator.setMetricName("areaUnderPR").evaluate(target) if both_classes else math.nan
    return Metrics(
        rows=hist.total,
        positive_rate=positives / hist.total,
        auc_roc=float(auc_roc),
        auc_pr=float(auc_pr),
        log_loss=hist.log_loss_sum / hist.total,
        brier=hist.brier_sum / hist.total,
        threshold=chosen,
        precision=stats.precision,
        recall=stats.recall,
        f1=stats.f1,
        curves=_curves(hist, calibration_bins),
    )


def constant_score_metrics(
    rows: int, positives: int, score: float, threshold: float | None = None, calibration_bins: int = 10
) -> Metrics:
    """The metrics `evaluate` gives a constant score (the prior-rate baseline) on a set of `rows`
    with `positives`, from the counts alone, without a pass over the data: every row falls in one
    score bin; AUC-ROC is 0.5 and AUC-PR the positive rate, as Spark's evaluator computes them for
    a single score (its precision-recall curve starts at (0, p) and ends at (1, p))."""
    if rows <= 0 or not 0 <= positives <= rows:
        raise SparkMLError(f"cannot evaluate a constant score on {rows} rows with {positives} positives")
    if not 2 <= calibration_bins <= BINS:
        raise SparkMLError(f"calibration_bins must be between 2 and {BINS}, got {calibration_bins}")
    p = min(max(score, EPS), 1 - EPS)
    at = min(max(math.floor(score * BINS), 0), BINS)
    counts = [0] * (BINS + 1)
    pos, neg, sums = list(counts), list(counts), [0.0] * (BINS + 1)
    pos[at], neg[at], sums[at] = positives, rows - positives, score * rows
    negatives = rows - positives
    hist = Histogram(
        tuple(pos),
        tuple(neg),
        tuple(sums),
        -(positives * math.log(p) + negatives * math.log(1 - p)),
        positives * (score - 1) ** 2 + negatives * score**2,
    )
    chosen = best_threshold(hist) if threshold is None else threshold
    stats = threshold_stats(hist, chosen)
    both_classes = 0 < positives < rows
    return Metrics(
        rows=rows,
        positive_rate=positives / rows,
        auc_roc=0.5 if both_classes else math.nan,
        auc_pr=positives / rows if both_classes else math.nan,
        log_loss=hist.log_loss_sum / rows,
        brier=hist.brier_sum / rows,
        threshold=chosen,
        precision=stats.precision,
        recall=stats.recall,
        f1=stats.f1,
        curves=_curves(hist, calibration_bins),
    )
