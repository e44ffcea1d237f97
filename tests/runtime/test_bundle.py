"""The Databricks bundle (databricks.yml + resources/*.yml) without a workspace.

1. A JSON-schema validator for the official bundle schema in ../shared/databricks, proven first on that
   schema's own pass/fail cases. The schema's patterns use `\\p{L}`, which Python's `re` rejects, so the
   regex keywords run on the `regex` package; nothing in the schema is relaxed.
2. Every bundle file, and the merged bundle, validated against it.
3. Every job loaded through `databricks-bundles` (`Job.from_dict`, strict about unknown fields).
4. Cross-checks with the built wheel and the command line: entry points exist, package_name is the
   wheel's package, and every task's parameters parse and load the Databricks configuration.

The validator, the merge and the job checks live in tests/bundle.py, shared with
tests/runtime/test_scaffold_bundle.py (the jobs `spark-ml new usecase` writes).
"""

from __future__ import annotations

import copy
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import regex
from databricks.bundles.jobs import Job
from jsonschema.protocols import Validator

from spark_ml.cli.runner import settings_from
from spark_ml.errors import ConfigError
from tests.bundle import (
    SCHEMA_CASES,
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
    retrain_target,
    target_values,
    task_of,
    unassigned_variables,
    wheel_tasks,
)
from tests.helpers import REPO, declared_console_scripts

pytestmark = pytest.mark.runtime

BUNDLE = REPO / "databricks.yml"


@pytest.fixture(scope="module")
def validator() -> Validator:
    return BundleSchemaValidator(load_json_schema())


def _cases(kind: str) -> list[Path]:
    return sorted((SCHEMA_CASES / kind).glob("*.yml"))


def _schema_patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            yield node["pattern"]
        yield from (p for value in node.values() for p in _schema_patterns(value))
    elif isinstance(node, list):
        yield from (p for value in node for p in _schema_patterns(value))


def test_python_re_cannot_compile_the_schema_patterns() -> None:
    """Why the validator exists: a stock jsonschema validator would crash on the first \\p{L} pattern."""
    unicode_patterns = sorted({p for p in _schema_patterns(load_json_schema()) if "\\p{" in p})
    assert unicode_patterns, "the schema no longer uses \\p{...}: the regex validator may be unnecessary"
    for pattern in unicode_patterns:
        with pytest.raises(re.error, match=r"bad escape \\p"):
            re.compile(pattern)
        regex.compile(pattern)


@pytest.mark.parametrize("case", _cases("pass"), ids=lambda p: p.name)
def test_validator_accepts_every_schema_pass_case(validator: Validator, case: Path) -> None:
    assert problems(validator, read_yaml(case)) == []


@pytest.mark.parametrize("case", _cases("fail"), ids=lambda p: p.name)
def test_validator_rejects_every_schema_fail_case(validator: Validator, case: Path) -> None:
    assert problems(validator, read_yaml(case)) != []


def test_schema_cases_are_present() -> None:
    """An empty folder would turn the two parametrized proofs above into silent skips."""
    assert _cases("pass")
    assert _cases("fail")


@pytest.mark.parametrize(
    ("instance", "valid"),
    [({"变量": 1}, True), ({"变量": "one"}, False), ({"🌍": 1}, False)],
    ids=["letter-key", "letter-key-wrong-type", "emoji-key"],
)
def test_pattern_properties_use_unicode_classes(instance: dict[str, Any], valid: bool) -> None:
    """The bundle schema has no patternProperties today; the overrides still follow the same dialect."""
    schema = {"type": "object", "patternProperties": {r"^\p{L}+$": {"type": "integer"}}, "additionalProperties": False}
    assert (problems(BundleSchemaValidator(schema), instance) == []) is valid


# -- the bundle against the schema ------------------------------------------------------------------


BUNDLE_CONFIG = merged_bundle(BUNDLE)
VARIABLES = BUNDLE_CONFIG["variables"]
JOBS: dict[str, dict[str, Any]] = BUNDLE_CONFIG["resources"]["jobs"]
WHEEL_TASKS = [(job_key, task) for job_key, job in JOBS.items() for task in wheel_tasks(job)]
RETRAIN_JOBS = {target for job in JOBS.values() if (target := retrain_target(job))}
PIPELINE_JOBS = sorted(set(JOBS) - RETRAIN_JOBS)


