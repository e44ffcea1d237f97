"""The Databricks bundle (databricks.yml + resources/*.yml) without a workspace.

1. A JSON-schema validator for the official bundle schema in ../shared/databricks, proven first on that
   schema's own pass/fail cases. The schema's patterns use `\\p{L}`, which Python's `re` rejects, so the
   regex keywords run on the `regex` package; nothing in the schema is relaxed.
2. Every bundle file, and the merged bundle, validated against it.
3. Every job loaded through `databricks-bundles` (`Job.from_dict`, strict about unknown fields).
4. Cross-checks with the built wheel and the command line: entry points exist, package_name is the
   wheel's package, and every task's parameters parse and load the Databricks configuration.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import regex
import yaml
from databricks.bundles.jobs import Job
from jsonschema import Draft202012Validator, ValidationError
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from jsonschema.validators import extend

from spark_ml.cli.runner import OneLineParser, add_task_arguments, common_parser, settings_from
from spark_ml.config import Settings
from spark_ml.errors import ConfigError
from spark_ml.tasks import TASKS
from tests.helpers import REPO, declared_console_scripts, shared_dir

pytestmark = pytest.mark.runtime

SHARED = shared_dir() / "databricks"
SCHEMA = SHARED / "bundle-schema.json"
SCHEMA_CASES = SHARED / "schema-testdata"
BUNDLE = REPO / "databricks.yml"
VAR_REFERENCE = re.compile(r"\$\{var\.([A-Za-z_][\w-]*)\}")


# -- a validator that speaks the schema's regex dialect ---------------------------------------------


def _pattern(validator: Validator, pattern: str, instance: Any, schema: dict[str, Any]) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not regex.search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Validator, patterns: dict[str, Any], instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if regex.search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(
    validator: Validator, additional: Any, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if "patternProperties" not in schema:  # jsonschema's own keyword only uses `re` for patternProperties
        yield from Draft202012Validator.VALIDATORS["additionalProperties"](validator, additional, instance, schema)
        return
    if not validator.is_type(instance, "object"):
        return
    declared = schema.get("properties", {})
    extras = [
        key
        for key in instance
        if key not in declared and not any(regex.search(p, key) for p in schema["patternProperties"])
    ]
    if validator.is_type(additional, "object"):
        for key in extras:
            yield from validator.descend(instance[key], additional, path=key)
    elif additional is False and extras:
        yield ValidationError(f"{', '.join(map(repr, sorted(extras)))} match no declared property or pattern")


BundleSchemaValidator = extend(
    Draft202012Validator,
    {"pattern": _pattern, "patternProperties": _pattern_properties, "additionalProperties": _additional_properties},
)


def _load_json_schema() -> dict[str, Any]:
    if not SCHEMA.is_file():
        pytest.fail(f"the official bundle schema is missing: expected {SCHEMA} (../shared next to the checkout)")
    schema: dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return schema


@pytest.fixture(scope="module")
def validator() -> Validator:
    return BundleSchemaValidator(_load_json_schema())


def _problems(validator: Validator, document: Any) -> list[str]:
    """One line per top-level error, each naming the path and the most specific cause."""
    out = []
    for error in validator.iter_errors(document):
        deepest = best_match([error])
        where = "/".join(str(p) for p in deepest.absolute_path) or "<root>"
        out.append(f"{where}: {deepest.message[:300]}")
    return out


def _read_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


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
    unicode_patterns = sorted({p for p in _schema_patterns(_load_json_schema()) if "\\p{" in p})
    assert unicode_patterns, "the schema no longer uses \\p{...}: the regex validator may be unnecessary"
    for pattern in unicode_patterns:
        with pytest.raises(re.error, match=r"bad escape \\p"):
            re.compile(pattern)
        regex.compile(pattern)


@pytest.mark.parametrize("case", _cases("pass"), ids=lambda p: p.name)
def test_validator_accepts_every_schema_pass_case(validator: Validator, case: Path) -> None:
    assert _problems(validator, _read_yaml(case)) == []


@pytest.mark.parametrize("case", _cases("fail"), ids=lambda p: p.name)
def test_validator_rejects_every_schema_fail_case(validator: Validator, case: Path) -> None:
    assert _problems(validator, _read_yaml(case)) != []


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
    assert (_problems(BundleSchemaValidator(schema), instance) == []) is valid


# -- the bundle against the schema ------------------------------------------------------------------


def _bundle_files() -> list[Path]:
    """databricks.yml and every file its include globs match, as the Databricks CLI loads them."""
    root = _read_yaml(BUNDLE)
    included: list[Path] = []
    for pattern in root.get("include", []):
        matched = sorted(BUNDLE.parent.glob(pattern))
        assert matched, f"include glob {pattern!r} in databricks.yml matches no file"
        included.extend(p for p in matched if p not in included)
    return [BUNDLE, *included]


def _merge(into: dict[str, Any], incoming: dict[str, Any], source: str, path: tuple[str, ...] = ()) -> None:
    """Merge one bundle file into the configuration; a resource or value defined twice is an error."""
    for key, value in incoming.items():
        where = (*path, str(key))
        is_resource = len(where) == 3 and where[0] == "resources"
        if key in into and (is_resource or not (isinstance(into[key], dict) and isinstance(value, dict))):
            raise AssertionError(f"{'.'.join(where)} is defined twice (again in {source})")
        if key in into:
            _merge(into[key], value, source, where)
        else:
            into[key] = copy.deepcopy(value)


def _merged_bundle() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for path in _bundle_files():
        _merge(merged, _read_yaml(path), path.name)
    return merged


BUNDLE_CONFIG = _merged_bundle()
VARIABLES = BUNDLE_CONFIG["variables"]
JOBS: dict[str, dict[str, Any]] = BUNDLE_CONFIG["resources"]["jobs"]
WHEEL_TASKS = [(job_key, task) for job_key, job in JOBS.items() for task in job["tasks"] if "python_wheel_task" in task]


@pytest.mark.parametrize("path", _bundle_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_bundle_file_is_schema_valid(validator: Validator, path: Path) -> None:
    assert _problems(validator, _read_yaml(path)) == []


def test_the_merged_bundle_is_schema_valid(validator: Validator) -> None:
    assert _problems(validator, BUNDLE_CONFIG) == []


def test_every_resource_file_is_included() -> None:
    on_disk = {p for p in (REPO / "resources").rglob("*") if p.suffix in (".yml", ".yaml")}
    assert on_disk, "resources/ holds no bundle file"
    assert on_disk <= set(_bundle_files())


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
    problems = _problems(validator, broken)
    assert len(problems) == 1
    assert expected in problems[0]


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


def test_staging_mirrors_prod() -> None:
    """Staging rehearses what a release deploys: same mode, identity, folder rule, permissions and
    paused schedules; only the catalog differs, so staging never writes prod's tables or model."""
    targets = BUNDLE_CONFIG["targets"]
    staging, prod = targets["staging"], targets["prod"]
    for key in ("mode", "workspace", "run_as", "permissions", "presets"):
        assert staging[key] == prod[key], key
    for target in (staging, prod):
        assert target["presets"]["trigger_pause_status"] == "PAUSED"
    assert _target_values("staging")["catalog"] != _target_values("prod")["catalog"]


