"""The scaffold deploys: `spark-ml new usecase churn` in a copy of the bundle (databricks.yml and
the flights jobs) writes two jobs that pass every check the flights jobs pass (tests/bundle.py),
alone and merged with the bundle for each target, and a conf_churn/databricks layer their tasks
load. No Spark and no workspace."""

from __future__ import annotations

import shutil
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
from databricks.bundles.jobs import Job
from jsonschema.protocols import Validator

from spark_ml.cli.runner import settings_from
from spark_ml.config import load_settings
from spark_ml.scaffold import new_usecase
from spark_ml.tasks import TASKS
from tests.bundle import (
    FILE_PATH,
    BundleSchemaValidator,
    built_wheels,
    bundle_files,
    catalog_mismatches,
    check_alerts_queues_and_bounds,
    check_job_cluster_variant,
    check_only_idempotent_steps_retry,
    check_retrains_on_drift,
    check_runs_the_steps,
    check_serverless_variant,
    defaults,
    job_file,
    job_settings,
    load_json_schema,
    merged_bundle,
    parse,
    problems,
    read_yaml,
    resolve,
    resolved_for,
    resolved_wheel_paths,
    task_of,
    wheel_tasks,
)
from tests.helpers import REPO, declared_console_scripts

pytestmark = pytest.mark.runtime

JOB_FILES = {
    "resources/churn.job.yml": "churn_pipeline",
    "resources/churn_serverless.job.yml": "churn_pipeline_serverless",
}
RETRAIN_JOBS = {"churn_pipeline": "churn_retrain", "churn_pipeline_serverless": "churn_retrain_serverless"}
FLIGHTS_JOBS = ("flight_delay_pipeline", "flight_delay_pipeline_serverless")
FLIGHTS_FILE_JOBS = (*FLIGHTS_JOBS, "flight_delay_retrain", "flight_delay_retrain_serverless")
STEPS = ("silver", "features", "train", "promote", "score", "monitor")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkout with the real bundle and registry, and use case churn scaffolded into it."""
    root = tmp_path_factory.mktemp("bundle") / "project"
    registry = Path("spark_ml/features/registry.py")
    (root / registry).parent.mkdir(parents=True)
    shutil.copy(REPO / registry, root / registry)
    (root / "conf").mkdir()
    shutil.copy(REPO / "databricks.yml", root / "databricks.yml")
    # The flights jobs only: a use case committed to the repository may be called churn too.
    (root / "resources").mkdir()
    for name in FLIGHTS_JOBS:
        shutil.copy(REPO / "resources" / f"{name}.job.yml", root / "resources")
    new_usecase("churn", root)
    return root


@pytest.fixture(scope="module")
def bundle(project: Path) -> Path:
    return project / "databricks.yml"


@pytest.fixture(scope="module")
def config(bundle: Path) -> dict[str, Any]:
    return merged_bundle(bundle)


@pytest.fixture(scope="module")
def validator() -> Validator:
    return BundleSchemaValidator(load_json_schema())


def test_the_bundle_includes_both_jobs_next_to_the_flights_ones(bundle: Path, config: dict[str, Any]) -> None:
    included = {str(p.relative_to(bundle.parent)) for p in bundle_files(bundle)}
    assert set(JOB_FILES) <= included
    assert set(config["resources"]["jobs"]) == {*FLIGHTS_FILE_JOBS, *JOB_FILES.values(), *RETRAIN_JOBS.values()}
    for path, job_key in JOB_FILES.items():
        assert job_file(bundle, job_key) == bundle.parent / path
        assert job_file(bundle, RETRAIN_JOBS[job_key]) == bundle.parent / path  # each file holds both


@pytest.mark.parametrize("path", sorted(JOB_FILES))
def test_each_job_file_is_schema_valid(validator: Validator, project: Path, path: str) -> None:
    assert problems(validator, read_yaml(project / path)) == []


@pytest.mark.parametrize("target", ["dev", "staging", "prod"])
def test_the_bundle_with_them_is_valid_for_each_target(
    validator: Validator, config: dict[str, Any], target: str
) -> None:
    assert problems(validator, config) == []
    resolved = resolved_for(config, target)
    assert problems(validator, resolved) == []
    for job_key in [*JOB_FILES.values(), *RETRAIN_JOBS.values()]:
        job = resolved["resources"]["jobs"][job_key]
        assert Job.from_dict(job).as_dict() == job, job_key


@pytest.mark.parametrize("job_key", sorted(RETRAIN_JOBS))
def test_a_drifting_month_starts_the_use_cases_retrain_job(config: dict[str, Any], project: Path, job_key: str) -> None:
    jobs = config["resources"]["jobs"]
    check_retrains_on_drift(jobs, job_key, job_settings(jobs[job_key], config, project))
    assert jobs[job_key]["tasks"][-1]["run_job_task"]["job_id"] == f"${{resources.jobs.{RETRAIN_JOBS[job_key]}.id}}"
    for task in jobs[RETRAIN_JOBS[job_key]]["tasks"]:
        check_alerts_queues_and_bounds(jobs[RETRAIN_JOBS[job_key]])
        assert "--conf-dir" in task["python_wheel_task"]["parameters"]


@pytest.mark.parametrize("job_key", sorted([*JOB_FILES.values(), *RETRAIN_JOBS.values()]))
def test_each_job_loads_through_databricks_bundles(config: dict[str, Any], job_key: str) -> None:
    job = config["resources"]["jobs"][job_key]
    assert Job.from_dict(job).as_dict() == job


@pytest.mark.parametrize("job_key", sorted(JOB_FILES.values()))
def test_each_job_runs_the_scaffolded_steps_in_order(config: dict[str, Any], project: Path, job_key: str) -> None:
    steps = load_settings("databricks", project / "conf_churn").pipeline.steps
    assert steps == STEPS
    job = config["resources"]["jobs"][job_key]
    check_runs_the_steps(job, steps)
    assert job_settings(job, config, project).pipeline.steps == STEPS  # what its own tasks load


@pytest.mark.parametrize("job_key", sorted([*JOB_FILES.values(), *RETRAIN_JOBS.values()]))
def test_every_entry_point_is_a_console_script_of_its_registered_task(config: dict[str, Any], job_key: str) -> None:
    scripts = declared_console_scripts()
    for task in wheel_tasks(config["resources"]["jobs"][job_key]):
        wheel_task = task["python_wheel_task"]
        assert wheel_task["package_name"] == "spark_ml"
        assert wheel_task["entry_point"] in scripts, task["task_key"]
        assert task_of(scripts[wheel_task["entry_point"]]) == task["task_key"]
        assert task["task_key"] in TASKS


@pytest.mark.parametrize("job_key", sorted([*JOB_FILES.values(), *RETRAIN_JOBS.values()]))
def test_every_task_reads_conf_churn_on_databricks(
    config: dict[str, Any], project: Path, job_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each task's parameters name the use case's conf folder where the deploy uploads it and the
    databricks env; with `--var catalog=ml_ci` everything it touches is in that catalog."""
    monkeypatch.delenv("SPARK_ML_CATALOG", raising=False)
    for task in wheel_tasks(config["resources"]["jobs"][job_key]):
        raw = task["python_wheel_task"]["parameters"]
        assert "--conf-dir" in raw, task["task_key"]
        assert raw[raw.index("--conf-dir") + 1] == f"{FILE_PATH}/conf_churn", task["task_key"]
        args = parse(task["task_key"], resolve(raw, {**defaults(config), "catalog": "ml_ci"}, project))
        assert (args.env, args.conf_dir) == ("databricks", f"{project}/conf_churn")
        settings = settings_from(args)
        assert (settings.env, settings.project.name, settings.registered_model_name) == (
            "databricks",
            "churn",
            "ml_ci.ml.churn",
        )
        assert settings.lakehouse.root == "/Volumes/ml_ci/spark_ml/lakehouse/churn"
        assert catalog_mismatches(settings, "ml_ci") == [], task["task_key"]