@pytest.mark.parametrize("path", bundle_files(BUNDLE), ids=lambda p: str(p.relative_to(REPO)))
def test_every_bundle_file_is_schema_valid(validator: Validator, path: Path) -> None:
    assert problems(validator, read_yaml(path)) == []


def test_the_merged_bundle_is_schema_valid(validator: Validator) -> None:
    assert problems(validator, BUNDLE_CONFIG) == []


def test_every_resource_file_is_included() -> None:
    on_disk = {p for p in (REPO / "resources").rglob("*") if p.suffix in (".yml", ".yaml")}
    assert on_disk, "resources/ holds no bundle file"
    assert on_disk <= set(bundle_files(BUNDLE))


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda b: b["resources"]["jobs"]["flight_delay_pipeline"]["tasks"][0].update(job_cluster="x"), "tasks/0"),
        (lambda b: b["targets"]["prod"].update(mode_="production"), "targets/prod"),
        (lambda b: b["resources"]["jobs"]["flight_delay_pipeline"].update(max_concurrent_runs="one"), "max_concurrent"),
    ],
    ids=["unknown-task-field", "unknown-target-field", "string-for-integer"],
)
def test_the_schema_check_rejects_a_broken_bundle(validator: Validator, mutate: Any, expected: str) -> None:
    broken = copy.deepcopy(BUNDLE_CONFIG)
    mutate(broken)
    found = problems(validator, broken)
    assert len(found) == 1
    assert expected in found[0]


def test_targets_follow_the_deployment_mode_rules() -> None:
    targets = BUNDLE_CONFIG["targets"]
    assert set(targets) == {"dev", "staging", "prod"}
    dev, prod = targets["dev"], targets["prod"]
    assert dev["mode"] == "development"
    assert dev["default"] is True
    assert [name for name, t in targets.items() if t.get("default")] == ["dev"]
    assert "root_path" not in dev.get("workspace", {})  # development mode keeps the per-user default
    assert prod["mode"] == "production"
    # The Databricks CLI refuses production mode without an explicit root_path (one deployed copy).
    assert prod["workspace"]["root_path"].startswith("/Workspace/")
    assert "${bundle.target}" in prod["workspace"]["root_path"]
    assert prod["run_as"]["service_principal_name"] == "${var.service_principal}"
    assert prod["permissions"]
    assert "host" not in BUNDLE_CONFIG.get("workspace", {})
    assert all("host" not in t.get("workspace", {}) for t in targets.values())


def staging_differences(config: dict[str, Any]) -> list[str]:
    """Where staging stops rehearsing prod: mode, identity, folder rule and permissions must be
    equal, staging's schedules paused, and the two catalogs different. Prod's pause status is the
    team's call (docs/deployment.md: unpaused once the first release ran), so it is not compared."""
    targets = config["targets"]
    staging, prod = targets["staging"], targets["prod"]
    found = [f"{key} differs" for key in ("mode", "workspace", "run_as", "permissions") if staging[key] != prod[key]]
    presets = [{k: v for k, v in t.get("presets", {}).items() if k != "trigger_pause_status"} for t in (staging, prod)]
    if presets[0] != presets[1]:
        found.append("presets other than trigger_pause_status differ")
    if staging.get("presets", {}).get("trigger_pause_status") != "PAUSED":
        found.append("staging's schedules are not paused")
    if prod.get("presets", {}).get("trigger_pause_status") not in ("PAUSED", "UNPAUSED"):
        found.append("prod's trigger_pause_status is neither PAUSED nor UNPAUSED")
    if target_values(config, "staging")["catalog"] == target_values(config, "prod")["catalog"]:
        found.append("staging writes prod's catalog")
    return found


def test_staging_mirrors_prod() -> None:
    """Staging rehearses what a release deploys: same mode, identity, folder rule, permissions,
    paused schedules; only the catalog differs, so staging never writes prod's tables or model."""
    assert staging_differences(BUNDLE_CONFIG) == []


