"""one_task_per_value: each known value of the layout columns in a partition of its own."""

from __future__ import annotations

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


def test_each_known_value_gets_a_partition_of_its_own(spark: SparkSession) -> None:
    df = _months(spark)
    laid_out = one_task_per_value(df, ["year", "month"], VALUES)
    assert _values_per_partition(laid_out) == [1] * len(VALUES)
    assert laid_out.rdd.getNumPartitions() >= len(VALUES)
    assert_df_equality(laid_out, df, ignore_row_order=True)


def test_one_value_is_one_partition_and_repeated_values_count_once(spark: SparkSession) -> None:
    df = _months(spark).where(F.col("month") == 3)
    laid_out = one_task_per_value(df, ["year", "month"], [(2013, 3), [2013, 3]])
    assert laid_out.rdd.getNumPartitions() == 1
    assert_df_equality(laid_out, df, ignore_row_order=True)


def test_without_values_it_is_a_plain_repartition(spark: SparkSession) -> None:
    df = _months(spark)
    assert one_task_per_value(df, ["year"], []).rdd.getNumPartitions() == df.repartition("year").rdd.getNumPartitions()


def test_a_layout_column_missing_is_named(spark: SparkSession) -> None:
    with pytest.raises(SchemaMismatchError, match=r"one_task_per_value input is missing column\(s\): day"):
        one_task_per_value(_months(spark), ["year", "day"], [(2013, 1)])
