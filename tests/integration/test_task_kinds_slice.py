"""The two other configurations of the shipped data on the slice: `conf_delay_minutes`
(regression) and `conf_delay_band` (multiclass) run train, promote, score and monitor on a copy
of the data world's feature table, each beating its baseline on the test window."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_ml.config import Settings
from spark_ml.io import registry
from spark_ml.io.delta import Lakehouse
from spark_ml.tasks import pipeline
from spark_ml.tasks.base import TaskResult
from tests.helpers import REPO
from tests.slice import SliceRun
from tests.worlds import copy_lakehouse, settings_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@dataclass
class Ran:
    settings: Settings
    result: TaskResult
    metrics: dict[str, float]  # the champion's training run in MLflow


def _run(spark: SparkSession, world: SliceRun, root: Path, conf: str) -> Ran:
    """`spark-ml pipeline --conf-dir CONF` (train, promote, score, monitor, the report) on a copy."""
    from mlflow import MlflowClient

    copy_lakehouse(Path(world.settings.lakehouse.root), root)
    settings = settings_for(root, conf_dir=REPO / conf)
    result = pipeline.run(spark, settings)
    champion = registry.version_by_alias(settings, "champion")
    assert champion is not None
    client = MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.registry_uri)
    return Ran(settings, result, dict(client.get_run(champion.run_id).data.metrics))


@pytest.fixture(scope="module")
def minutes(spark: SparkSession, world: SliceRun, tmp_path_factory: pytest.TempPathFactory) -> Ran:
    return _run(spark, world, tmp_path_factory.mktemp("minutes") / "root", "conf_delay_minutes")


@pytest.fixture(scope="module")
def band(spark: SparkSession, world: SliceRun, tmp_path_factory: pytest.TempPathFactory) -> Ran:
    return _run(spark, world, tmp_path_factory.mktemp("band") / "root", "conf_delay_band")


def test_delay_minutes_beats_the_training_mean_and_is_monitored_by_rmse(spark: SparkSession, minutes: Ran) -> None:
    assert minutes.result.metrics["steps"] == ["train", "promote", "score", "monitor"]
    trained = minutes.metrics
    assert trained["test_rmse"] < trained["baseline_test_rmse"]
    assert trained["test_mae"] < trained["baseline_test_mae"]
    assert minutes.result.metrics["champion"] == "flight_delay_minutes version 1"
    lake = Lakehouse(spark, minutes.settings)
    predictions = lake.read("ml.delay_minutes_predictions")
    assert dict(predictions.dtypes)["prediction"] == "double"
    assert predictions.count() == lake.read("gold.flight_features").where(F.col("month") == 12).count()
    rows = lake.read("ml.delay_minutes_monitoring").select("column_name", "realized_metric", "realized_value").collect()
    assert {r["realized_metric"] for r in rows} == {"rmse"}
    realized = rows[0]["realized_value"]
    assert realized > 0
    assert not math.isnan(realized)
    assert "prediction" in {r["column_name"] for r in rows}  # the model's output drift


def test_delay_band_beats_the_class_prior_and_writes_each_probability(spark: SparkSession, band: Ran) -> None:
    trained = band.metrics
    assert trained["test_log_loss"] < trained["baseline_test_log_loss"]
    assert band.result.metrics["champion"] == "flight_delay_band version 1"
    lake = Lakehouse(spark, band.settings)
    predictions = lake.read("ml.delay_band_predictions")
    probabilities = ["probability_late_15_60", "probability_late_over_60", "probability_on_time"]
    assert [c for c in predictions.columns if c.startswith("probability_")] == probabilities
    total = sum((F.col(c) for c in probabilities), F.lit(0.0))
    worst = predictions.select(F.max(F.abs(total - 1.0))).first()
    assert worst is not None
    assert worst[0] < 1e-9
    assert {r[0] for r in predictions.select("prediction").distinct().collect()} <= set(probabilities_of(probabilities))
    rows = lake.read("ml.delay_band_monitoring").select("kind", "column_name", "realized_metric").collect()
    assert {r["realized_metric"] for r in rows} == {"log_loss"}
    assert ("categorical", "prediction") in {(r["kind"], r["column_name"]) for r in rows}


def probabilities_of(columns: list[str]) -> list[str]:
    return [c.removeprefix("probability_") for c in columns]