def _target_values(target: str) -> dict[str, Any]:
    """Variable values as the CLI resolves them for `target` with nothing set on the command line."""
    overrides = BUNDLE_CONFIG["targets"][target].get("variables", {})
    return {**{name: spec["default"] for name, spec in VARIABLES.items() if "default" in spec}, **overrides}


def _unassigned_variables(target: str) -> list[str]:
    overrides = BUNDLE_CONFIG["targets"][target].get("variables", {})
    return sorted(v for v, spec in VARIABLES.items() if "default" not in spec and v not in overrides)


def test_variables_need_deploy_time_values_only_where_intended() -> None:
    """The CLI refuses any declared variable left without a value for the chosen target: plain
    `databricks bundle validate` (the default dev target) needs none; staging and prod exactly their
    run-as identity and alert address, which CI passes as BUNDLE_VAR_*."""
    assert _unassigned_variables("dev") == []
    assert _unassigned_variables("staging") == ["alert_email", "service_principal"]
    assert _unassigned_variables("prod") == ["alert_email", "service_principal"]


def _resolved_for(target: str) -> dict[str, Any]:
    """The merged bundle with the target's variable values substituted (placeholders for the ones CI
    passes), as `databricks bundle validate -t <target>` would see it."""
    values = {name: str(value) for name, value in _target_values(target).items()}
    values |= {name: f"<{name}>" for name in _unassigned_variables(target)}
    text = VAR_REFERENCE.sub(lambda m: values[m.group(1)], json.dumps(BUNDLE_CONFIG))
    resolved: dict[str, Any] = json.loads(text)
    return resolved


