"""Regression and multiclass through the tasks on a tiny table: train (a null label left out, a
class absent from validation), promote (the gate in the metric's direction), score (the
predictions' columns per task) and the registry's tags."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_ml.config import Settings, load_settings
from spark_ml.io import models, registry
from spark_ml.io.delta import Lakehouse
from spark_ml.tasks import promote, score, train
from spark_ml.tasks.base import TaskResult
from tests.helpers import REPO, overrides_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # trains through the tasks (Delta, MLflow, the registry)

TINY = [
    "tables.gold.tiny={}",
    "tables.ml.tiny_predictions={}",
    "train.table=gold.tiny",
    "train.keys=[id]",
    "train.time_column=d",
    "train.numeric=[x]",
    "train.categorical=[c]",
    "score.table=gold.tiny",
    "score.month=2013-11",
    "score.output=ml.tiny_predictions",
]
# on the shipped regression and multiclass conf folders (the tiny table's columns instead)
REGRESSION = [
    "train.label=minutes",
    "train.candidates=[{estimator: linear_regression}, "
    "{estimator: random_forest, params: {numTrees: 10, maxDepth: 2}}]",
    "promote.max={rmse: 5.0}",
]
MULTICLASS = [
    "train.label=band",
    "train.candidates=[{estimator: logistic_regression, params: {maxIter: 50}}]",
]


def tiny_table(spark: SparkSession, settings: Settings) -> None:
    Lakehouse(spark, settings).write(tiny_frame(spark), "gold.tiny", mode="overwrite")


def tiny_frame(spark: SparkSession) -> DataFrame:
    """600 flights over 2013-01-01..2013-11-30: minutes = 3x + 1 with noise of +-0.5 (null on every
    50th row); band by x, and band "rare" only on two training days (so absent from validation)."""
    rows = []
    for i in range(600):
        day = dt.date(2013, 1, 1) + dt.timedelta(days=i * 333 // 600)
        x = float(i % 10)
        minutes = None if i % 50 == 0 else 3 * x + 1 + (0.5 if i % 2 else -0.5)
        band = "rare" if i in (7, 8) else ("low" if x < 4 else "mid" if x < 7 else "high")
        rows.append((i, day, x, ("a", "b", None)[i % 3], minutes, band))
    return spark.createDataFrame(rows, "id INT, d DATE, x DOUBLE, c STRING, minutes DOUBLE, band STRING")


@dataclass
class Run:
    settings: Settings
    train: TaskResult
    promote: TaskResult
    score: TaskResult


def run_all(spark: SparkSession, settings: Settings) -> Run:
    tiny_table(spark, settings)
    trained = train.run(spark, settings)
    promoted = promote.run(spark, settings)
    scored = score.run(spark, settings)
    return Run(settings, trained, promoted, scored)


@pytest.fixture(scope="module")
def regression(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("regression")
    return run_all(spark, load_settings("local", REPO / "conf_delay_minutes", overrides_for(root, *TINY, *REGRESSION)))


@pytest.fixture(scope="module")
def multiclass(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("multiclass")
    return run_all(spark, load_settings("local", REPO / "conf_delay_band", overrides_for(root, *TINY, *MULTICLASS)))


def test_regression_trains_without_the_null_labels_and_beats_the_mean(regression: Run) -> None:
    metrics = regression.train.metrics
    assert metrics["task"] == "regression"
    assert metrics["select_by"] == "rmse"
    assert metrics["unlabelled_rows"] == 12  # every 50th of 600
    assert "12 rows with a null minutes left out of training and evaluation" in regression.train.notes
    assert metrics["winner"] == "linear_regression"  # the label is linear in x
    assert metrics["test_rmse"] < 0.6 < 2.0 < metrics["baseline_test_rmse"]
    assert metrics["test_r2"] > 0.95
    lr, rf = metrics["candidates"]
    assert lr["validation_rmse"] < rf["validation_rmse"]  # lower is better: the linear model won on it


def test_regression_gate_and_predictions(spark: SparkSession, regression: Run) -> None:
    assert regression.promote.metrics["promoted"] is True
    assert any(r.startswith("rmse ") and "<= maximum 5.0000" in r for r in regression.promote.metrics["reasons"])
    version = registry.version_by_alias(regression.settings, "champion")
    assert version is not None
    assert version.tags.get("spark_ml.task") == "regression"
    assert "spark_ml.threshold" not in version.tags
    predictions = Lakehouse(spark, regression.settings).read("ml.tiny_predictions")
    assert predictions.columns[:4] == ["id", "d", "prediction", "model_name"]
    assert dict(predictions.dtypes)["prediction"] == "double"
    assert predictions.count() == regression.score.metrics["rows"] > 0


def test_a_model_version_is_loaded_once_per_session_and_its_alias_resolved_every_time(
    spark: SparkSession, regression: Run
) -> None:
    from mlflow.tracking import MlflowClient

    settings = regression.settings
    name = settings.registered_model_name
    client = MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.registry_uri)
    with models.loaded(settings, "champion") as (champion, version):
        pass
    with models.loaded(settings, "champion") as (again, same):
        assert again is champion  # the same version in the same session: not loaded again
        assert same.version == version.version
    copy = client.create_model_version(name, version.source, run_id=version.run_id)
    client.set_registered_model_alias(name, "cache_probe", copy.version)
    with models.loaded(settings, "cache_probe") as (other, resolved):
        assert (other is not champion, resolved.version) == (True, copy.version)
        staged = list(Path(settings.layout.model_staging_dir).iterdir())
        assert len(staged) >= 2  # each loaded version keeps its own staging folder
    client.set_registered_model_alias(name, "cache_probe", version.version)
    with models.loaded(settings, "cache_probe") as (moved, resolved):
        assert (moved is champion, resolved.version) == (True, version.version)
    assert models.forget_loaded_models() >= 2
    assert not [p for p in staged if p.exists()]  # forgotten models leave no staging folder
    rows = tiny_frame(spark)
    with models.loaded(settings, "champion") as (reloaded, _):
        assert reloaded is not champion
        assert_df_equality(
            reloaded.transform(rows).select("id", "prediction"),
            champion.transform(rows).select("id", "prediction"),
            ignore_row_order=True,
        )


def test_multiclass_keeps_a_class_absent_from_validation(multiclass: Run) -> None:
    metrics = multiclass.train.metrics
    assert (metrics["task"], metrics["select_by"]) == ("multiclass", "log_loss")
    assert metrics["test_log_loss"] < metrics["baseline_test_log_loss"]
    assert metrics["test_accuracy"] > metrics["baseline_test_accuracy"]
    version = registry.version_by_alias(multiclass.settings, "champion")
    assert version is not None
    assert version.tags["spark_ml.classes"] == '["high", "low", "mid", "rare"]'


def test_multiclass_predictions_name_the_class_and_each_probability(spark: SparkSession, multiclass: Run) -> None:
    predictions = Lakehouse(spark, multiclass.settings).read("ml.tiny_predictions")
    names = ["probability_high", "probability_low", "probability_mid", "probability_rare"]
    assert predictions.columns[:7] == ["id", "d", "prediction", *names]
    summary = predictions.select(
        F.max(F.abs(sum((F.col(n) for n in names), F.lit(0.0)) - 1.0)).alias("sum_error"),
        F.count_distinct("prediction").alias("classes"),
    ).first()
    assert summary is not None
    assert summary["sum_error"] < 1e-9
    labels = predictions.select("prediction").distinct()
    expected = spark.createDataFrame([("high",), ("low",), ("mid",)], "prediction STRING")
    assert_df_equality(labels, expected, ignore_row_order=True, ignore_nullable=True)
