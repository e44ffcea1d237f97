"""The whole pipeline on a slice of the real data: tables, counts, reruns, MLflow, report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_ml.io.delta import Lakehouse
from spark_ml.tasks import ingest
from tests.slice import ROWS_PER_MONTH, SliceRun


def lake(spark: SparkSession, run: SliceRun) -> Lakehouse:
    return Lakehouse(spark, run.settings)


def test_ingest_lands_every_line_of_twelve_monthly_files(spark: SparkSession, world: SliceRun) -> None:
    result = world.results["ingest"]
    tables = lake(spark, world)
    assert tables.read("bronze.flights").count() == 12 * ROWS_PER_MONTH
    assert tables.read("bronze.flights_quarantine").count() == 0
    files = tables.read("bronze.ingested_files").where(F.col("source") == "flights")
    assert sorted(r["source_file"] for r in files.collect()) == [f"flights/2013-{m:02d}.csv" for m in range(1, 13)]
    assert result.metrics["rows_read"] == result.metrics["rows_written"] + result.metrics["rows_quarantined"]
    assert "flights/2013-07.csv: read 600 = written 600 + quarantined 0" in result.notes


def test_ingest_again_skips_unchanged_files_and_writes_nothing(spark: SparkSession, world_copy: SliceRun) -> None:
    tables = lake(spark, world_copy)
    before = tables.latest_version("bronze.flights")
    again = ingest.run(spark, world_copy.settings)
    assert again.writes == []
    assert "flights: 12 file(s) already ingested unchanged, skipped" in again.notes
    assert tables.latest_version("bronze.flights") == before


def test_silver_flights_have_real_timestamps(spark: SparkSession, world: SliceRun) -> None:
    flights = lake(spark, world).read("silver.flights")
    row = flights.agg(
        F.count(F.lit(1)).alias("n"),
        # time_hour (UTC, from the data) is the hour of our scheduled departure, DST included
        F.sum(F.when(F.date_trunc("hour", "sched_dep_ts") != F.col("time_hour"), 1).otherwise(0)).alias("bad_hour"),
        F.sum(F.when(F.col("arr_ts") < F.col("dep_ts"), 1).otherwise(0)).alias("arrives_before_departing"),
        F.sum(F.when(F.col("cancelled") != F.col("dep_time").isNull(), 1).otherwise(0)).alias("bad_cancelled"),
        F.count_distinct("year", "month", "day", "carrier", "flight", "origin", "sched_dep_time").alias("keys"),
    ).collect()[0]
    assert row["n"] == 12 * ROWS_PER_MONTH
    assert (row["bad_hour"], row["arrives_before_departing"], row["bad_cancelled"]) == (0, 0, 0)
    assert row["keys"] == row["n"]


def test_feature_table_has_one_row_per_flight_with_known_arrival(spark: SparkSession, world: SliceRun) -> None:
    tables = lake(spark, world)
    known = tables.read("silver.flights").where(F.col("arr_delay").isNotNull())
    table = tables.read("gold.flight_features")
    assert table.count() == known.count()
    assert tables.partition_columns("gold.flight_features") == ["year", "month"]
    keys = ["year", "month", "day", "carrier", "flight", "origin", "sched_dep_time"]
    joined = table.join(known.select(*keys, F.col("arr_delay").alias("silver_arr_delay")), on=keys)
    minutes = F.col("silver_arr_delay")
    band = F.when(minutes <= 15, "on_time").when(minutes <= 60, "late_15_60").otherwise("late_over_60")
    wrong = joined.where(
        (F.col("is_delayed") != (minutes > 15).cast("int"))
        | (F.col("arr_delay") != minutes.cast("double"))
        | (F.col("delay_band") != band)
    ).count()
    assert (joined.count(), wrong) == (known.count(), 0)


def test_tables_open_with_another_delta_reader(world: SliceRun) -> None:
    from deltalake import DeltaTable

    settings = world.settings
    gold = DeltaTable(settings.table_location("gold.flight_features"))
    bronze = DeltaTable(settings.table_location("bronze.flights"))
    assert gold.metadata().partition_columns == ["year", "month"]
    assert sum(1 for _ in bronze.to_pyarrow_dataset().to_batches()) >= 1
    assert bronze.to_pyarrow_dataset().count_rows() == 12 * ROWS_PER_MONTH


def test_model_beats_the_prior_rate_baseline(world: SliceRun) -> None:
    metrics = world.results["train"].metrics
    assert metrics["baseline_test_auc_roc"] == pytest.approx(0.5)
    assert metrics["test_auc_roc"] > 0.6
    assert metrics["test_auc_pr"] > metrics["baseline_test_auc_pr"]
    assert metrics["test_log_loss"] < metrics["baseline_test_log_loss"]


def test_mlflow_holds_run_dataset_plots_and_registered_aliases(world: SliceRun) -> None:
    from mlflow.tracking import MlflowClient

    settings = world.settings
    metrics = world.results["train"].metrics
    client = MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.registry_uri)
    run = client.get_run(metrics["mlflow_run_id"])
    assert run.data.params["train.estimator"] == "logistic_regression"
    assert run.data.params["train.split.test.start"] == "2013-11-01"
    assert run.data.metrics["test_auc_roc"] == pytest.approx(metrics["test_auc_roc"])
    assert run.data.tags["spark_ml.table_version"] == str(metrics["table_version"])
    inputs = run.inputs.dataset_inputs
    assert len(inputs) == 1
    assert inputs[0].dataset.name == "gold.flight_features"
    source = json.loads(inputs[0].dataset.source)
    assert source["delta_table_version"] == str(metrics["table_version"])
    assert source["path"] == settings.table_location("gold.flight_features")
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation")}
    assert {
        "evaluation/roc.png",
        "evaluation/precision_recall.png",
        "evaluation/calibration.png",
        "evaluation/importances.png",
        "evaluation/config.yml",
    } <= artifacts
    model = client.get_registered_model(settings.registered_model_name)
    assert {k: str(v) for k, v in model.aliases.items()} == {
        "champion": metrics["version"],
        "challenger": metrics["version"],
    }


def test_first_model_is_promoted_and_the_decision_recorded(world: SliceRun) -> None:
    from mlflow.tracking import MlflowClient

    result = world.results["promote"]
    assert result.metrics["promoted"] is True
    assert "no champion yet" in result.metrics["reasons"]
    settings = world.settings
    client = MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.registry_uri)
    version = client.get_model_version(settings.registered_model_name, result.metrics["challenger_version"])
    assert version.description.startswith("promoted to champion: auc_roc")


def test_monitoring_reports_every_feature_and_the_probability(spark: SparkSession, world: SliceRun) -> None:
    """December against a January-September training window: the month is entirely new (an alert
    that says seasonality), the three New York airports keep their shares (no drift)."""
    settings = world.settings
    rows = {r["column_name"]: r for r in lake(spark, world).read("ml.monitoring").collect()}
    assert set(rows) == {*settings.require_train().features, "probability"}
    assert (rows["month"]["status"], rows["origin"]["status"]) == ("alert", "ok")
    assert rows["month"]["psi"] > 1.0
    assert rows["origin"]["psi"] < 0.1
    assert {r["overall_status"] for r in rows.values()} == {"alert"}
    assert {(r["reference_rows"], r["current_rows"]) for r in rows.values() if r["column_name"] != "probability"} == {
        (world.results["train"].metrics["train_rows"], world.results["score"].metrics["rows"])
    }
    result = world.results["monitor"]
    assert result.metrics["overall_status"] == "alert"
    assert 0.6 < result.metrics["realized_auc_roc"] < 0.8


def test_the_pipeline_summary_and_report_hold_what_a_reviewer_needs(spark: SparkSession, world_copy: SliceRun) -> None:
    """The end-of-pipeline facts and the HTML report (written under <root>/reports, logged to MLflow),
    built from the slice's task results."""
    from mlflow.tracking import MlflowClient

    from spark_ml.tasks import pipeline
    from spark_ml.tasks.base import TaskContext

    results = list(world_copy.results.values())
    facts = pipeline._facts(world_copy.settings, results)
    train = world_copy.results["train"].metrics
    assert facts["challenger test AUC-ROC"] == round(train["test_auc_roc"], 4)
    assert facts["challenger"] == "logistic_regression, best validation AUC-ROC of 1 candidate"
    assert facts["prior-rate baseline test AUC-ROC"] == 0.5
    assert facts["champion"].startswith("flight_delay version ")
    assert facts["drift status"] == world_copy.results["monitor"].metrics["overall_status"]
    assert facts["MLflow UI"].endswith(f"mlflow ui --backend-store-uri {world_copy.settings.tracking_uri}")

    ctx = TaskContext("pipeline", spark, world_copy.settings)
    where = pipeline._report(ctx, results, facts)
    page = Path(where).read_text(encoding="utf-8")
    assert where.startswith(f"{world_copy.settings.lakehouse.root}/reports/pipeline-")
    # it leads with the summary and the model, then drift, promotion, the steps; long tables folded
    order = ["<h2>Model metrics (binary)</h2>", "<h2>Drift: ", "<h2>Promotion</h2>", "<h2>Steps</h2>"]
    positions = [page.index(heading) for heading in order]
    assert positions == sorted(positions)
    writes = sum(len(r.writes) for r in results)
    assert f"<summary>Tables written: {writes}</summary>" in page
    assert re.search(r"<summary>Data quality: \d+ checks, \d+ not passing</summary>", page)
    assert '<img alt="psi"' in page
    assert "<h2>Candidates (chosen on validation AUC-ROC)</h2>" in page
    assert "<td>logistic_regression</td><td>logistic_regression</td><td>{&#39;maxIter&#39;: 30" in page
    assert "<h2>Drift: " in page
    assert page.count('src="data:image/png;base64,') >= 3  # ROC, precision-recall, calibration
    assert all(f"<td>{task}</td>" in page for task in world_copy.results)
    client = MlflowClient(tracking_uri=world_copy.settings.tracking_uri)
    experiment = client.get_experiment_by_name(world_copy.settings.mlflow.experiment)
    logged = client.search_runs([experiment.experiment_id], f"tags.`spark_ml.run_id` = '{ctx.run_id}'")
    assert len(logged) == 1
    assert f"report/{Path(where).name}" in {a.path for a in client.list_artifacts(logged[0].info.run_id, "report")}


@pytest.mark.slow
def test_monitor_fail_on_alert_exits_3_only_on_an_alert(spark: SparkSession, world_copy: SliceRun) -> None:
    """Through the CLI, on the shared session: PSI thresholds every feature reaches give an alert
    (exit 3 with --fail-on-alert); thresholds nothing reaches give exit 0."""
    from spark_ml import cli

    common = ["--set", f"lakehouse.root={world_copy.settings.lakehouse.root}", "--set", "logging.level=WARNING"]

    def statuses() -> set[str]:
        frame = lake(spark, world_copy).read("ml.monitoring").select("overall_status", "status").distinct()
        return {f"{r['overall_status']}/{r['status']}" for r in frame.collect()}

    alarmed = ["--set", "monitor.psi_warn=0", "--set", "monitor.psi_alert=0"]
    assert cli.main(["monitor", "--fail-on-alert", *common, *alarmed]) == 3
    assert statuses() == {"alert/alert"}
    calm = ["--set", "monitor.psi_warn=1000", "--set", "monitor.psi_alert=1000"]
    assert cli.main(["monitor", "--fail-on-alert", *common, *calm]) == 0
    assert statuses() == {"ok/ok"}