@pytest.mark.parametrize("target", ["dev", "staging", "prod"])
def test_every_target_resolves_to_a_valid_bundle(validator: Validator, target: str) -> None:
    resolved = _resolved_for(target)
    assert "${var." not in json.dumps(resolved)
    assert _problems(validator, resolved) == []
    for job_key, job in resolved["resources"]["jobs"].items():
        assert Job.from_dict(job).as_dict() == job, job_key


# -- run-time behaviour of every job: alerts, limits, queueing, retries ------------------------------

# The steps whose rerun leaves the same tables: ingest skips files its log records and replaces a
# file's rows, silver and features overwrite (or replaceWhere their months), score replaces its
# month. train registers a new model version, promote moves aliases, monitor's alert is a verdict.
RETRIED_STEPS = {"ingest", "silver", "features", "score"}


@pytest.mark.parametrize("job_key", sorted(JOBS))
def test_every_job_alerts_queues_and_is_bounded(job_key: str) -> None:
    job = JOBS[job_key]
    assert job["email_notifications"]["on_failure"] == ["${var.alert_email}"]
    assert job["email_notifications"]["on_duration_warning_threshold_exceeded"] == ["${var.alert_email}"]
    assert job["queue"] == {"enabled": True}
    (rule,) = job["health"]["rules"]
    assert rule["metric"] == "RUN_DURATION_SECONDS"
    assert rule["op"] == "GREATER_THAN"
    # The warning must come before the timeout ends the run, or it never fires.
    assert 0 < rule["value"] < job["timeout_seconds"]


@pytest.mark.parametrize("job_key", sorted(JOBS))
def test_only_idempotent_steps_retry(job_key: str) -> None:
    tasks = JOBS[job_key]["tasks"]
    retried = {t["task_key"] for t in tasks if t.get("max_retries", 0) > 0}
    assert retried == RETRIED_STEPS & {t["task_key"] for t in tasks}
    for task in tasks:
        if task["task_key"] in RETRIED_STEPS:
            assert task["min_retry_interval_millis"] > 0, task["task_key"]
            assert task["retry_on_timeout"] is False, task["task_key"]
        else:
            assert not {"max_retries", "min_retry_interval_millis", "retry_on_timeout"} & set(task), task["task_key"]


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


# -- the shape of the two jobs ---------------------------------------------------------------------


def _databricks_settings() -> Settings:
    return settings_from(_parse("ingest", ["--env", "databricks"]))


PIPELINE_JOBS = {
    "flight_delay_pipeline": "flight_delay_retrain",
    "flight_delay_pipeline_serverless": "flight_delay_retrain_serverless",
}


def _wheel_tasks(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in job["tasks"] if "python_wheel_task" in t]


def test_every_job_is_a_pipeline_or_its_retrain_job() -> None:
    assert set(JOBS) == set(PIPELINE_JOBS) | set(PIPELINE_JOBS.values())


@pytest.mark.parametrize("job_key", sorted(PIPELINE_JOBS))
def test_jobs_run_the_configured_steps_in_order(job_key: str) -> None:
    steps = list(_databricks_settings().pipeline.steps)
    tasks = _wheel_tasks(JOBS[job_key])
    assert [t["task_key"] for t in tasks] == steps
    assert "depends_on" not in tasks[0]
    for previous, task in itertools.pairwise(tasks):
        assert task["depends_on"] == [{"task_key": previous["task_key"]}]
    assert [t["python_wheel_task"]["entry_point"] for t in tasks] == [f"spark-ml-{s}" for s in steps]


