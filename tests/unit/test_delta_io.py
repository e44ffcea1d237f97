"""Lakehouse: versioned reads, atomic writes and what they record, on real Delta tables."""

from __future__ import annotations

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_ml.config import Settings
from spark_ml.errors import SparkMLError, TableNotFoundError
from spark_ml.io.delta import Lakehouse, is_conflict

SCHEMA = "year INT, month INT, carrier STRING, n BIGINT"


def frame(spark: SparkSession, rows: list[tuple[object, ...]]) -> object:
    return spark.createDataFrame(rows, SCHEMA)


def test_write_creates_a_partitioned_table_with_retention(spark: SparkSession, tmp_settings: Settings) -> None:
    lake = Lakehouse(spark, tmp_settings, task="test")
    written = lake.write(frame(spark, [(2013, 1, "AA", 1), (2013, 2, None, 2)]), "silver.flights")
    assert (written.version, written.rows) == (0, 2)
    assert lake.partition_columns("silver.flights") == ["year", "month"]
    props = {r["key"]: r["value"] for r in spark.sql(f"SHOW TBLPROPERTIES {lake.ident('silver.flights')}").collect()}
    assert props["delta.logRetentionDuration"] == "interval 30 days"
    assert props["delta.deletedFileRetentionDuration"] == "interval 7 days"


def test_a_created_table_gets_the_properties_its_spec_names(spark: SparkSession, tmp_settings: Settings) -> None:
    # conf/base/tables.yml: gold.flight_features keeps file statistics on its first 9 columns
    lake = Lakehouse(spark, tmp_settings, task="test")
    lake.write(frame(spark, [(2013, 1, "AA", 1)]), "gold.flight_features")
    lake.write(frame(spark, [(2013, 1, "AA", 1)]), "silver.flights")
    props = {
        table: {r["key"]: r["value"] for r in spark.sql(f"SHOW TBLPROPERTIES {lake.ident(table)}").collect()}
        for table in ("gold.flight_features", "silver.flights")
    }
    assert props["gold.flight_features"]["delta.dataSkippingNumIndexedCols"] == "9"
    assert "delta.dataSkippingNumIndexedCols" not in props["silver.flights"]


def test_reads_are_pinned_and_recorded(spark: SparkSession, tmp_settings: Settings) -> None:
    lake = Lakehouse(spark, tmp_settings, task="test")
    lake.write(frame(spark, [(2013, 1, "AA", 1)]), "silver.flights")
    second = lake.write(frame(spark, [(2013, 2, "UA", 5)]), "silver.flights", mode="append")
    assert (second.version, second.rows, second.operation) == (1, 1, "WRITE")
    old = lake.read("silver.flights", version=0)
    latest = lake.read("silver.flights")
    assert_df_equality(old, frame(spark, [(2013, 1, "AA", 1)]), ignore_row_order=True)
    assert latest.count() == 2
    assert [(r.table, r.version) for r in lake.reads] == [("silver.flights", 0), ("silver.flights", 1)]


def test_replace_where_replaces_only_matching_rows(spark: SparkSession, tmp_settings: Settings) -> None:
    lake = Lakehouse(spark, tmp_settings, task="test")
    lake.write(frame(spark, [(2013, 1, "AA", 1), (2013, 2, "UA", 2), (2013, 2, "DL", 3)]), "silver.flights")
    w = lake.write(
        frame(spark, [(2013, 2, "B6", 9)]),
        "silver.flights",
        mode="overwrite",
        replace_where="year = 2013 AND month = 2",
    )
    assert w.rows == 1
    assert_df_equality(
        lake.read("silver.flights"),
        frame(spark, [(2013, 1, "AA", 1), (2013, 2, "B6", 9)]),
        ignore_row_order=True,
    )


def test_replace_where_rejects_rows_outside_the_predicate(spark: SparkSession, tmp_settings: Settings) -> None:
    lake = Lakehouse(spark, tmp_settings, task="test")
    lake.write(frame(spark, [(2013, 1, "AA", 1)]), "silver.flights")
    with pytest.raises(Exception, match=r"DELTA_REPLACE_WHERE_MISMATCH"):
        lake.write(frame(spark, [(2013, 3, "AA", 1)]), "silver.flights", mode="overwrite", replace_where="month = 2")
    assert lake.latest_version("silver.flights") == 0


def test_failed_write_leaves_the_previous_version(spark: SparkSession, tmp_settings: Settings) -> None:
    lake = Lakehouse(spark, tmp_settings, task="test")
    lake.write(frame(spark, [(2013, 1, "AA", 1), (2013, 1, "UA", 2)]), "silver.flights")
    poisoned = frame(spark, [(2013, 1, "AA", 1), (2013, 1, "ZZ", 0)]).withColumn(
        "n", F.when(F.col("carrier") == "ZZ", F.raise_error(F.lit("injected failure"))).otherwise(F.col("n"))
    )
    with pytest.raises(Exception, match=r"injected failure"):
        lake.write(
            poisoned.select("year", "month", "carrier", F.col("n").cast("bigint")), "silver.flights", mode="overwrite"
        )
    assert lake.latest_version("silver.flights") == 0
    assert_df_equality(
        lake.read("silver.flights"), frame(spark, [(2013, 1, "AA", 1), (2013, 1, "UA", 2)]), ignore_row_order=True
    )