def test_unpausing_prod_as_the_deployment_guide_says_keeps_the_bundle_checks_green() -> None:
    """docs/deployment.md's last step sets prod's schedules to UNPAUSED: the mirror check allows it,
    and still catches a staging that runs on schedule or writes prod's catalog."""
    unpaused = copy.deepcopy(BUNDLE_CONFIG)
    unpaused["targets"]["prod"]["presets"]["trigger_pause_status"] = "UNPAUSED"
    assert staging_differences(unpaused) == []
    broken = copy.deepcopy(unpaused)
    broken["targets"]["staging"]["presets"]["trigger_pause_status"] = "UNPAUSED"
    broken["targets"]["staging"]["variables"]["catalog"] = target_values(BUNDLE_CONFIG, "prod")["catalog"]
    broken["targets"]["staging"]["run_as"] = {"user_name": "someone@example.com"}
    broken["targets"]["staging"]["presets"]["name_prefix"] = "[rehearsal] "
    assert staging_differences(broken) == [
        "run_as differs",
        "presets other than trigger_pause_status differ",
        "staging's schedules are not paused",
        "staging writes prod's catalog",
    ]


def test_variables_need_deploy_time_values_only_where_intended() -> None:
    """The CLI refuses any declared variable left without a value for the chosen target: plain
    `databricks bundle validate` (the default dev target) needs none; staging and prod exactly their
    run-as identity and alert address, which CI passes as BUNDLE_VAR_*."""
    assert unassigned_variables(BUNDLE_CONFIG, "dev") == []
    assert unassigned_variables(BUNDLE_CONFIG, "staging") == ["alert_email", "service_principal"]
    assert unassigned_variables(BUNDLE_CONFIG, "prod") == ["alert_email", "service_principal"]


@pytest.mark.parametrize("target", ["dev", "staging", "prod"])
def test_every_target_resolves_to_a_valid_bundle(validator: Validator, target: str) -> None:
    resolved = resolved_for(BUNDLE_CONFIG, target)
    assert "${var." not in json.dumps(resolved)
    assert problems(validator, resolved) == []
    for job_key, job in resolved["resources"]["jobs"].items():
        assert Job.from_dict(job).as_dict() == job, job_key


# -- run-time behaviour of every job: alerts, limits, queueing, retries ------------------------------


@pytest.mark.parametrize("job_key", sorted(JOBS))
def test_every_job_alerts_queues_and_is_bounded(job_key: str) -> None:
    check_alerts_queues_and_bounds(JOBS[job_key])


@pytest.mark.parametrize("job_key", sorted(JOBS))
def test_only_idempotent_steps_retry(job_key: str) -> None:
    check_only_idempotent_steps_retry(JOBS[job_key])


def test_the_flights_jobs_retry_the_four_idempotent_steps() -> None:
    """The check above only asks retries of the steps a job has: the flights jobs have all four."""
    for job_key in ("flight_delay_pipeline", "flight_delay_pipeline_serverless"):
        retried = {t["task_key"] for t in JOBS[job_key]["tasks"] if t.get("max_retries", 0) > 0}
        assert retried == {"ingest", "silver", "features", "score"}, job_key


def test_the_retry_check_catches_a_retried_training() -> None:
    job = copy.deepcopy(JOBS["flight_delay_pipeline"])
    next(t for t in job["tasks"] if t["task_key"] == "train")["max_retries"] = 1
    with pytest.raises(AssertionError, match="'train'"):
        check_only_idempotent_steps_retry(job)


# -- databricks-bundles ----------------------------------------------------------------------------


@pytest.mark.parametrize("job_key", sorted(JOBS))
def test_every_job_loads_through_databricks_bundles(job_key: str) -> None:
    job = Job.from_dict(JOBS[job_key])
    assert job.as_dict() == JOBS[job_key]  # nothing dropped or renamed on the way in


def test_databricks_bundles_rejects_an_unknown_field() -> None:
    job = copy.deepcopy(JOBS["flight_delay_pipeline"])
    wheel_task = job["tasks"][0]["python_wheel_task"]
    wheel_task["paramters"] = wheel_task.pop("parameters")
    with pytest.raises(ValueError, match="Unexpected field 'paramters' for class PythonWheelTask"):
        Job.from_dict(job)


