"""Crashes in the middle of a write leave every target at its previous Delta version, and a rerun
completes; every task run twice leaves identical tables.

The failure is real: a Delta CHECK constraint that the new rows violate makes the write job fail
while it writes (the existing rows satisfy it), exactly as a row making any expression fail would.
The story is a new month arriving: December lands after January-November were processed.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_ml.config import Settings
from spark_ml.io.delta import Lakehouse
from spark_ml.io.landing import land_demo_data
from spark_ml.tasks import features, ingest, monitor, promote, score, silver, train
from tests.helpers import checksum
from tests.slice import SliceRun, slice_settings

pytestmark = [pytest.mark.integration]

ROWS = 200
KEY = ["year", "month", "day", "carrier", "flight", "origin", "sched_dep_time"]


@dataclass
class World:
    settings: Settings
    december: Path
    parked: Path


@pytest.fixture(scope="module")
def world(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> World:
    """January-November processed end to end; December's landing file parked aside."""
    root = tmp_path_factory.mktemp("crash")
    settings = slice_settings(root, "score.month=2013-11")
    land_demo_data(settings, ROWS)
    december = Path(settings.lakehouse.landing_dir) / "flights" / "2013-12.csv"
    parked = root / "parked-2013-12.csv"
    shutil.move(december, parked)
    for task in (ingest, silver, features, train, promote, score, monitor):
        task.run(spark, settings)
    return World(settings, december, parked)


def _constrained(spark: SparkSession, lake: Lakehouse, table: str, condition: str) -> tuple[int, tuple[int, str]]:
    spark.sql(f"ALTER TABLE {lake.ident(table)} ADD CONSTRAINT crash_test CHECK ({condition})")
    version = lake.latest_version(table)
    assert version is not None
    return version, checksum(lake.read(table, version))


def _crash_then_rerun(
    spark: SparkSession, settings: Settings, table: str, condition: str, run: Callable[[], object]
) -> Lakehouse:
    lake = Lakehouse(spark, settings)
    version, content = _constrained(spark, lake, table, condition)
    with pytest.raises(Exception, match=r"DELTA_VIOLATE_CONSTRAINT_WITH_VALUES|CHECK constraint crash_test"):
        run()
    assert lake.latest_version(table) == version  # nothing committed
    assert checksum(lake.read(table)) == content  # readable and unchanged
    spark.sql(f"ALTER TABLE {lake.ident(table)} DROP CONSTRAINT crash_test")
    run()
    return lake


def _no_duplicates(lake: Lakehouse, table: str, key: list[str]) -> tuple[int, int]:
    row = lake.read(table).agg(F.count(F.lit(1)).alias("n"), F.count_distinct(*key).alias("k")).collect()[0]
    return int(row["n"]), int(row["k"])


def test_ingest_crash_keeps_bronze_and_the_rerun_lands_december_once(spark: SparkSession, world: World) -> None:
    shutil.copy(world.parked, world.december)
    lake = _crash_then_rerun(
        spark, world.settings, "bronze.flights", "month <= 11", lambda: ingest.run(spark, world.settings)
    )
    assert _no_duplicates(lake, "bronze.flights", KEY) == (12 * ROWS, 12 * ROWS)
    ingested = lake.read("bronze.ingested_files").where(F.col("source_file") == "flights/2013-12.csv").count()
    assert ingested == 1  # the crashed run did not mark December as ingested


def test_silver_crash_keeps_silver_flights(spark: SparkSession, world: World) -> None:
    lake = _crash_then_rerun(
        spark, world.settings, "silver.flights", "month <= 11", lambda: silver.run(spark, world.settings)
    )
    assert _no_duplicates(lake, "silver.flights", KEY) == (12 * ROWS, 12 * ROWS)


def test_features_crash_keeps_the_feature_table(spark: SparkSession, world: World) -> None:
    lake = _crash_then_rerun(
        spark, world.settings, "gold.flight_features", "month <= 11", lambda: features.run(spark, world.settings)
    )
    months = {r["month"] for r in lake.read("gold.flight_features").select("month").distinct().collect()}
    assert months == set(range(1, 13))


def test_score_crash_keeps_the_predictions(spark: SparkSession, world: World) -> None:
    december = world.settings.model_copy(
        update={"score": world.settings.require_score().model_copy(update={"month": "2013-12"})}
    )
    lake = _crash_then_rerun(
        spark, december, "ml.flight_delay_predictions", "score_month <> '2013-12'", lambda: score.run(spark, december)
    )
    per_month = {
        r["score_month"]: r["count"]
        for r in lake.read("ml.flight_delay_predictions").groupBy("score_month").count().collect()
    }
    features_december = lake.read("gold.flight_features").where("month = 12").count()
    assert per_month["2013-12"] == features_december
    assert per_month["2013-11"] > 0  # the other month's partition was never touched


def test_monitor_crash_keeps_the_monitoring_table(spark: SparkSession, world: World) -> None:
    december = world.settings.model_copy(
        update={"score": world.settings.require_score().model_copy(update={"month": "2013-12"})}
    )
    lake = _crash_then_rerun(
        spark, december, "ml.monitoring", "score_month <> '2013-12'", lambda: monitor.run(spark, december)
    )
    months = {r["score_month"] for r in lake.read("ml.monitoring").select("score_month").distinct().collect()}
    assert months == {"2013-11", "2013-12"}


RUN_COLUMNS = ("run_id", "monitored_at", "ingest_run_id", "ingested_at", "scored_at", "model_run_id")


def _content(lake: Lakehouse, table: str) -> tuple[int, str]:
    frame = lake.read(table)
    return checksum(frame.drop(*[c for c in RUN_COLUMNS if c in frame.columns]))


@pytest.mark.parametrize(
    ("task", "tables"),
    [
        (ingest, ["bronze.flights", "bronze.flights_quarantine", "bronze.weather", "bronze.ingested_files"]),
        (silver, ["silver.flights", "silver.weather", "silver.planes", "silver.airports", "silver.airlines"]),
        (features, ["gold.flight_features"]),
        (score, ["ml.flight_delay_predictions"]),
        (monitor, ["ml.monitoring"]),
    ],
    ids=["ingest", "silver", "features", "score", "monitor"],
)
def test_running_a_task_twice_leaves_identical_tables(
    spark: SparkSession, slice_run: SliceRun, task: object, tables: list[str]
) -> None:
    lake = Lakehouse(spark, slice_run.settings)
    before = {t: _content(lake, t) for t in tables}
    task.run(spark, slice_run.settings)  # type: ignore[attr-defined]
    assert {t: _content(lake, t) for t in tables} == before
