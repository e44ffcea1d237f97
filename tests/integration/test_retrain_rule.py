"""The alert that retrains, on the slice: `spark-ml pipeline` with `monitor.retrain_on` trains and
promotes again after a month whose drift status calls for it, as the Databricks job's condition
task does with its retrain job, and leaves the registry alone after a clean month.

The drift status comes from the real December of the slice against its training window; the PSI
thresholds pick which status that month gets (thresholds of 0 make every column alert, thresholds
of 100 none), so both outcomes run on the same data."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession

from spark_ml.io import registry
from spark_ml.tasks import monitor, pipeline
from tests.slice import SliceRun, slice_settings

STEPS = "pipeline.steps=[monitor]"
ALERTING = ("monitor.psi_warn=0", "monitor.psi_alert=0")
CLEAN = ("monitor.psi_warn=100", "monitor.psi_alert=100")


def _versions(run: SliceRun) -> set[str]:
    from mlflow import MlflowClient

    settings = run.settings
    client = MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.registry_uri)
    return {v.version for v in client.search_model_versions(f"name = '{settings.registered_model_name}'")}


def _rerun(world_copy: SliceRun, *extra: str) -> SliceRun:
    root = world_copy.settings.lakehouse.root
    return SliceRun(slice_settings(root, STEPS, "pipeline.report=false", *extra), world_copy.results)


@pytest.mark.integration
@pytest.mark.slow
def test_an_alerting_month_trains_and_promotes_again(spark: SparkSession, world_copy: SliceRun) -> None:
    run = _rerun(world_copy, *ALERTING, "monitor.retrain_on=alert")
    before = _versions(run)
    champion = registry.version_by_alias(run.settings, "champion")
    assert champion is not None

    result = pipeline.run(spark, run.settings)

    assert list(result.metrics["steps"]) == ["monitor", "train", "promote"]
    assert "retrained after drift status alert (monitor.retrain_on=alert)" in result.notes
    new = _versions(run) - before
    assert len(new) == 1  # the retrain registered one challenger
    (challenger,) = new
    now = registry.version_by_alias(run.settings, "champion")
    assert now is not None
    # promote decided on the new version: champion now, or the old one kept by the gate
    assert now.version in {challenger, champion.version}


@pytest.mark.integration
@pytest.mark.parametrize(
    ("thresholds", "retrain_on"),
    [(CLEAN, "alert"), (ALERTING, "never")],
    ids=["clean-month", "alert-with-retrain-never"],
)
def test_no_retrain_without_a_status_that_asks_for_it(
    spark: SparkSession, world_copy: SliceRun, thresholds: tuple[str, ...], retrain_on: str
) -> None:
    run = _rerun(world_copy, *thresholds, f"monitor.retrain_on={retrain_on}")
    before = _versions(run)

    result = pipeline.run(spark, run.settings)

    assert list(result.metrics["steps"]) == ["monitor"]
    assert _versions(run) == before
    assert not any(note.startswith("retrained") for note in result.notes)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("thresholds", "retrain_on", "status", "retrain"),
    [(ALERTING, "alert", "alert", "true"), (ALERTING, "never", "alert", "false"), (CLEAN, "warn", "ok", "false")],
)
def test_monitor_publishes_its_status_and_the_retrain_decision(
    spark: SparkSession, world_copy: SliceRun, thresholds: tuple[str, ...], retrain_on: str, status: str, retrain: str
) -> None:
    run = _rerun(world_copy, *thresholds, f"monitor.retrain_on={retrain_on}")
    result = monitor.run(spark, run.settings)
    assert (result.metrics["overall_status"], result.metrics["retrain"]) == (status, retrain == "true")
    assert f"task values drift_status={status}, retrain={retrain} (not on Databricks: not published)" in result.notes