def test_schema_is_enforced_on_append(spark: SparkSession, tmp_settings: Settings) -> None:
    lake = Lakehouse(spark, tmp_settings, task="test")
    lake.write(frame(spark, [(2013, 1, "AA", 1)]), "silver.flights")
    with pytest.raises(Exception, match=r"DELTA_METADATA_MISMATCH|schema mismatch"):
        lake.write(frame(spark, [(2013, 1, "AA", 1)]).withColumn("extra", F.lit(1)), "silver.flights", mode="append")


def test_missing_table_is_a_clear_error(spark: SparkSession, tmp_settings: Settings) -> None:
    lake = Lakehouse(spark, tmp_settings, task="test")
    assert lake.latest_version("gold.flight_features") is None
    with pytest.raises(
        TableNotFoundError, match=r"table gold.flight_features does not exist yet at .*gold/flight_features"
    ):
        lake.read("gold.flight_features")


def test_bad_write_arguments_are_rejected(spark: SparkSession, tmp_settings: Settings) -> None:
    lake = Lakehouse(spark, tmp_settings, task="test")
    df = frame(spark, [(2013, 1, "AA", 1)])
    with pytest.raises(SparkMLError, match=r"write mode must be 'append' or 'overwrite', got 'upsert'"):
        lake.write(df, "silver.flights", mode="upsert")
    with pytest.raises(SparkMLError, match=r"a row filter \(where / replace_where\) needs mode='overwrite'"):
        lake.write(df, "silver.flights", replace_where="month = 1")
    with pytest.raises(SparkMLError, match=r"give where= \(a Column\) or replace_where= \(SQL text\), not both"):
        lake.write(df, "silver.flights", mode="overwrite", where=F.col("month") == 1, replace_where="month = 1")


class _SparkError(Exception):
    """An error with a Spark error condition, as pyspark raises them (classic and Connect)."""

    def __init__(self, condition: str | None) -> None:
        super().__init__(f"[{condition}] the message text is never read")
        self.condition = condition

    def getCondition(self) -> str | None:
        return self.condition


def test_conflict_detection_uses_delta_error_conditions() -> None:
    assert is_conflict(_SparkError("DELTA_CONCURRENT_APPEND"))
    assert is_conflict(_SparkError("DELTA_CONCURRENT_DELETE_READ.WITH_PARTITION_HINT"))  # a sub-condition
    assert not is_conflict(_SparkError("DELTA_TABLE_ONLY_OPERATION"))
    # the text alone never decides: a plain error that mentions a conflict is not one
    assert not is_conflict(RuntimeError("[DELTA_CONCURRENT_APPEND] ConcurrentAppendException: Files were added"))
    wrapped = RuntimeError("write failed")
    wrapped.__cause__ = _SparkError("DELTA_CONCURRENT_APPEND")
    assert is_conflict(wrapped)


def test_a_write_reads_its_commit_from_the_log_file_as_the_history_has_it(
    spark: SparkSession, tmp_settings: Settings
) -> None:
    """Create, append, a filtered overwrite and a write that changes nothing: the version, rows and
    operation each write returns (read from its commit file) are those DESCRIBE HISTORY shows."""
    lake = Lakehouse(spark, tmp_settings, task="test")
    written = [
        lake.write(frame(spark, [(2013, 1, "AA", 1), (2013, 2, None, 2)]), "silver.flights"),
        lake.write(frame(spark, [(2013, 3, "UA", 5)]), "silver.flights", mode="append"),
        lake.write(
            frame(spark, [(2013, 2, "B6", 9), (2013, 2, "DL", 7), (2013, 2, None, None)]),
            "silver.flights",
            mode="overwrite",
            replace_where="month = 2",
        ),
        lake.write(frame(spark, []), "silver.flights", mode="append"),
    ]
    history = {int(c["version"]): c for c in lake.history("silver.flights")}
    seen = [
        (w.version, w.rows, w.operation, int(history[w.version]["operationMetrics"].get("numOutputRows", 0)))
        for w in written
    ]
    assert seen[:3] == [
        (0, 2, "CREATE TABLE AS SELECT", 2),
        (1, 1, "WRITE", 1),
        (2, 3, "WRITE", 3),
    ]
    assert [history[v]["operation"] for v in (0, 1, 2)] == [w.operation for w in written[:3]]
    # an empty append: no rows claimed, and the version is the table's latest (its own commit, or
    # the previous one when the runtime skips a commit of nothing)
    assert (written[3].version, written[3].rows) == (max(history), 0)
