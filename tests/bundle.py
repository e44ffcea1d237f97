"""A Databricks bundle read and checked as the CLI would, without a workspace: the official JSON schema,
the merge of its files, variables per target, and the checks every pipeline job must pass. Shared by
tests/runtime/test_bundle.py (the repository's bundle) and tests/runtime/test_scaffold_bundle.py
(the jobs `spark-ml new usecase` writes).

The schema's patterns use `\\p{L}`, which Python's `re` rejects, so the regex keywords run on the
`regex` package; nothing in the schema is relaxed.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import regex
import yaml
from jsonschema import Draft202012Validator, ValidationError
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from jsonschema.validators import extend

from spark_ml.cli.runner import OneLineParser, add_task_arguments, common_parser, settings_from
from spark_ml.config import Settings
from spark_ml.tasks import TASKS
from tests.helpers import shared_dir

SHARED = shared_dir() / "databricks"
SCHEMA = SHARED / "bundle-schema.json"
SCHEMA_CASES = SHARED / "schema-testdata"
VAR_REFERENCE = re.compile(r"\$\{var\.([A-Za-z_][\w-]*)\}")
# Where `databricks bundle deploy` uploads the bundle root's files (<root_path>/files, a /Workspace
# path that tasks read as files): a job names a conf folder of the checkout through it.
FILE_PATH = "${workspace.file_path}"

# The steps whose rerun leaves the same tables: ingest skips files its log records and replaces a
# file's rows, silver and features overwrite (or replaceWhere their months), score replaces its
# month. train registers a new model version, promote moves aliases, monitor's alert is a verdict.
RETRIED_STEPS = frozenset({"ingest", "silver", "features", "score"})


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


def load_json_schema() -> dict[str, Any]:
    if not SCHEMA.is_file():
        pytest.fail(f"the official bundle schema is missing: expected {SCHEMA} (../shared next to the checkout)")
    schema: dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return schema


def problems(validator: Validator, document: Any) -> list[str]:
    """One line per top-level error, each naming the path and the most specific cause."""
    out = []
    for error in validator.iter_errors(document):
        deepest = best_match([error])
        where = "/".join(str(p) for p in deepest.absolute_path) or "<root>"
        out.append(f"{where}: {deepest.message[:300]}")
    return out


def read_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# -- the bundle as the CLI loads it ----------------------------------------------------------------


def bundle_files(bundle: Path) -> list[Path]:
    """`bundle` (a databricks.yml) and every file its include globs match, as the Databricks CLI loads them."""
    root = read_yaml(bundle)
    included: list[Path] = []
    for pattern in root.get("include", []):
        matched = sorted(bundle.parent.glob(pattern))
        assert matched, f"include glob {pattern!r} in databricks.yml matches no file"
        included.extend(p for p in matched if p not in included)
    return [bundle, *included]


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


def merged_bundle(bundle: Path) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for path in bundle_files(bundle):
        _merge(merged, read_yaml(path), path.name)
    return merged


def job_file(bundle: Path, job_key: str) -> Path:
    """The bundle file that defines job `job_key`."""
    return next(p for p in bundle_files(bundle) if job_key in (read_yaml(p).get("resources", {}).get("jobs") or {}))


# -- variables per target --------------------------------------------------------------------------


def target_values(config: dict[str, Any], target: str) -> dict[str, Any]:
    """Variable values as the CLI resolves them for `target` with nothing set on the command line."""
    overrides = config["targets"][target].get("variables", {})
    defaults = {name: spec["default"] for name, spec in config["variables"].items() if "default" in spec}
    return {**defaults, **overrides}


def unassigned_variables(config: dict[str, Any], target: str) -> list[str]:
    overrides = config["targets"][target].get("variables", {})
    return sorted(v for v, spec in config["variables"].items() if "default" not in spec and v not in overrides)


def resolved_for(config: dict[str, Any], target: str) -> dict[str, Any]:
    """The merged bundle with the target's variable values substituted (placeholders for the ones CI
    passes), as `databricks bundle validate -t <target>` would see it."""
    values = {name: str(value) for name, value in target_values(config, target).items()}
    values |= {name: f"<{name}>" for name in unassigned_variables(config, target)}
    text = VAR_REFERENCE.sub(lambda m: values[m.group(1)], json.dumps(config))
    resolved: dict[str, Any] = json.loads(text)
    return resolved


def defaults(config: dict[str, Any]) -> dict[str, str]:
    return {name: str(spec["default"]) for name, spec in config["variables"].items() if "default" in spec}


# -- task command lines ----------------------------------------------------------------------------


def resolve(parameters: list[str], values: dict[str, str], synced_root: Path) -> list[str]:
    """Substitute ${var.name} as `databricks bundle deploy` does, and ${workspace.file_path} with the
    folder whose files the deploy uploads there (the bundle's root); anything else unresolved is a bug."""
    resolved = [
        VAR_REFERENCE.sub(lambda m: values[m.group(1)], p).replace(FILE_PATH, str(synced_root)) for p in parameters
    ]
    leftover = [p for p in resolved if "${" in p]
    assert leftover == [], f"references the test cannot resolve: {leftover}"
    return resolved


def parse(task: str, parameters: list[str]) -> argparse.Namespace:
    """Parse as the console script does (spark_ml.cli.runner.run_task); a usage error fails the test."""
    parser = OneLineParser(prog=f"spark-ml {task}", parents=[common_parser()])
    add_task_arguments(parser, TASKS[task])
    try:
        return parser.parse_args(parameters)
    except SystemExit as exc:
        pytest.fail(f"spark-ml {task} rejects {parameters} (exit {exc.code})")


def task_of(script_target: str) -> str:
    """'spark_ml.cli:train' -> 'train', the task the console script runs."""
    module, _, function = script_target.partition(":")
    assert module == "spark_ml.cli", script_target
    names = {task.entry_function: task.name for task in TASKS.values()}
    assert function in names, script_target
    return names[function]


def wheel_tasks(job: dict[str, Any]) -> list[dict[str, Any]]:
    """The tasks that run spark-ml (not a job's condition and run_job tasks)."""
    return [t for t in job["tasks"] if "python_wheel_task" in t]


def retrain_target(job: dict[str, Any]) -> str | None:
    """The key of the job a pipeline job's `retrain` run_job task starts (None without one)."""
    for task in job["tasks"]:
        if "run_job_task" in task:
            match = re.fullmatch(r"\$\{resources\.jobs\.(\w+)\.id\}", str(task["run_job_task"]["job_id"]))
            assert match, f"{task['task_key']} starts a job by something else than a bundle reference"
            return match.group(1)
    return None


def job_settings(job: dict[str, Any], config: dict[str, Any], synced_root: Path) -> Settings:
    """The settings the job's first task loads with the variables' defaults: its conf folder
    (--conf-dir, else the packaged conf/) with its --env and --set."""
    first = wheel_tasks(job)[0]
    parameters = resolve(first["python_wheel_task"]["parameters"], defaults(config), synced_root)
    return settings_from(parse(first["task_key"], parameters))


def catalog_mismatches(settings: Settings, catalog: str) -> list[str]:
    """Every place the catalog must reach: Unity Catalog tables, the registered model, the volumes."""
    places = {f"table {name}": settings.table_location(name) for name in settings.tables}
    places["registered model"] = settings.registered_model_name
    wrong = [f"{what}: {where}" for what, where in places.items() if not where.startswith(f"{catalog}.")]
    for what, path in [("lakehouse.root", settings.lakehouse.root), ("landing", settings.lakehouse.landing_dir)]:
        if not path.startswith(f"/Volumes/{catalog}/"):
            wrong.append(f"{what}: {path}")
    return wrong


# -- what every pipeline job must be ---------------------------------------------------------------


def check_runs_the_steps(job: dict[str, Any], steps: tuple[str, ...]) -> None:
    """One task per step, in order, each after the one before, each calling spark-ml-<step>."""
    tasks = wheel_tasks(job)
    keys = [t["task_key"] for t in tasks]
    assert keys == list(steps), f"the tasks {keys} are not the configured steps {list(steps)}"
    assert "depends_on" not in tasks[0]
    for previous, task in itertools.pairwise(tasks):
        assert task["depends_on"] == [{"task_key": previous["task_key"]}], task["task_key"]
    assert [t["python_wheel_task"]["entry_point"] for t in tasks] == [f"spark-ml-{s}" for s in steps]


def check_alerts_queues_and_bounds(job: dict[str, Any]) -> None:
    assert job["email_notifications"]["on_failure"] == ["${var.alert_email}"]
    assert job["email_notifications"]["on_duration_warning_threshold_exceeded"] == ["${var.alert_email}"]
    assert job["queue"] == {"enabled": True}
    (rule,) = job["health"]["rules"]
    assert rule["metric"] == "RUN_DURATION_SECONDS"
    assert rule["op"] == "GREATER_THAN"
    # The warning must come before the timeout ends the run, or it never fires.
    assert 0 < rule["value"] < job["timeout_seconds"]


def check_only_idempotent_steps_retry(job: dict[str, Any]) -> None:
    tasks = job["tasks"]
    retried = {t["task_key"] for t in tasks if t.get("max_retries", 0) > 0}
    assert retried == RETRIED_STEPS & {t["task_key"] for t in tasks}
    for task in tasks:
        if task["task_key"] in RETRIED_STEPS:
            assert task["min_retry_interval_millis"] > 0, task["task_key"]
            assert task["retry_on_timeout"] is False, task["task_key"]
        else:
            assert not {"max_retries", "min_retry_interval_millis", "retry_on_timeout"} & set(task), task["task_key"]


def check_job_cluster_variant(job: dict[str, Any], variables: dict[str, Any]) -> None:
    """Every task on the job's one single-node cluster (Unity Catalog access), the wheel as a library."""
    (cluster,) = job["job_clusters"]
    new_cluster = cluster["new_cluster"]
    assert new_cluster["spark_version"] == "${var.spark_version}"
    assert variables["spark_version"]["default"].startswith("16.4.x-")  # LTS on Spark 3.5, see the README
    assert new_cluster["num_workers"] == 0
    assert new_cluster["spark_conf"]["spark.databricks.cluster.profile"] == "singleNode"
    assert new_cluster["data_security_mode"] == "SINGLE_USER"  # Unity Catalog needs an access mode
    for task in wheel_tasks(job):
        assert task["job_cluster_key"] == cluster["job_cluster_key"], task["task_key"]
        assert [lib["whl"] for lib in task["libraries"]] == ["../dist/*.whl"], task["task_key"]
        assert "environment_key" not in task
    # The target decides: presets.trigger_pause_status applies only to a schedule without its own.
    assert "pause_status" not in job.get("schedule", {})


def check_serverless_variant(job: dict[str, Any], variables: dict[str, Any]) -> None:
    """No cluster: every task in the one environment whose dependencies install the wheel."""
    assert "job_clusters" not in job
    (environment,) = job["environments"]
    spec = environment["spec"]
    assert "client" not in spec  # deprecated in favour of environment_version
    assert spec["environment_version"] == "${var.serverless_environment_version}"
    assert variables["serverless_environment_version"]["default"] == "4"
    assert spec["dependencies"] == ["../dist/*.whl"]
    for task in wheel_tasks(job):
        assert task["environment_key"] == environment["environment_key"], task["task_key"]
        # Serverless rejects task libraries and clusters: the wheel comes from the environment.
        assert not {"libraries", "job_cluster_key", "new_cluster", "existing_cluster_id"} & set(task)


def check_retrains_on_drift(jobs: dict[str, dict[str, Any]], job_key: str, settings: Settings) -> None:
    """monitor publishes `retrain` (spark_ml/io/task_values.py); a condition compares it with the
    string "true" and only its true outcome starts the retrain job, which runs the steps the local
    pipeline runs again (spark_ml.tasks.pipeline.RETRAIN_STEPS) with the pipeline's own parameters
    and compute; the Databricks configuration retrains on an alert."""
    from spark_ml.tasks.pipeline import RETRAIN_STEPS

    job = jobs[job_key]
    tasks = {t["task_key"]: t for t in job["tasks"]}
    monitor, check, retrain = tasks["monitor"], tasks["retrain_check"], tasks["retrain"]
    assert "--fail-on-alert" not in monitor["python_wheel_task"]["parameters"]  # the alert acts by retraining
    assert check["depends_on"] == [{"task_key": "monitor"}]
    assert check["condition_task"] == {"op": "EQUAL_TO", "left": "{{tasks.monitor.values.retrain}}", "right": "true"}
    assert retrain["depends_on"] == [{"task_key": "retrain_check", "outcome": "true"}]
    assert set(tasks) == {t["task_key"] for t in wheel_tasks(job)} | {"retrain_check", "retrain"}
    assert settings.monitor.retrain_on == "alert"

    target = retrain_target(job)
    assert target in jobs, f"{job_key} starts {target}, which the bundle does not define"
    retrain_job = jobs[target]
    assert [t["task_key"] for t in retrain_job["tasks"]] == list(RETRAIN_STEPS)
    assert [t["python_wheel_task"]["entry_point"] for t in retrain_job["tasks"]] == [
        f"spark-ml-{s}" for s in RETRAIN_STEPS
    ]
    own = {t["task_key"]: t for t in wheel_tasks(job)}
    for task in retrain_job["tasks"]:
        assert task["python_wheel_task"] == own[task["task_key"]]["python_wheel_task"], task["task_key"]
        for key in ("job_cluster_key", "libraries", "environment_key"):
            assert task.get(key) == own[task["task_key"]].get(key), f"{task['task_key']}: {key}"
    for key in ("job_clusters", "environments"):
        assert retrain_job.get(key) == job.get(key), key
    assert "schedule" not in retrain_job  # it runs when the pipeline (or a person) starts it
    assert retrain_job["email_notifications"]["on_start"] == ["${var.alert_email}"]


def resolved_wheel_paths(job: dict[str, Any], job_file: Path) -> list[Path]:
    paths = [lib["whl"] for task in job["tasks"] for lib in task.get("libraries", []) if "whl" in lib]
    paths += [dep for env in job.get("environments", []) for dep in env["spec"].get("dependencies", [])]
    return [(job_file.parent / p).resolve() for p in paths if p.endswith(".whl")]


def built_wheels(config: dict[str, Any], bundle: Path) -> Path:
    """The wheel glob of the bundle's one artifact, as an absolute path."""
    (artifact,) = config["artifacts"].values()
    return (bundle.parent / artifact["path"]).resolve() / "dist" / "*.whl"