# -- the shape of the jobs -------------------------------------------------------------------------


@pytest.mark.parametrize("job_key", PIPELINE_JOBS)
def test_jobs_run_the_configured_steps_in_order(job_key: str) -> None:
    """The steps of the configuration the job's tasks load: conf/ for the flights jobs, a use case's
    conf_<name>/ (--conf-dir) for the jobs `spark-ml new usecase` writes."""
    job = JOBS[job_key]
    check_runs_the_steps(job, job_settings(job, BUNDLE_CONFIG, REPO).pipeline.steps)


def test_the_flights_jobs_run_the_seven_steps() -> None:
    for job_key in ("flight_delay_pipeline", "flight_delay_pipeline_serverless"):
        steps = job_settings(JOBS[job_key], BUNDLE_CONFIG, REPO).pipeline.steps
        assert steps == ("ingest", "silver", "features", "train", "promote", "score", "monitor"), job_key


def test_every_pipeline_job_has_its_own_retrain_job() -> None:
    targets = [retrain_target(JOBS[key]) for key in PIPELINE_JOBS]
    assert None not in targets
    assert sorted(targets) == sorted(RETRAIN_JOBS)  # one each, none shared, none left over
    assert {"flight_delay_retrain", "flight_delay_retrain_serverless"} <= RETRAIN_JOBS


@pytest.mark.parametrize("job_key", PIPELINE_JOBS)
def test_a_drift_status_that_asks_for_it_runs_the_retrain_job(job_key: str) -> None:
    check_retrains_on_drift(JOBS, job_key, job_settings(JOBS[job_key], BUNDLE_CONFIG, REPO))


def test_the_retrain_check_catches_a_monitor_that_fails_on_alert() -> None:
    jobs = copy.deepcopy(JOBS)
    monitor = next(t for t in jobs["flight_delay_pipeline"]["tasks"] if t["task_key"] == "monitor")
    monitor["python_wheel_task"]["parameters"] = [*monitor["python_wheel_task"]["parameters"], "--fail-on-alert"]
    with pytest.raises(AssertionError, match="fail-on-alert"):
        check_retrains_on_drift(
            jobs, "flight_delay_pipeline", job_settings(JOBS["flight_delay_pipeline"], BUNDLE_CONFIG, REPO)
        )


def test_the_step_check_catches_a_missing_task() -> None:
    job = copy.deepcopy(JOBS["flight_delay_pipeline"])
    steps = job_settings(job, BUNDLE_CONFIG, REPO).pipeline.steps
    del job["tasks"][3]
    with pytest.raises(AssertionError, match=r"the tasks .* are not the configured steps"):
        check_runs_the_steps(job, steps)


def test_the_wheel_artifact_is_built_at_the_bundle_root() -> None:
    artifacts = BUNDLE_CONFIG["artifacts"]
    assert len(artifacts) == 1
    (artifact,) = artifacts.values()
    assert artifact["type"] == "whl"
    assert (BUNDLE.parent / artifact["path"]).resolve() == REPO
    assert "build" in artifact["build"]
    assert "--wheel" in artifact["build"]


@pytest.mark.parametrize("job_key", sorted(JOBS))
def test_every_task_installs_the_artifact_wheel(job_key: str) -> None:
    wheels = resolved_wheel_paths(JOBS[job_key], job_file(BUNDLE, job_key))
    assert wheels
    assert set(wheels) == {built_wheels(BUNDLE_CONFIG, BUNDLE)}


def test_the_job_cluster_variant_runs_every_task_on_its_job_cluster() -> None:
    job = JOBS["flight_delay_pipeline"]
    check_job_cluster_variant(job, VARIABLES)
    assert job["schedule"]["quartz_cron_expression"] == "0 0 6 2 * ?"  # monthly, after the month closes


def test_the_serverless_variant_uses_an_environment_and_no_cluster() -> None:
    check_serverless_variant(JOBS["flight_delay_pipeline_serverless"], VARIABLES)


# -- the built wheel and the command line ----------------------------------------------------------


