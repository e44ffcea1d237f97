"""Crashes in the middle of a write leave every target at its previous Delta version, readable and
unchanged (read back by another Delta reader, not by Spark's time travel), and a rerun completes
with December landed exactly once; every task run twice leaves identical tables.

The failure is real: a Delta CHECK constraint that the new rows violate makes the write job fail
while it writes (the existing rows satisfy it). The story is a new month arriving: in a copy of the
world, December's rows are deleted from the layer the test crashes and from those below it (and
its landing file's fingerprint from the ingest log), which is the state before December went down
the layers. Scoring and monitoring crash while a copy of the world (December already scored)
scores November.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_ml.config import Settings
from spark_ml.io.delta import Lakehouse
from spark_ml.tasks import features, ingest, monitor, score, silver
from tests.helpers import checksum
from tests.slice import ROWS_PER_MONTH as ROWS
from tests.slice import SliceRun, slice_settings

KEY = ["year", "month", "day", "carrier", "flight", "origin", "sched_dep_time"]
DECEMBER = "flights/2013-12.csv"
# the layers December goes down, and how each table finds its December rows
LAYERS = [
    ("bronze.flights", "month = 12"),
    ("bronze.ingested_files", f"source_file = '{DECEMBER}'"),
    ("silver.flights", "month = 12"),
    ("gold.flight_features", "month = 12"),
]


def _before_december_reached(spark: SparkSession, world_copy: SliceRun, table: str) -> Settings:
    """The copy as it was before December reached `table`: its December rows deleted there and in
    every layer after it (one Delta DELETE each)."""
    lake = Lakehouse(spark, world_copy.settings)
    tables = [t for t, _ in LAYERS]
    for name, condition in LAYERS[tables.index(table) :]:
        spark.sql(f"DELETE FROM {lake.ident(name)} WHERE {condition}")
    return world_copy.settings


def _scoring(world_copy: SliceRun, month: str) -> Settings:
    """The world (December scored and monitored by its champion), set to score another month."""
    return slice_settings(Path(world_copy.settings.lakehouse.root), f"score.month={month}")


def _files_digest(lake: Lakehouse, table: str) -> tuple[int, int, str]:
    """Version, rows and a digest of the table's current rows, read by the `deltalake` reader
    (another Delta implementation, reading the files the log points at), not by Spark."""
    from deltalake import DeltaTable

    table_files = DeltaTable(lake.location(table))
    rows = table_files.to_pyarrow_table().to_pylist()
    lines = sorted(repr(sorted(r.items())) for r in rows)
    return table_files.version(), len(rows), hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _crash_then_rerun(
    spark: SparkSession, settings: Settings, table: str, condition: str, run: Callable[[], object]
) -> Lakehouse:
    lake = Lakehouse(spark, settings)
    spark.sql(f"ALTER TABLE {lake.ident(table)} ADD CONSTRAINT crash_test CHECK ({condition})")
    before = _files_digest(lake, table)
    with pytest.raises(Exception, match=r"DELTA_VIOLATE_CONSTRAINT_WITH_VALUES|CHECK constraint crash_test"):
        run()
    assert _files_digest(lake, table) == before  # same version, same rows: nothing was committed
    spark.sql(f"ALTER TABLE {lake.ident(table)} DROP CONSTRAINT crash_test")
    run()
    return lake


def _december(lake: Lakehouse, table: str, month: F.Column) -> tuple[int, int]:
    """December's rows and distinct keys in `table`."""
    row = lake.read(table).where(month).agg(F.count(F.lit(1)).alias("n"), F.count_distinct(*KEY).alias("k")).first()
    assert row is not None
    return int(row["n"]), int(row["k"])


def test_ingest_crash_keeps_bronze_and_the_rerun_lands_december_once(spark: SparkSession, world_copy: SliceRun) -> None:
    settings = _before_december_reached(spark, world_copy, "bronze.flights")
    lake = _crash_then_rerun(spark, settings, "bronze.flights", "month <= 11", lambda: ingest.run(spark, settings))
    assert _december(lake, "bronze.flights", F.col("month") == 12) == (ROWS, ROWS)
    assert lake.read("bronze.flights").count() == 12 * ROWS
    ingested = lake.read("bronze.ingested_files").where(F.col("source_file") == DECEMBER).count()
    assert ingested == 1  # the crashed run did not mark December as ingested


