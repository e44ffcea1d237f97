"""The features task runs any registered builder: reads its inputs through the lakehouse, builds,
checks and writes; a builder with month-by-month rebuilds (`by_date`) rebuilds some months only,
reading the history they need, with the same rows as a full build. A builder of the tests is
registered for each test (the registry is a dict in code)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pydantic import Field
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_ml.config import Model, Settings, load_settings
from spark_ml.errors import ConfigError, DataQualityError
from spark_ml.features import registry
from spark_ml.features.builder import FeatureBuilder, by_date, params_from
from spark_ml.io.delta import Lakehouse
from spark_ml.tasks import features
from spark_ml.transforms.rolling import with_mean_before
from tests.helpers import overrides_for

pytestmark = [pytest.mark.integration]  # runs the features task on the tables it writes

CONF = """
tables:
  silver.visits: {}
  gold.visits: {partition_by: [year, month]}
quality:
  gold.visits:
    - {check: not_null, columns: [visit_id]}
    - {check: min_rows, min: 1}
features:
  builder: visits
  output: gold.visits
  params: {days: 3}
"""


class VisitParams(Model):
    days: int = Field(default=3, ge=1)


def visit_features(visits: DataFrame, params: VisitParams) -> DataFrame:
    return visits.transform(
        with_mean_before, "spent_before", by=["person"], date="visit_date", value="spent", days=params.days
    ).select(
        "visit_id",
        "person",
        "visit_date",
        F.year("visit_date").alias("year"),
        F.month("visit_date").alias("month"),
        "spent_before",
    )


MONTHLY: FeatureBuilder[VisitParams] = FeatureBuilder(
    name="visits",
    description="a builder of the tests",
    parameters=params_from(VisitParams),
    inputs=lambda _: {"visits": "silver.visits"},
    build=lambda frames, p: visit_features(frames["visits"], p),
    monthly=by_date("visits", "visit_date", history_days=lambda p: p.days),
)


def d(month: int, day: int) -> dt.date:
    return dt.date(2024, month, day)


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    for folder in ("base", "local"):
        (tmp_path / "conf" / folder).mkdir(parents=True)
    (tmp_path / "conf" / "base" / "visits.yml").write_text(CONF)
    return tmp_path / "conf"


def settings(conf: Path, *extra: str) -> Settings:
    return load_settings("local", conf, overrides_for(conf.parent / "lakehouse", *extra))


@pytest.fixture
def visits(spark: SparkSession, conf: Path) -> None:
    rows = [
        (1, "ann", d(1, 30), 10.0),
        (2, "ann", d(2, 28), 20.0),
        (3, "ann", d(3, 1), 30.0),  # its history is February's: a March rebuild must read it
        (4, "bob", d(3, 2), 5.0),
        (5, "ann", d(3, 4), None),  # window 1..3 March: 30.0
        (6, "bob", d(1, 2), 7.0),
        (7, None, d(2, 3), 1.0),
    ]
    frame = spark.createDataFrame(rows, "visit_id INT, person STRING, visit_date DATE, spent DOUBLE")
    Lakehouse(spark, settings(conf)).write(frame, "silver.visits", mode="overwrite")


@pytest.mark.usefixtures("visits")
def test_months_rebuilt_on_their_own_equal_the_full_build(
    spark: SparkSession, conf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry.BUILDERS, "visits", MONTHLY)
    full = features.run(spark, settings(conf))
    assert full.metrics == {"months": ["2024-01", "2024-02", "2024-03"], "rows": 7}
    assert [r.table for r in full.reads] == ["silver.visits"]
    assert {q.check for q in full.quality} == {"not_null(visit_id)", "min_rows(1)"}
    built = Lakehouse(spark, settings(conf)).read("gold.visits")
    march = {r["visit_id"]: r["spent_before"] for r in built.where(F.col("month") == 3).collect()}
    assert march == {3: 20.0, 4: None, 5: 30.0}
    incremental = ("tables.gold.visits.location=gold/visits_incremental",)
    for month in ("2024-03", "2024-01"):
        features.run(spark, settings(conf, *incremental, f"features.months=[{month}]"))
    rebuilt = Lakehouse(spark, settings(conf, *incremental)).read("gold.visits")
    assert_df_equality(rebuilt, built.where(F.col("month").isin(1, 3)), ignore_row_order=True, ignore_nullable=True)
    with pytest.raises(
        ConfigError, match=r"features.months: no rows for 2025-01 in silver.visits \(available: 2024-01..2024-03\)"
    ):
        features.run(spark, settings(conf, *incremental, "features.months=[2025-01]"))


@pytest.mark.usefixtures("visits")
def test_a_builder_without_monthly_rebuilds_replaces_the_table_after_its_checks(
    spark: SparkSession, conf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = FeatureBuilder(
        name="visits",
        description="the same without monthly rebuilds",
        parameters=params_from(VisitParams),
        inputs=lambda _: {"visits": "silver.visits"},
        build=lambda frames, p: visit_features(frames["visits"], p).where(F.col("person").isNotNull()),
    )
    monkeypatch.setitem(registry.BUILDERS, "visits", whole)
    result = features.run(spark, settings(conf))
    assert result.metrics == {"months": [], "rows": 6}
    strict = settings(conf, "quality.gold.visits=[{check: min_rows, min: 100}]")
    with pytest.raises(DataQualityError, match="min_rows"):
        features.run(spark, strict)
    assert Lakehouse(spark, strict).read("gold.visits").count() == 6  # nothing written by the failed run


def test_a_use_case_has_silver_steps_from_configuration_with_its_own_builder(
    spark: SparkSession, conf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from spark_ml.features.builder import SilverBuilder
    from spark_ml.tasks import silver
    from spark_ml.transforms.frames import dedupe_latest

    def typed_visits(bronze: DataFrame, _: object) -> DataFrame:
        return dedupe_latest(
            bronze.where(F.col("visit_id").isNotNull()), ["visit_id"], [F.col("loaded").desc()]
        ).select(F.col("visit_id").cast("int").alias("visit_id"), "person", F.to_date("visit_date").alias("visit_date"))

    monkeypatch.setitem(registry.SILVER_BUILDERS, "raw_visits", SilverBuilder("raw_visits", "tests", typed_visits))
    steps = (
        "tables.bronze.visits={}",
        "silver.steps=[{source: bronze.visits, target: silver.visits, builder: raw_visits}]",
    )
    bronze = spark.createDataFrame(
        [
            ("1", "ann", "2024-01-30", 1),
            ("1", "ann", "2024-01-31", 2),
            ("2", None, "2024-02-01", 1),
            (None, "x", None, 1),
        ],
        "visit_id STRING, person STRING, visit_date STRING, loaded INT",
    )
    Lakehouse(spark, settings(conf, *steps)).write(bronze, "bronze.visits", mode="overwrite")
    result = silver.run(spark, settings(conf, *steps))
    assert result.metrics == {"tables": 1}
    assert ([r.table for r in result.reads], [w.table for w in result.writes]) == (["bronze.visits"], ["silver.visits"])
    expected = spark.createDataFrame(
        [(1, "ann", d(1, 31)), (2, None, d(2, 1))], "visit_id INT, person STRING, visit_date DATE"
    )
    written = Lakehouse(spark, settings(conf, *steps)).read("silver.visits")
    assert_df_equality(written, expected, ignore_row_order=True, ignore_nullable=True)
    unknown = "silver.steps=[{source: bronze.visits, target: silver.visits, builder: raw_visit}]"
    with pytest.raises(
        ConfigError, match=r"unknown silver builder 'raw_visit' at 'silver.steps.0.builder' .*did you mean 'raw_visits'"
    ):
        silver.run(spark, settings(conf, steps[0], unknown))
