"""Acceptance: `spark-ml new usecase demo` in a copy of the project gives a use case whose own
tests pass and whose pipeline (features, train, promote, score, monitor) runs on a small table.

Each step runs as a user would, in a process of its own with the copy first on PYTHONPATH: the
copy's registry names the new builder, which this process's spark_ml does not know. The input
table is written with this run's Spark session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_ml.config import load_settings
from spark_ml.io.delta import Lakehouse
from tests.helpers import REPO, overrides_for

pytestmark = [pytest.mark.system, pytest.mark.slow]

# What the generated tests need of tests/: the package, the shared fixtures and their helpers.
TEST_SUPPORT = ("__init__.py", "conftest.py", "helpers.py", "slice.py", "worlds.py", "tiers.py")


def copy_project(target: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "spark_ml", target / "spark_ml", symlinks=True, ignore=ignore)  # spark_ml/conf -> ../conf
    shutil.copytree(REPO / "conf", target / "conf", ignore=ignore)
    (target / "tests" / "unit").mkdir(parents=True)
    for name in TEST_SUPPORT:
        shutil.copy(REPO / "tests" / name, target / "tests" / name)
    shutil.copy(REPO / "tests" / "unit" / "__init__.py", target / "tests" / "unit" / "__init__.py")
    for name in ("pyproject.toml", "setup.cfg"):
        shutil.copy(REPO / name, target / name)
    return target


def events(spark: SparkSession) -> DataFrame:
    """732 events of 2024, two a day, of 25 entities; the outcome follows the amount (with 1 in 10
    flipped). A missing amount every 50 days, one outcome not known yet (16 December)."""
    rows = (
        spark.range(366)
        .crossJoin(spark.range(2).withColumnRenamed("id", "n"))
        .select(F.col("id").cast("int").alias("i"), F.col("n").cast("int").alias("n"))
    )
    u = F.abs(F.xxhash64("i", "n")) % 1000 / 1000.0
    flip = F.abs(F.xxhash64("n", "i")) % 10 == 0
    outcome = F.when(flip, u <= 0.55).otherwise(u > 0.55).cast("int")
    return rows.select(
        F.format_string("ev-%03d-%d", "i", "n").alias("event_id"),
        F.format_string("c%02d", (F.col("i") * 7 + F.col("n") * 13) % 25).alias("entity_id"),
        F.date_add(F.lit("2024-01-01").cast("date"), F.col("i")).alias("event_date"),
        F.when(F.col("i") % 50 == 7, F.lit(None)).otherwise(F.round(u * 100, 2)).alias("amount"),
        F.element_at(F.array(F.lit("web"), F.lit("store"), F.lit("app")), F.col("i") % 3 + 1).alias("channel"),
        F.when((F.col("i") == 350) & (F.col("n") == 0), F.lit(None)).otherwise(outcome).alias("outcome"),
    )


def run(command: list[str], project: Path, timeout: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(project), "PYSPARK_PYTHON": sys.executable}
    return subprocess.run(
        [sys.executable, *command], cwd=project, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_a_scaffolded_use_case_passes_its_tests_and_runs_its_pipeline(spark: SparkSession, tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")

    new = run(["-m", "spark_ml.cli", "new", "usecase", "demo"], project, timeout=60)
    assert new.returncode == 0, new.stderr
    assert "conf_demo/base/features.yml" in new.stdout
    assert (
        "from spark_ml.features import demo  # isort: skip" in (project / "spark_ml/features/registry.py").read_text()
    )

    pytest_args = ["-q", "-p", "no:randomly", "-p", "no:cacheprovider", f"--basetemp={tmp_path / 'pytest'}"]
    tests = run(["-m", "pytest", *pytest_args, "tests/unit/features/test_demo.py"], project, timeout=300)
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-3000:]
    assert "5 passed" in tests.stdout

    root = tmp_path / "lakehouse"
    settings = load_settings("local", project / "conf_demo", overrides_for(root))
    tables = Lakehouse(spark, settings)
    tables.write(events(spark), "bronze.demo_events", mode="overwrite")

    pipeline = run(
        ["-m", "spark_ml.cli", "pipeline", "--conf-dir", str(project / "conf_demo"), "--set", f"lakehouse.root={root}"],
        project,
        timeout=600,
    )
    assert pipeline.returncode == 0, pipeline.stdout[-3000:] + pipeline.stderr[-3000:]
    assert "champion: demo version 1" in pipeline.stdout
    assert tables.read("gold.demo_features").count() == 731  # every event with a known outcome
    predictions = tables.read("ml.demo_predictions")
    assert predictions.count() == 61  # December's 62 events but the one without an outcome
    assert {r["score_month"] for r in predictions.select("score_month").distinct().collect()} == {"2024-12"}
    monitored = {r["column_name"] for r in tables.read("ml.demo_monitoring").select("column_name").collect()}
    assert monitored == {
        "amount",
        "day_of_week",
        "prior_events",
        "prior_amount_mean",
        "prior_outcome_rate",
        "channel",
        "probability",
    }
