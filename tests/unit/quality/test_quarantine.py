"""Quarantine and thresholds: a check can set failing rows aside in `<table>_quarantine` (in the
same pass, the table gets the rest) and can tolerate a number or a fraction of failing rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_ml.config import Settings, load_settings
from spark_ml.errors import ConfigError, DataQualityError
from spark_ml.io.delta import Lakehouse
from spark_ml.quality.checks import evaluate
from spark_ml.tasks.base import TaskContext
from tests.helpers import CONF, overrides_for

SCHEMA = "id STRING, amount DOUBLE, kind STRING"
ROWS = [
    ("a", 10.0, "x"),
    ("b", -5.0, "x"),  # fails the range check
    (None, 3.0, "y"),  # fails not_null
    (None, -1.0, None),  # fails both
    ("e", None, "y"),  # a null amount is not out of range
    ("f", 0.0, "x"),  # the range's bound itself
]


def settings(root: Path, checks: str) -> Settings:
    return load_settings(
        "local", CONF, overrides_for(root, "tables.silver.events={}", f"quality.silver.events={checks}")
    )


QUARANTINE = (
    "[{check: not_null, columns: [id], severity: quarantine}, "
    "{check: range, column: amount, min: 0, severity: quarantine, name: positive_amount}]"
)


def test_quarantined_rows_go_aside_with_the_checks_they_fail(spark: SparkSession, tmp_path: Path) -> None:
    cfg = settings(tmp_path, QUARANTINE)
    assert "silver.events_quarantine" in cfg.tables  # declared by the quarantine check itself
    ctx = TaskContext("silver", spark, cfg)
    written = ctx.checked_write(spark.createDataFrame(ROWS, SCHEMA), "silver.events")
    lake = Lakehouse(spark, cfg)
    kept = spark.createDataFrame([ROWS[0], ROWS[4], ROWS[5]], SCHEMA)
    assert_df_equality(lake.read("silver.events"), kept, ignore_row_order=True, ignore_nullable=True)
    aside = lake.read("silver.events_quarantine").select("id", "amount", "kind", "quarantine_checks")
    expected = spark.createDataFrame(
        [
            ("b", -5.0, "x", ["positive_amount"]),
            (None, 3.0, "y", ["not_null(id)"]),
            (None, -1.0, None, ["not_null(id)", "positive_amount"]),
        ],
        "id STRING, amount DOUBLE, kind STRING, quarantine_checks ARRAY<STRING>",
    )
    assert_df_equality(aside, expected, ignore_row_order=True, ignore_nullable=True)
    assert written.rows == 3  # rows in (6) = written (3) + quarantined (3)
    assert [(r.check, r.status, r.failed) for r in ctx.quality] == [
        ("not_null(id)", "quarantine", 2),
        ("positive_amount", "quarantine", 2),
    ]
    assert "quality silver.events: 3 rows quarantined to silver.events_quarantine" in ctx.notes


def test_writing_again_replaces_the_quarantined_rows(spark: SparkSession, tmp_path: Path) -> None:
    cfg = settings(tmp_path, QUARANTINE)
    for _ in range(2):
        TaskContext("silver", spark, cfg).checked_write(spark.createDataFrame(ROWS, SCHEMA), "silver.events")
    lake = Lakehouse(spark, cfg)
    assert (lake.read("silver.events").count(), lake.read("silver.events_quarantine").count()) == (3, 3)


def test_a_quarantine_beyond_its_threshold_fails_and_writes_nothing(spark: SparkSession, tmp_path: Path) -> None:
    cfg = settings(tmp_path, "[{check: not_null, columns: [id], severity: quarantine, max_fraction: 0.2}]")
    with pytest.raises(DataQualityError, match=r"not_null\(id\) failed for 2 of 6 rows fail \(1 allowed\)"):
        TaskContext("silver", spark, cfg).checked_write(spark.createDataFrame(ROWS, SCHEMA), "silver.events")
    lake = Lakehouse(spark, cfg)
    assert (lake.latest_version("silver.events"), lake.latest_version("silver.events_quarantine")) == (None, None)


@pytest.mark.parametrize(
    ("threshold", "status"),
    [
        ("max_count: 2", "pass"),  # exactly the tolerated number
        ("max_count: 1", "fail"),
        ("max_fraction: 0.34", "pass"),  # 2 of 6 = 0.333
        ("max_fraction: 0.3", "fail"),
        ("max_count: 0", "fail"),
    ],
)
def test_an_error_check_fails_only_above_its_threshold(spark: SparkSession, threshold: str, status: str) -> None:
    cfg = settings(Path("/tmp/unused"), f"[{{check: not_null, columns: [id], {threshold}}}]")
    (result,) = evaluate(spark.createDataFrame(ROWS, SCHEMA), "silver.events", cfg.quality["silver.events"])
    assert (result.failed, result.status) == (2, status)


def test_a_warning_with_a_threshold_warns_only_above_it(spark: SparkSession) -> None:
    check = "[{check: range, column: amount, min: 0, severity: warn, max_count: 2}]"
    (within,) = evaluate(
        spark.createDataFrame(ROWS, SCHEMA), "silver.events", settings(Path("/x"), check).quality["silver.events"]
    )
    more = [*ROWS, ("g", -3.0, "x")]
    (beyond,) = evaluate(
        spark.createDataFrame(more, SCHEMA), "silver.events", settings(Path("/x"), check).quality["silver.events"]
    )
    assert (within.status, beyond.status) == ("pass", "warn")
    assert beyond.details == "3 of 7 rows fail (2 allowed)"


@pytest.mark.parametrize(
    ("checks", "message"),
    [
        ("[{check: unique, columns: [id], severity: quarantine}]", "a unique check cannot quarantine rows"),
        ("[{check: min_rows, min: 5, max_count: 1}]", "min_rows judges the whole table"),
        (
            "[{check: not_null, columns: [id], max_count: 1, max_fraction: 0.1}]",
            "give max_count or max_fraction, not both",
        ),
        ("[{check: not_null, columns: [id], max_fraction: 1.5}]", r"'quality.silver.events.0.max_fraction'"),
        ("[{check: not_null, columns: [id], severity: quarantin}]", r"expected one of 'error', 'warn' or 'quarantine'"),
    ],
)
def test_bad_quarantine_and_threshold_settings_are_config_errors(checks: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        settings(Path("/x"), checks)


def test_the_ingest_quarantine_of_a_source_cannot_receive_quality_rows() -> None:
    with pytest.raises(ConfigError, match=r"quarantines rows to bronze.flights_quarantine, which is the ingest"):
        load_settings(
            "local", CONF, ["quality.bronze.flights=[{check: not_null, columns: [year], severity: quarantine}]"]
        )


def test_quarantined_rows_keep_their_partition_when_a_month_is_rewritten(spark: SparkSession, tmp_path: Path) -> None:
    """A filtered rewrite (one month) replaces that month's quarantined rows only."""
    cfg = load_settings(
        "local",
        CONF,
        overrides_for(
            tmp_path,
            "tables.silver.events={partition_by: [month]}",
            "quality.silver.events=[{check: range, column: amount, min: 0, severity: quarantine}]",
        ),
    )
    rows = spark.createDataFrame([(1, 5.0), (1, -1.0), (2, -2.0), (2, 7.0)], "month INT, amount DOUBLE")
    TaskContext("silver", spark, cfg).checked_write(rows, "silver.events")
    february = spark.createDataFrame([(2, -9.0), (2, 1.0)], "month INT, amount DOUBLE")
    TaskContext("silver", spark, cfg).checked_write(february, "silver.events", where=F.col("month") == 2)
    aside = Lakehouse(spark, cfg).read("silver.events_quarantine").select("month", "amount")
    expected = spark.createDataFrame([(1, -1.0), (2, -9.0)], "month INT, amount DOUBLE")
    assert_df_equality(aside, expected, ignore_row_order=True, ignore_nullable=True)