def test_silver_crash_keeps_silver_flights(spark: SparkSession, world_copy: SliceRun) -> None:
    _before_december_reached(spark, world_copy, "silver.flights")
    # the task runs only the step whose write crashes (every step's rerun: the identical-tables test)
    flights_step = "silver.steps=[{source: bronze.flights, target: silver.flights, builder: flights}]"
    settings = slice_settings(Path(world_copy.settings.lakehouse.root), flights_step)
    lake = _crash_then_rerun(spark, settings, "silver.flights", "month <= 11", lambda: silver.run(spark, settings))
    assert _december(lake, "silver.flights", F.col("month") == 12) == (ROWS, ROWS)
    assert lake.read("silver.flights").count() == 12 * ROWS


def test_features_crash_keeps_the_feature_table(spark: SparkSession, world_copy: SliceRun) -> None:
    settings = _before_december_reached(spark, world_copy, "gold.flight_features")
    lake = _crash_then_rerun(
        spark, settings, "gold.flight_features", "month <= 11", lambda: features.run(spark, settings)
    )
    known = lake.read("silver.flights").where((F.col("month") == 12) & F.col("arr_delay").isNotNull()).count()
    assert _december(lake, "gold.flight_features", F.col("month") == 12) == (known, known)
    assert known > 0.9 * ROWS


def test_score_crash_keeps_the_predictions(spark: SparkSession, world_copy: SliceRun) -> None:
    settings = _scoring(world_copy, "2013-11")
    lake = Lakehouse(spark, settings)
    december = checksum(lake.read("ml.flight_delay_predictions").where(F.col("score_month") == "2013-12"))
    scoring = lambda: score.run(spark, settings)  # noqa: E731
    _crash_then_rerun(spark, settings, "ml.flight_delay_predictions", "score_month <> '2013-11'", scoring)
    features_november = lake.read("gold.flight_features").where(F.col("month") == 11).count()
    scored = F.col("score_month") == "2013-11"
    assert _december(lake, "ml.flight_delay_predictions", scored) == (features_november, features_november)
    # the other month's partition was never touched
    assert checksum(lake.read("ml.flight_delay_predictions").where(F.col("score_month") == "2013-12")) == december


def test_monitor_crash_keeps_the_monitoring_table(spark: SparkSession, world_copy: SliceRun) -> None:
    settings = _scoring(world_copy, "2013-11")
    score.run(spark, settings)
    lake = Lakehouse(spark, settings)
    december = checksum(lake.read("ml.monitoring").where(F.col("score_month") == "2013-12"))
    monitoring = lambda: monitor.run(spark, settings)  # noqa: E731
    _crash_then_rerun(spark, settings, "ml.monitoring", "score_month <> '2013-11'", monitoring)
    november = lake.read("ml.monitoring").where(F.col("score_month") == "2013-11")
    columns = {r["column_name"] for r in november.select("column_name").collect()}
    assert columns == {*settings.require_train().features, "probability"}
    assert november.count() == len(columns)  # one row per column: no duplicates
    assert checksum(lake.read("ml.monitoring").where(F.col("score_month") == "2013-12")) == december


RUN_COLUMNS = ("run_id", "monitored_at", "ingest_run_id", "ingested_at", "scored_at", "model_run_id")


def _content(lake: Lakehouse, table: str) -> tuple[int, str]:
    frame = lake.read(table)
    return checksum(frame.drop(*[c for c in RUN_COLUMNS if c in frame.columns]))


@pytest.mark.parametrize(
    ("task", "tables"),
    [
        (ingest, ["bronze.flights", "bronze.flights_quarantine", "bronze.weather", "bronze.ingested_files"]),
        pytest.param(
            silver,
            ["silver.flights", "silver.weather", "silver.planes", "silver.airports", "silver.airlines"],
            marks=pytest.mark.slow,
        ),
        (features, ["gold.flight_features"]),
        (score, ["ml.flight_delay_predictions"]),
        (monitor, ["ml.monitoring"]),
    ],
    ids=["ingest", "silver", "features", "score", "monitor"],
)
def test_running_a_task_again_leaves_identical_tables(
    spark: SparkSession, world_copy: SliceRun, task: object, tables: list[str]
) -> None:
    lake = Lakehouse(spark, world_copy.settings)
    before = {t: _content(lake, t) for t in tables}
    task.run(spark, world_copy.settings)  # type: ignore[attr-defined]
    assert {t: _content(lake, t) for t in tables} == before