@pytest.mark.parametrize(("job_key", "retrain_key"), sorted(PIPELINE_JOBS.items()))
def test_a_drift_status_that_asks_for_it_runs_the_retrain_job(job_key: str, retrain_key: str) -> None:
    """monitor publishes `retrain` (spark_ml/io/task_values.py); the condition compares it with the
    string "true" and only its true outcome starts the retrain job, which runs the steps the local
    pipeline runs again (spark_ml.tasks.pipeline.RETRAIN_STEPS)."""
    from spark_ml.tasks.pipeline import RETRAIN_STEPS

    tasks = {t["task_key"]: t for t in JOBS[job_key]["tasks"]}
    monitor, check, retrain = tasks["monitor"], tasks["retrain_check"], tasks["retrain"]
    assert "--fail-on-alert" not in monitor["python_wheel_task"]["parameters"]  # the alert acts by retraining
    assert check["depends_on"] == [{"task_key": "monitor"}]
    assert check["condition_task"] == {"op": "EQUAL_TO", "left": "{{tasks.monitor.values.retrain}}", "right": "true"}
    assert retrain["depends_on"] == [{"task_key": "retrain_check", "outcome": "true"}]
    assert retrain["run_job_task"] == {"job_id": f"${{resources.jobs.{retrain_key}.id}}"}
    assert _databricks_settings().monitor.retrain_on == "alert"

    retrain_job = JOBS[retrain_key]
    assert [t["task_key"] for t in retrain_job["tasks"]] == list(RETRAIN_STEPS)
    assert [t["python_wheel_task"]["entry_point"] for t in retrain_job["tasks"]] == [
        f"spark-ml-{s}" for s in RETRAIN_STEPS
    ]
    wheel_tasks = {t["task_key"]: t for t in _wheel_tasks(JOBS[job_key])}
    for task in retrain_job["tasks"]:  # the same parameters and compute as the pipeline's own step
        pipeline_task = wheel_tasks[task["task_key"]]
        assert task["python_wheel_task"] == pipeline_task["python_wheel_task"]
        for key in ("job_cluster_key", "libraries", "environment_key"):
            assert task.get(key) == pipeline_task.get(key), key
    for key in ("job_clusters", "environments"):
        assert retrain_job.get(key) == JOBS[job_key].get(key), key
    assert "schedule" not in retrain_job  # it runs when the pipeline (or a person) starts it
    assert retrain_job["email_notifications"]["on_start"] == ["${var.alert_email}"]


def _resolved_wheel_paths(job: dict[str, Any], job_file: Path) -> list[Path]:
    paths = [lib["whl"] for task in job["tasks"] for lib in task.get("libraries", []) if "whl" in lib]
    paths += [dep for env in job.get("environments", []) for dep in env["spec"].get("dependencies", [])]
    return [(job_file.parent / p).resolve() for p in paths if p.endswith(".whl")]


def _job_file(job_key: str) -> Path:
    return next(p for p in _bundle_files() if job_key in (_read_yaml(p).get("resources", {}).get("jobs") or {}))


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
    (artifact,) = BUNDLE_CONFIG["artifacts"].values()
    built = (BUNDLE.parent / artifact["path"]).resolve() / "dist" / "*.whl"
    wheels = _resolved_wheel_paths(JOBS[job_key], _job_file(job_key))
    assert wheels
    assert set(wheels) == {built}


def test_the_job_cluster_variant_runs_every_task_on_its_job_cluster() -> None:
    job = JOBS["flight_delay_pipeline"]
    (cluster,) = job["job_clusters"]
    new_cluster = cluster["new_cluster"]
    assert new_cluster["spark_version"] == "${var.spark_version}"
    assert VARIABLES["spark_version"]["default"].startswith("16.4.x-")  # LTS on Spark 3.5, see the README
    assert new_cluster["num_workers"] == 0
    assert new_cluster["spark_conf"]["spark.databricks.cluster.profile"] == "singleNode"
    assert new_cluster["data_security_mode"] == "SINGLE_USER"  # Unity Catalog needs an access mode
    for task in _wheel_tasks(job):
        assert task["job_cluster_key"] == cluster["job_cluster_key"], task["task_key"]
        assert [lib["whl"] for lib in task["libraries"]] == ["../dist/*.whl"], task["task_key"]
        assert "environment_key" not in task
    # The target decides: presets.trigger_pause_status applies only to a schedule without its own.
    assert "pause_status" not in job["schedule"]


def test_the_serverless_variant_uses_an_environment_and_no_cluster() -> None:
    job = JOBS["flight_delay_pipeline_serverless"]
    assert "job_clusters" not in job
    (environment,) = job["environments"]
    spec = environment["spec"]
    assert "client" not in spec  # deprecated in favour of environment_version
    assert spec["environment_version"] == "${var.serverless_environment_version}"
    assert VARIABLES["serverless_environment_version"]["default"] == "4"
    assert spec["dependencies"] == ["../dist/*.whl"]
    for task in _wheel_tasks(job):
        assert task["environment_key"] == environment["environment_key"], task["task_key"]
        # Serverless rejects task libraries and clusters: the wheel comes from the environment.
        assert not {"libraries", "job_cluster_key", "new_cluster", "existing_cluster_id"} & set(task)


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


def _task_of(script_target: str) -> str:
    """'spark_ml.cli:train' -> 'train', the task the console script runs."""
    module, _, function = script_target.partition(":")
    assert module == "spark_ml.cli", script_target
    names = {task.entry_function: task.name for task in TASKS.values()}
    assert function in names, script_target
    return names[function]


