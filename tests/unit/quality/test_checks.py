"""Table-level checks: one aggregated pass, counts per check, severities."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession

from spark_ml.config import load_settings
from spark_ml.errors import DataQualityError, SchemaMismatchError
from spark_ml.quality.checks import evaluate, raise_on_errors
from tests.helpers import CONF


def checks_from(yaml_list: str):  # type: ignore[no-untyped-def]
    settings = load_settings("local", CONF, [f"quality.silver.flights={yaml_list}"])
    return settings.quality["silver.flights"]


@pytest.fixture
def flights(spark: SparkSession):  # type: ignore[no-untyped-def]
    return spark.createDataFrame(
        [
            (1, "AA", "EWR", 100),
            (1, "AA", "EWR", 200),  # duplicate key
            (2, "ZZ", "JFK", 50),  # unknown carrier
            (3, None, "SFO", -1),  # null carrier, bad origin, out of range
            (4, "UA", None, None),
        ],
        "flight INT, carrier STRING, origin STRING, distance INT",
    )


def test_every_check_counts_its_failing_rows(spark: SparkSession, flights) -> None:  # type: ignore[no-untyped-def]
    checks = checks_from(
        "[{check: not_null, columns: [carrier, origin]},"
        " {check: unique, columns: [flight, carrier]},"
        " {check: accepted_values, column: origin, values: [EWR, JFK, LGA], severity: warn},"
        " {check: range, column: distance, min: 0},"
        " {check: min_rows, min: 10, severity: warn},"
        " {check: referential, column: carrier, ref_table: silver.airlines, ref_column: carrier}]"
    )
    airlines = spark.createDataFrame([("AA",), ("UA",)], "carrier STRING")
    results = evaluate(flights, "silver.flights", checks, {"silver.airlines": airlines})
    assert [(r.check, r.failed, r.total, r.status) for r in results] == [
        ("not_null(carrier, origin)", 2, 5, "fail"),
        ("unique(flight, carrier)", 1, 5, "fail"),
        ("accepted_values(origin)", 1, 5, "warn"),
        ("range(distance)", 1, 5, "fail"),
        ("min_rows(10)", 1, 5, "warn"),
        ("referential(carrier in silver.airlines.carrier)", 1, 5, "fail"),
    ]
    with pytest.raises(
        DataQualityError,
        match=r"silver.flights \(nothing written\): not_null\(carrier, origin\) failed for 2 of 5 rows fail",
    ):
        raise_on_errors(results)


def test_warnings_alone_do_not_raise(spark: SparkSession, flights) -> None:  # type: ignore[no-untyped-def]
    checks = checks_from("[{check: not_null, columns: [carrier], severity: warn}]")
    results = evaluate(flights, "silver.flights", checks)
    raise_on_errors(results)
    assert results[0].status == "warn"


def test_checks_on_an_empty_frame(spark: SparkSession) -> None:
    empty = spark.createDataFrame([], "carrier STRING")
    checks = checks_from("[{check: not_null, columns: [carrier]}, {check: min_rows, min: 1}]")
    results = evaluate(empty, "silver.flights", checks)
    assert [(r.failed, r.status) for r in results] == [(0, "pass"), (1, "fail")]


def test_missing_columns_and_references_are_named(spark: SparkSession, flights) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SchemaMismatchError, match=r"data-quality checks of silver.flights is missing column.*tailnum"):
        evaluate(flights, "silver.flights", checks_from("[{check: not_null, columns: [tailnum]}]"))
    ref = checks_from("[{check: referential, column: carrier, ref_table: silver.airlines, ref_column: carrier}]")
    with pytest.raises(DataQualityError, match=r"needs table silver.airlines"):
        evaluate(flights, "silver.flights", ref)
