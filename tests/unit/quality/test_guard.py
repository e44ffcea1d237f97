"""Checks inside the write's own pass: when every check of a table is an error without a threshold,
the first failing row fails the write (nothing committed), and the failures are then counted."""

from __future__ import annotations

from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_ml.config import Settings, load_settings
from spark_ml.errors import DataQualityError
from spark_ml.io.delta import Lakehouse
from spark_ml.quality.checks import GUARD_FAILED, evaluate, guardable, guarded, has_rows
from spark_ml.tasks.base import TaskContext
from tests.helpers import CONF, overrides_for

SCHEMA = "id STRING, day INT, amount DOUBLE"
GOOD = [("a", 1, 10.0), ("b", 1, None), ("a", 2, 0.0), ("c", 3, 1e9)]
ERRORS = (
    "[{check: not_null, columns: [id]}, {check: unique, columns: [id, day]},"
    " {check: range, column: amount, min: 0}, {check: min_rows, min: 2}]"
)


def settings(root: Path, checks: str, table: str = "{}") -> Settings:
    return load_settings(
        "local", CONF, overrides_for(root, f"tables.silver.events={table}", f"quality.silver.events={checks}")
    )


def test_only_error_checks_without_a_threshold_are_guarded(tmp_path: Path) -> None:
    quality = settings(tmp_path, ERRORS).quality["silver.events"]
    assert guardable(quality)
    for other in (
        "[{check: not_null, columns: [id], severity: warn}]",
        "[{check: not_null, columns: [id], severity: quarantine}]",
        "[{check: not_null, columns: [id], max_count: 1}]",
        "[{check: range, column: amount, min: 0, max_fraction: 0.1}]",
    ):
        assert not guardable(settings(tmp_path, other).quality["silver.events"]), other
    assert not guardable(())


def test_a_guarded_frame_has_the_rows_and_columns_of_its_input(spark: SparkSession, tmp_path: Path) -> None:
    checks = settings(tmp_path, ERRORS).quality["silver.events"]
    frame = spark.createDataFrame(GOOD, SCHEMA)
    assert_df_equality(guarded(frame, "silver.events", checks), frame, ignore_row_order=True, ignore_nullable=True)


@pytest.mark.parametrize(
    "bad_row",
    [(None, 4, 1.0), ("a", 1, 5.0), ("d", 4, -0.5)],
    ids=["null id", "duplicate key", "out of range"],
)
def test_one_failing_row_fails_the_action(spark: SparkSession, tmp_path: Path, bad_row: tuple) -> None:
    checks = settings(tmp_path, ERRORS).quality["silver.events"]
    frame = spark.createDataFrame([*GOOD, bad_row], SCHEMA)
    with pytest.raises(Exception, match=f"{GUARD_FAILED}: silver.events"):
        guarded(frame, "silver.events", checks).write.format("noop").mode("overwrite").save()


def test_rows_the_input_filters_out_are_never_checked(spark: SparkSession, tmp_path: Path) -> None:
    # the guard must not be evaluated below the input's own filter (a null id never reaches it)
    checks = settings(tmp_path, "[{check: not_null, columns: [id]}]").quality["silver.events"]
    frame = spark.createDataFrame([*GOOD, (None, 9, 1.0)], SCHEMA).where(F.col("day") < 9)
    assert guarded(frame, "silver.events", checks).count() == 4