def _resolve(parameters: list[str], values: dict[str, str]) -> list[str]:
    """Substitute ${var.name} as `databricks bundle deploy` does; anything else unresolved is a bug here."""
    resolved = [VAR_REFERENCE.sub(lambda m: values[m.group(1)], p) for p in parameters]
    leftover = [p for p in resolved if "${" in p]
    assert leftover == [], f"references the test cannot resolve: {leftover}"
    return resolved


def _defaults() -> dict[str, str]:
    return {name: str(spec["default"]) for name, spec in VARIABLES.items() if "default" in spec}


def _parse(task: str, parameters: list[str]) -> argparse.Namespace:
    """Parse as the console script does (spark_ml.cli.runner.run_task); a usage error fails the test."""
    parser = OneLineParser(prog=f"spark-ml {task}", parents=[common_parser()])
    add_task_arguments(parser, TASKS[task])
    try:
        return parser.parse_args(parameters)
    except SystemExit as exc:
        pytest.fail(f"spark-ml {task} rejects {parameters} (exit {exc.code})")


def _catalog_mismatches(settings: Settings, catalog: str) -> list[str]:
    """Every place the catalog must reach: Unity Catalog tables, the registered model, the volumes."""
    places = {f"table {name}": settings.table_location(name) for name in settings.tables}
    places["registered model"] = settings.registered_model_name
    wrong = [f"{what}: {where}" for what, where in places.items() if not where.startswith(f"{catalog}.")]
    for what, path in [("lakehouse.root", settings.lakehouse.root), ("landing", settings.lakehouse.landing_dir)]:
        if not path.startswith(f"/Volumes/{catalog}/"):
            wrong.append(f"{what}: {path}")
    return wrong


@pytest.mark.parametrize(
    ("job_key", "task"), WHEEL_TASKS, ids=[f"{job}-{task['task_key']}" for job, task in WHEEL_TASKS]
)
def test_every_task_command_line_is_accepted(
    console_scripts: dict[str, str], job_key: str, task: dict[str, Any]
) -> None:
    wheel_task = task["python_wheel_task"]
    name = _task_of(console_scripts[wheel_task["entry_point"]])
    args = _parse(name, _resolve(wheel_task["parameters"], _defaults()))
    settings = settings_from(args)
    assert settings.env == "databricks"
    assert settings.uses_catalog
    assert _catalog_mismatches(settings, _defaults()["catalog"]) == []


@pytest.mark.parametrize("job_key", sorted(JOBS))
def test_a_deploy_time_catalog_reaches_tables_model_and_volumes(job_key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--var catalog=ml_ci` must move everything, not only the tables (conf/databricks defaults to main)."""
    monkeypatch.delenv("SPARK_ML_CATALOG", raising=False)
    for task in _wheel_tasks(JOBS[job_key]):
        parameters = _resolve(task["python_wheel_task"]["parameters"], {**_defaults(), "catalog": "ml_ci"})
        settings = settings_from(_parse(task["task_key"], parameters))
        assert _catalog_mismatches(settings, "ml_ci") == [], task["task_key"]


def test_the_catalog_check_catches_volumes_left_in_the_default_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPARK_ML_CATALOG", raising=False)
    settings = settings_from(_parse("ingest", ["--env", "databricks", "--set", "lakehouse.catalog=ml_ci"]))
    mismatches = _catalog_mismatches(settings, "ml_ci")
    assert mismatches == ["lakehouse.root: /Volumes/main/spark_ml/lakehouse", "landing: /Volumes/main/spark_ml/landing"]


def test_a_bad_parameter_fails_the_command_line_check() -> None:
    parameters = [*_resolve(JOBS["flight_delay_pipeline"]["tasks"][0]["python_wheel_task"]["parameters"], _defaults())]
    with pytest.raises(pytest.fail.Exception, match=r"spark-ml ingest rejects .*--no-such-flag.*\(exit 2\)"):
        _parse("ingest", [*parameters, "--no-such-flag"])
    with pytest.raises(pytest.fail.Exception, match=r"spark-ml promote rejects .*--fail-on-alert"):
        _parse("promote", [*parameters, "--fail-on-alert"])  # a flag of another task


def test_a_bad_override_fails_the_configuration_check() -> None:
    args = _parse("ingest", ["--env", "databricks", "--set", "lakehouse.catalgo=main"])
    with pytest.raises(ConfigError, match=r"unknown key 'lakehouse.catalgo'"):
        settings_from(args)
