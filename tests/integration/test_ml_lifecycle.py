"""The promotion gate on real data, and a second use case that needs only a conf folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_ml.config import load_settings
from spark_ml.errors import EXIT_REJECTED
from spark_ml.io.delta import Lakehouse
from spark_ml.tasks import pipeline, promote, train
from tests.helpers import REPO, overrides_for
from tests.slice import SliceRun, slice_settings

pytestmark = [pytest.mark.integration]  # runs train, promote and the pipeline


@pytest.mark.slow
def test_a_weak_challenger_is_rejected_and_the_champion_stays(spark: SparkSession, world_copy: SliceRun) -> None:
    """The copy's own registry: its champion is the world's logistic regression on every feature,
    promoted by the world's promote (tests/integration/test_pipeline_slice.py checks that promotion)."""
    from mlflow.tracking import MlflowClient

    strong = world_copy.settings
    champion = world_copy.results["promote"].metrics["challenger_version"]
    client = MlflowClient(tracking_uri=strong.tracking_uri, registry_uri=strong.registry_uri)
    before = {k: str(v) for k, v in client.get_registered_model(strong.registered_model_name).aliases.items()}
    assert before == {"champion": champion, "challenger": champion}
    weak = slice_settings(Path(strong.lakehouse.root), "train.numeric=[distance]", "train.categorical=[]")
    trained = train.run(spark, weak)
    assert int(trained.metrics["version"]) == int(champion) + 1
    second = promote.run(spark, weak, fail_on_reject=True)
    assert second.metrics["promoted"] is False
    assert second.exit_code == EXIT_REJECTED
    # one feature (distance) against the full set: far below the champion, and below the 0.6 minimum
    reasons = second.metrics["reasons"]
    assert re.fullmatch(r"auc_roc 0\.\d{4} < minimum 0\.6000", reasons[0]), reasons
    assert "worse than tolerance 0.0050" in reasons[2], reasons
    aliases = {k: str(v) for k, v in client.get_registered_model(strong.registered_model_name).aliases.items()}
    assert aliases == {"champion": champion, "challenger": trained.metrics["version"]}
    rejected = client.get_model_version(strong.registered_model_name, trained.metrics["version"])
    assert rejected.description.startswith("rejected: ")
    again = promote.run(spark, weak)  # rerunning the gate changes nothing
    assert again.metrics["promoted"] is False
    aliases = {k: str(v) for k, v in client.get_registered_model(strong.registered_model_name).aliases.items()}
    assert aliases["champion"] == champion


@pytest.mark.slow
def test_a_second_use_case_runs_from_configuration_alone(spark: SparkSession, tmp_path: Path) -> None:
    settings = load_settings("local", REPO / "tests" / "fixtures" / "usecase" / "conf", overrides_for(tmp_path))
    days = spark.range(0, 366).select(F.date_add(F.lit("2024-01-01").cast("date"), F.col("id").cast("int")).alias("d"))
    customers = (
        days.crossJoin(spark.range(0, 12).withColumnRenamed("id", "n"))
        .withColumn("customer_id", F.concat_ws("-", F.date_format("d", "yyyyMMdd"), F.col("n")))
        .withColumn("u", F.abs(F.xxhash64("customer_id")) % 1000 / 1000.0)
        .withColumn("v", F.abs(F.xxhash64(F.concat("customer_id", F.lit("v")))) % 1000 / 1000.0)
        .select(
            "customer_id",
            F.col("d").alias("signup_date"),
            (F.col("u") * 48).cast("int").alias("tenure_months"),
            F.when(F.col("n") == 3, F.lit(None)).otherwise(F.round(20 + F.col("v") * 80, 2)).alias("monthly_spend"),
            (F.col("n") % 5).alias("support_calls"),
            F.element_at(F.array(F.lit("basic"), F.lit("plus"), F.lit("pro")), (F.col("n") % 3 + 1).cast("int")).alias(
                "plan"
            ),
            F.when(F.col("n") == 7, F.lit(None))
            .otherwise(F.when(F.col("v") > 0.5, "north").otherwise("south"))
            .alias("region"),
            # churn: short tenure on the basic plan with many support calls
            ((F.col("u") < 0.35) & (F.col("n") % 3 == 0) | (F.col("n") % 5 == 4) & (F.col("v") < 0.6))
            .cast("int")
            .alias("churned"),
        )
    )
    Lakehouse(spark, settings).write(customers, "gold.customers", mode="overwrite")
    result = pipeline.run(spark, settings)
    assert list(result.metrics["steps"]) == ["train", "promote", "score", "monitor"]  # each once, in order
    assert result.metrics["champion"] == "churn version 1"
    assert result.metrics["challenger test AUC-ROC"] > 0.8
    predictions = Lakehouse(spark, settings).read("ml.churn_predictions")
    assert predictions.count() == 31 * 12
    assert {r["score_month"] for r in predictions.select("score_month").distinct().collect()} == {"2024-12"}
    monitored = Lakehouse(spark, settings).read("ml.monitoring")
    assert {r["column_name"] for r in monitored.select("column_name").collect()} == {
        "tenure_months",
        "monthly_spend",
        "support_calls",
        "plan",
        "region",
        "probability",
    }
