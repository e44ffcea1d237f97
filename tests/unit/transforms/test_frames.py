"""one_task_per_value: each known value of the layout columns in a partition of its own."""

from __future__ import annotations

import re

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_ml.errors import SchemaMismatchError
from spark_ml.transforms.frames import one_task_per_value

# twelve months and a row whose month is null: 13 values of (year, month), three rows each
VALUES = [(2013, m) for m in range(1, 13)] + [(2014, None)]


def _months(spark: SparkSession) -> DataFrame:
    rows = [(y, m, f"{y}-{m}-{i}") for y, m in VALUES for i in range(3)]
    return spark.createDataFrame(rows, "year INT, month INT, id STRING").repartition(2)


def _values_per_partition(df: DataFrame) -> list[int]:
    parts = df.groupBy(F.spark_partition_id().alias("p")).agg(F.count_distinct(F.struct("year", "month")).alias("n"))
    return sorted(r["n"] for r in parts.collect())


def _last_exchange(df: DataFrame, capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    """The number of partitions and the kind of the last repartition in `df`'s physical plan (the
    plan, not the RDD: the same over Spark Connect)."""
    capsys.readouterr()
    df.explain()
    plan = capsys.readouterr().out
    found = re.search(r"Exchange (?:hashpartitioning\([^)]*, (\d+)\)|SinglePartition), (REPARTITION_BY_\w+)", plan)
    assert found, plan
    return found.group(1) or "1", found.group(2)


def test_each_known_value_gets_a_partition_of_its_own(spark: SparkSession, capsys: pytest.CaptureFixture[str]) -> None:
    df = _months(spark)
    laid_out = one_task_per_value(df, ["year", "month"], VALUES)
    assert _values_per_partition(laid_out) == [1] * len(VALUES)
    n, kind = _last_exchange(laid_out, capsys)
    assert int(n) >= len(VALUES)
    assert kind == "REPARTITION_BY_NUM"  # a number adaptive execution keeps
    assert_df_equality(laid_out, df, ignore_row_order=True)


def test_one_value_is_one_partition_and_repeated_values_count_once(
    spark: SparkSession, capsys: pytest.CaptureFixture[str]
) -> None:
    df = _months(spark).where(F.col("month") == 3)
    laid_out = one_task_per_value(df, ["year", "month"], [(2013, 3), [2013, 3]])
    assert _last_exchange(laid_out, capsys) == ("1", "REPARTITION_BY_NUM")
    assert_df_equality(laid_out, df, ignore_row_order=True)


def test_without_values_it_is_a_plain_repartition(spark: SparkSession, capsys: pytest.CaptureFixture[str]) -> None:
    assert _last_exchange(one_task_per_value(_months(spark), ["year"], []), capsys)[1] == "REPARTITION_BY_COL"


def test_a_layout_column_missing_is_named(spark: SparkSession) -> None:
    with pytest.raises(SchemaMismatchError, match=r"one_task_per_value input is missing column\(s\): day"):
        one_task_per_value(_months(spark), ["year", "day"], [(2013, 1)])
