"""spark-ml doctor against the real local runtime: versions, a Delta round trip, an MLflow run."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession

from spark_ml.cli.doctor import run_checks
from spark_ml.config import Settings


@pytest.mark.system
def test_every_doctor_check_is_ok(spark: SparkSession, mlflow_settings: Settings) -> None:
    checks = run_checks(mlflow_settings)
    assert [c.name for c in checks] == ["python", "java", "pyspark", "delta", "mlflow", "delta", "mlflow"]
    failed = [c.line() for c in checks if not c.ok]
    assert failed == []
    delta = checks[5]
    assert "{'v0': 3, 'v1': 5, 'time_travel_v0': 3}" in delta.detail