def test_the_deploy_uploads_conf_churn(config: dict[str, Any], project: Path) -> None:
    """${workspace.file_path} holds the bundle root's files but what `sync.exclude` or .gitignore
    leaves out: neither may leave out conf_churn."""
    assert not config.get("sync", {}).get("exclude")
    ignored = [line.rstrip("/") for line in (REPO / ".gitignore").read_text().split() if not line.startswith("#")]
    parts = Path("conf_churn/databricks/databricks.yml").parts
    assert not [pattern for pattern in ignored if any(fnmatch(part, pattern) for part in parts)]
    assert (project / "conf_churn" / "databricks").is_dir()


def test_the_databricks_layer_loads_without_spark(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPARK_ML_CATALOG", raising=False)
    settings = load_settings("databricks", project / "conf_churn")
    assert settings.env == "databricks"
    assert settings.uses_catalog
    assert (settings.mlflow.tracking_uri, settings.mlflow.registry_uri, settings.mlflow.experiment) == (
        "databricks",
        "databricks-uc",
        "/Shared/spark-ml/churn",
    )
    assert settings.table_location("gold.churn_features") == "main.gold.churn_features"
    assert settings.registered_model_name == "main.ml.churn"
    assert settings.lakehouse.root == "/Volumes/main/spark_ml/lakehouse/churn"
    assert catalog_mismatches(settings, "main") == []
    monkeypatch.setenv("SPARK_ML_CATALOG", "other")
    assert load_settings("databricks", project / "conf_churn").registered_model_name == "other.ml.churn"


@pytest.mark.parametrize("job_key", sorted(JOB_FILES.values()))
def test_each_job_alerts_queues_is_bounded_and_retries_only_idempotent_steps(
    config: dict[str, Any], job_key: str
) -> None:
    job = config["resources"]["jobs"][job_key]
    check_alerts_queues_and_bounds(job)
    check_only_idempotent_steps_retry(job)
    assert {t["task_key"] for t in wheel_tasks(job) if t.get("max_retries")} == {"silver", "features", "score"}
    assert "schedule" not in job  # it runs when it is run (see the comment in the file)


def test_the_two_variants_run_on_a_job_cluster_and_on_serverless(config: dict[str, Any], bundle: Path) -> None:
    jobs = config["resources"]["jobs"]
    check_job_cluster_variant(jobs["churn_pipeline"], config["variables"])
    check_serverless_variant(jobs["churn_pipeline_serverless"], config["variables"])
    for job_key in JOB_FILES.values():
        assert set(resolved_wheel_paths(jobs[job_key], job_file(bundle, job_key))) == {built_wheels(config, bundle)}
    flights = jobs["flight_delay_pipeline"]
    assert jobs["churn_pipeline"]["job_clusters"] == flights["job_clusters"]  # the same single-node cluster
