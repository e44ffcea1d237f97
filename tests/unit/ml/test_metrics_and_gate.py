"""Metrics against hand-computed values, PSI, and the promotion gate (pure decisions)."""

from __future__ import annotations

import math

import pytest
from pyspark.sql import SparkSession

from spark_ml.config import PromoteSettings
from spark_ml.errors import SparkMLError
from spark_ml.ml.drift import psi, status_of
from spark_ml.ml.evaluation import Histogram, Metrics, constant_score_metrics, evaluate, threshold_stats
from spark_ml.tasks.promote import decide


def metrics(auc_roc: float, auc_pr: float = 0.3) -> Metrics:
    return Metrics(100, 0.2, auc_roc, auc_pr, 0.5, 0.2, 0.5, 0.5, 0.5, 0.5)


def test_metrics_match_hand_computed_values(spark: SparkSession) -> None:
    # y = 1, 0, 1, 0 with p = 0.8, 0.3, 0.6, 0.7: AUC-ROC = 3 of 4 pairs ordered = 0.75
    scored = spark.createDataFrame([(1, 0.8), (0, 0.3), (1, 0.6), (0, 0.7)], "y INT, p DOUBLE")
    m = evaluate(scored, "y", "p", threshold=0.5)
    assert m.rows == 4
    assert m.positive_rate == 0.5
    assert m.auc_roc == pytest.approx(0.75)
    log_loss = -(math.log(0.8) + math.log(0.7) + math.log(0.6) + math.log(0.3)) / 4
    assert m.log_loss == pytest.approx(log_loss)
    assert m.brier == pytest.approx((0.04 + 0.09 + 0.16 + 0.49) / 4)
    # at 0.5: predicted 1 for 0.8, 0.6, 0.7 -> tp 2, fp 1, fn 0
    assert (m.precision, m.recall) == (pytest.approx(2 / 3), 1.0)
    assert m.f1 == pytest.approx(0.8)


def test_a_constant_score_is_the_chance_baseline(spark: SparkSession) -> None:
    scored = spark.createDataFrame([(1, 0.25), (0, 0.25), (0, 0.25), (0, 0.25)], "y INT, p DOUBLE")
    m = evaluate(scored, "y", "p")
    assert m.auc_roc == pytest.approx(0.5)
    assert m.recall == 1.0  # the best threshold predicts everyone late
    assert m.precision == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("labels", "score", "threshold"),
    [
        ([1, 0, 0, 0, 1, 0, 0], 0.2857, None),  # the prior of a training window: every metric from counts
        ([1, 0, 0, 0, 1, 0, 0], 0.2857, 0.35),  # a threshold above the score predicts nobody late
        ([0, 0, 1], 0.004, None),  # a score in the first bin: no threshold predicts anyone late
        ([1, 1, 1, 1], 0.6, 0.01),  # a single class: the AUCs are undefined
    ],
)
def test_the_baseline_from_counts_equals_evaluating_the_constant_score(
    spark: SparkSession, labels: list[int], score: float, threshold: float | None
) -> None:
    """The prior-rate baseline is evaluated from the window's counts without a Spark pass: it must
    give what `evaluate` (Spark's evaluators and the binned metrics) gives on the constant score."""
    scored = spark.createDataFrame([(y, score) for y in labels], "y INT, p DOUBLE")
    expected = evaluate(scored, "y", "p", threshold=threshold, calibration_bins=5)
    got = constant_score_metrics(len(labels), sum(labels), score, threshold, calibration_bins=5)
    for name, value in expected.as_dict().items():
        other = got.as_dict()[name]
        assert (math.isnan(value) and math.isnan(other)) or other == pytest.approx(value, abs=1e-12), name
    assert got.curves.keys() == expected.curves.keys()
    for curve, values in expected.curves.items():
        assert got.curves[curve] == pytest.approx(values, abs=1e-12), curve


def test_the_baseline_from_counts_rejects_impossible_counts() -> None:
    with pytest.raises(SparkMLError, match=r"cannot evaluate a constant score on 3 rows with 4 positives"):
        constant_score_metrics(3, 4, 0.5)
    with pytest.raises(SparkMLError, match=r"calibration_bins must be between 2 and 100, got 1"):
        constant_score_metrics(3, 1, 0.5, calibration_bins=1)


def test_evaluating_an_empty_set_is_an_error(spark: SparkSession) -> None:
    with pytest.raises(SparkMLError, match=r"cannot evaluate an empty data set"):
        evaluate(spark.createDataFrame([], "y INT, p DOUBLE"), "y", "p")


def test_threshold_stats_on_a_histogram() -> None:
    positives = [0] * 101
    negatives = [0] * 101
    positives[90], negatives[90], negatives[10], positives[10] = 3, 1, 5, 1
    hist = Histogram(tuple(positives), tuple(negatives), tuple([0.0] * 101), 0.0, 0.0)
    stats = threshold_stats(hist, 0.5)
    assert (stats.precision, stats.recall) == (0.75, 0.75)


def test_psi_by_hand() -> None:
    assert psi({"a": 50, "b": 50}, {"a": 50, "b": 50}) == 0.0
    expected = (0.9 - 0.5) * math.log(0.9 / 0.5) + (0.1 - 0.5) * math.log(0.1 / 0.5)
    assert psi({"a": 50, "b": 50}, {"a": 90, "b": 10}) == pytest.approx(expected)
    assert math.isnan(psi({"a": 1}, {}))
    assert [status_of(v, 0.1, 0.25) for v in (0.05, 0.1, 0.3, math.nan)] == ["ok", "warn", "alert", "alert"]


def test_gate_promotes_the_first_model_that_passes_thresholds() -> None:
    decision = decide(metrics(0.70), None, PromoteSettings(min_auc_roc=0.6))
    assert decision.promoted
    assert decision.reasons[-1] == "no champion yet"


def test_gate_rejects_below_the_absolute_threshold_even_without_champion() -> None:
    decision = decide(metrics(0.55), None, PromoteSettings(min_auc_roc=0.6))
    assert not decision.promoted
    assert "auc_roc 0.5500 < minimum 0.6000" in decision.reasons


def test_gate_rejects_a_worse_challenger_and_tolerates_noise() -> None:
    gate = PromoteSettings(min_auc_roc=0.6, max_regression=0.005)
    worse = decide(metrics(0.66), metrics(0.70), gate)
    assert not worse.promoted
    assert "auc_roc 0.6600 vs champion 0.7000 (worse than tolerance 0.0050)" in worse.reasons
    assert decide(metrics(0.698), metrics(0.70), gate).promoted
    assert decide(metrics(0.75), metrics(0.70), gate).promoted
