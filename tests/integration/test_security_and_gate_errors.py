"""Secrets never leak (logs, MLflow params and tags, config dumps), and the registry's failure modes
give clear errors."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_ml.cli.runner import log_file
from spark_ml.config import Settings
from spark_ml.errors import DataQualityError, ModelRegistryError
from spark_ml.io import models
from spark_ml.logs import configure_logging
from spark_ml.tasks import promote, score, train
from spark_ml.tasks.base import TaskContext
from tests.slice import SliceRun, slice_settings

pytestmark = [pytest.mark.integration]  # runs train, promote and score

SENTINEL = "sentinel-S3CR3T-7f2c9e"


def test_a_secret_never_reaches_logs_mlflow_or_dumps(
    spark: SparkSession, world_copy: SliceRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("SPARK_ML_TEST_TOKEN", SENTINEL)
    settings = slice_settings(
        Path(world_copy.settings.lakehouse.root),
        "secrets.api_token=${env:SPARK_ML_TEST_TOKEN}",
        f"mlflow.tracking_uri=sqlite:///{tmp_path}/secret.db",
        "logging.level=DEBUG",
    )
    assert settings.secret_values() == (SENTINEL,)
    configure_logging("DEBUG", settings.secret_values(), str(tmp_path / "run.log"))
    logging.getLogger("spark_ml.test").info("the token is %s", SENTINEL)  # a careless log line
    result = train.run(spark, settings)
    client = MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.registry_uri)
    run = client.get_run(result.metrics["mlflow_run_id"])
    assert SENTINEL not in str(run.data.params)
    assert SENTINEL not in str(run.data.tags)
    assert run.data.params["secrets.api_token"] == "***"
    config = Path(client.download_artifacts(run.info.run_id, "evaluation/config.yml", str(tmp_path)))
    assert "api_token: '***'" in config.read_text()
    assert SENTINEL not in config.read_text()
    assert SENTINEL not in str(settings.dump())
    text = (tmp_path / "run.log").read_text()
    assert "the token is ***" in text
    assert SENTINEL not in text
    assert log_file(settings, "train").startswith(f"{settings.lakehouse.root}/logs/train-")


def test_an_unreachable_registry_is_a_clear_error(
    spark: SparkSession, world_copy: SliceRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")
    settings = slice_settings(Path(world_copy.settings.lakehouse.root), "mlflow.tracking_uri=http://127.0.0.1:9")
    with pytest.raises(ModelRegistryError, match=r"^model registry http://127.0.0.1:9 failed: MlflowException: "):
        promote.run(spark, settings)


def test_a_deleted_champion_version_or_lost_model_files_are_clear_errors(
    spark: SparkSession, world_copy: SliceRun, tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient

    settings = world_copy.settings  # the copy's own registry, its champion promoted by the world's run
    version = world_copy.results["promote"].metrics["champion_version"]
    client = MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.registry_uri)
    # the champion's model files vanish from the artifact store
    files = Path(client.get_model_version_download_uri(settings.registered_model_name, version).removeprefix("file://"))
    assert (files / "MLmodel").is_file()
    assert files.is_relative_to(settings.lakehouse.root)  # the copy's files: the world stays whole
    moved = tmp_path / "moved"
    shutil.move(str(files), moved)
    # a fresh process has no loaded models (this session may keep one loaded from the copy's files)
    models.forget_loaded_models()
    with pytest.raises(
        ModelRegistryError, match=rf"could not load models:/flight_delay/{version} \('champion', version {version}\)"
    ):
        score.run(spark, settings)
    shutil.move(str(moved), files)
    # the champion version is deleted from the registry: its alias goes with it
    client.delete_model_version(settings.registered_model_name, version)
    with pytest.raises(
        ModelRegistryError, match=r"model flight_delay has no 'champion' alias yet: run train and promote first"
    ):
        score.run(spark, settings)


def test_a_failing_error_check_stops_the_write_and_is_recorded(spark: SparkSession, tmp_settings: Settings) -> None:
    """conf/base/quality.yml: silver.airlines carrier must be unique (severity error)."""
    ctx = TaskContext("silver", spark, tmp_settings)
    schema = "carrier STRING, name STRING"
    good = spark.createDataFrame([("AA", "American Airlines Inc."), ("UA", None)], schema)
    first = ctx.checked_write(good, "silver.airlines")
    duplicated = spark.createDataFrame([("AA", "American Airlines Inc."), ("AA", None), (None, "unknown")], schema)
    with pytest.raises(
        DataQualityError,
        match=r"^data quality errors in silver\.airlines \(nothing written\): unique\(carrier\) failed for 1 of 3 rows",
    ):
        ctx.checked_write(duplicated, "silver.airlines")
    assert ctx.lakehouse.latest_version("silver.airlines") == first.version
    assert_df_equality(ctx.lakehouse.read("silver.airlines"), good, ignore_row_order=True)
    recorded = (
        ctx.lakehouse.read(tmp_settings.ops.quality_table)
        .where(F.col("status") == "fail")
        .select("run_id", "table_name", "check_name", "severity", "failed_rows", "total_rows")
    )
    expected = spark.createDataFrame(
        [(ctx.run_id, "silver.airlines", "unique(carrier)", "error", 1, 3)],
        "run_id STRING, table_name STRING, check_name STRING, severity STRING, failed_rows BIGINT, total_rows BIGINT",
    )
    assert_df_equality(recorded, expected, ignore_nullable=True)