@pytest.fixture(scope="module")
def console_scripts() -> dict[str, str]:
    """setup.cfg's console scripts (the built wheel declares the same: tests/runtime/test_wheel_metadata.py;
    each bundle task's entry point is a registered task's: tests/unit/test_task_registry.py)."""
    return declared_console_scripts()


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


@pytest.mark.system
def test_package_name_is_the_wheels_distribution_and_package(wheel: Path) -> None:
    """The entry point is looked up in the metadata of `package_name`; when absent, Databricks calls
    `<package_name>.<entry_point>()`, so the name must be both the distribution and an importable package."""
    distribution = wheel.name.split("-")[0]
    with zipfile.ZipFile(wheel) as zf:
        files = set(zf.namelist())
    for job_key, task in WHEEL_TASKS:
        package = task["python_wheel_task"]["package_name"]
        assert _normalized(package) == _normalized(distribution), f"{job_key}.{task['task_key']}"
        assert f"{package}/__init__.py" in files, f"{job_key}.{task['task_key']}"


@pytest.mark.parametrize(
    ("job_key", "task"), WHEEL_TASKS, ids=[f"{job}-{task['task_key']}" for job, task in WHEEL_TASKS]
)
def test_every_task_command_line_is_accepted(
    console_scripts: dict[str, str], job_key: str, task: dict[str, Any]
) -> None:
    wheel_task = task["python_wheel_task"]
    name = task_of(console_scripts[wheel_task["entry_point"]])
    args = parse(name, resolve(wheel_task["parameters"], defaults(BUNDLE_CONFIG), REPO))
    settings = settings_from(args)
    assert settings.env == "databricks"
    assert settings.uses_catalog
    assert catalog_mismatches(settings, defaults(BUNDLE_CONFIG)["catalog"]) == []


@pytest.mark.parametrize("job_key", sorted(JOBS))
def test_a_deploy_time_catalog_reaches_tables_model_and_volumes(job_key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--var catalog=ml_ci` must move everything, not only the tables (conf/databricks defaults to main)."""
    monkeypatch.delenv("SPARK_ML_CATALOG", raising=False)
    for task in wheel_tasks(JOBS[job_key]):
        parameters = resolve(
            task["python_wheel_task"]["parameters"], {**defaults(BUNDLE_CONFIG), "catalog": "ml_ci"}, REPO
        )
        settings = settings_from(parse(task["task_key"], parameters))
        assert catalog_mismatches(settings, "ml_ci") == [], task["task_key"]


def test_the_catalog_check_catches_volumes_left_in_the_default_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPARK_ML_CATALOG", raising=False)
    settings = settings_from(parse("ingest", ["--env", "databricks", "--set", "lakehouse.catalog=ml_ci"]))
    mismatches = catalog_mismatches(settings, "ml_ci")
    assert mismatches == ["lakehouse.root: /Volumes/main/spark_ml/lakehouse", "landing: /Volumes/main/spark_ml/landing"]


def test_a_bad_parameter_fails_the_command_line_check() -> None:
    first = JOBS["flight_delay_pipeline"]["tasks"][0]["python_wheel_task"]["parameters"]
    parameters = resolve(first, defaults(BUNDLE_CONFIG), REPO)
    with pytest.raises(pytest.fail.Exception, match=r"spark-ml ingest rejects .*--no-such-flag.*\(exit 2\)"):
        parse("ingest", [*parameters, "--no-such-flag"])
    with pytest.raises(pytest.fail.Exception, match=r"spark-ml promote rejects .*--fail-on-alert"):
        parse("promote", [*parameters, "--fail-on-alert"])  # a flag of another task


def test_an_unresolvable_reference_fails_the_command_line_check() -> None:
    with pytest.raises(AssertionError, match=r"references the test cannot resolve: \['\$\{bundle.target\}/x'\]"):
        resolve(["${bundle.target}/x"], defaults(BUNDLE_CONFIG), REPO)


def test_a_bad_override_fails_the_configuration_check() -> None:
    args = parse("ingest", ["--env", "databricks", "--set", "lakehouse.catalgo=main"])
    with pytest.raises(ConfigError, match=r"unknown key 'lakehouse.catalgo'"):
        settings_from(args)