def test_a_guarded_write_records_what_the_two_pass_check_records_and_a_failing_one_commits_nothing(
    spark: SparkSession, tmp_path: Path
) -> None:
    cfg = settings(tmp_path, ERRORS)
    lake = Lakehouse(spark, cfg)
    frame = spark.createDataFrame(GOOD, SCHEMA)
    ctx = TaskContext("silver", spark, cfg)
    written = ctx.checked_write(frame, "silver.events")
    assert written.rows == 4
    assert_df_equality(lake.read("silver.events"), frame, ignore_row_order=True, ignore_nullable=True)
    assert ctx.quality == evaluate(frame, "silver.events", cfg.quality["silver.events"])
    assert [(r.check, r.failed, r.total, r.status) for r in ctx.quality][-1] == ("min_rows(2)", 0, 4, "pass")
    failing = {
        "row checks": (
            [*GOOD, ("a", 1, -1.0), (None, 5, 2.0)],
            r"not_null\(id\) failed for 1 of 6 rows fail; unique\(id, day\) failed for 1 of 6 rows fail; "
            r"range\(amount\) failed for 1 of 6 rows fail$",
        ),
        "min_rows": ([GOOD[0]], r"min_rows\(2\) failed for 1 rows \(minimum 2\)$"),
    }
    for case, (rows, message) in failing.items():
        failed = TaskContext("silver", spark, cfg)
        with pytest.raises(DataQualityError, match=rf"silver\.events \(nothing written\): {message}"):
            failed.checked_write(spark.createDataFrame(rows, SCHEMA), "silver.events")
        assert lake.latest_version("silver.events") == written.version, case
        assert [r.status for r in failed.quality].count("fail") == message.count("failed for"), case
    assert_df_equality(lake.read("silver.events"), frame, ignore_row_order=True, ignore_nullable=True)


@pytest.mark.parametrize("values", [(), [(1,), (2,), (3,)]], ids=["hashed", "values-known"])
@pytest.mark.parametrize(
    "checks",
    [
        "[{check: not_null, columns: [id]}, {check: min_rows, min: 2}]",
        "[{check: not_null, columns: [id], severity: warn}]",
    ],
    ids=["guarded", "two-pass"],
)
def test_files_by_writes_one_file_per_value_on_both_paths(
    spark: SparkSession, tmp_path: Path, checks: str, values: list[tuple[int]]
) -> None:
    cfg = settings(tmp_path, checks, table="{partition_by: [day]}")
    frame = spark.createDataFrame(GOOD * 3, SCHEMA).withColumn("id", F.concat("id", F.monotonically_increasing_id()))
    written = TaskContext("silver", spark, cfg).checked_write(
        frame.repartition(4), "silver.events", files_by=("day",), file_values=values
    )
    table = Lakehouse(spark, cfg).read("silver.events")
    assert written.rows == 12
    assert_df_equality(table, frame, ignore_row_order=True, ignore_nullable=True, ignore_column_order=True)
    files = table.select(F.input_file_name().alias("file"), "day").distinct()
    assert sorted(r["day"] for r in files.collect()) == [1, 2, 3]


def test_has_rows_counts_at_least_n_rows_through_left_joins(spark: SparkSession) -> None:
    left = spark.createDataFrame([("a", 1), ("b", None), ("c", 2)], "id STRING, day INT")
    right = spark.createDataFrame([(1, "x"), (1, "y")], "day INT, tag STRING")  # day 1 matches twice
    joined = left.join(right, on="day", how="left")
    assert [has_rows(joined, n) for n in (0, 1, 4, 5)] == [True, True, True, False]
    empty = joined.where(F.col("id") == "none")
    assert [has_rows(empty, n) for n in (0, 1, 2)] == [True, False, False]


def test_a_write_of_no_rows_fails_its_min_rows_of_one_and_commits_nothing(spark: SparkSession, tmp_path: Path) -> None:
    cfg = settings(tmp_path, "[{check: not_null, columns: [id]}, {check: min_rows, min: 1}]")
    first = TaskContext("silver", spark, cfg).checked_write(spark.createDataFrame(GOOD, SCHEMA), "silver.events")
    none = spark.createDataFrame(GOOD, SCHEMA).where(F.col("day") > 9)
    with pytest.raises(DataQualityError, match=r"silver\.events \(nothing written\): min_rows\(1\) failed for 0 rows"):
        TaskContext("silver", spark, cfg).checked_write(none, "silver.events")
    assert Lakehouse(spark, cfg).latest_version("silver.events") == first.version
