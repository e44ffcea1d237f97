"""The task registry is the one list of tasks: the CLI, the console scripts in setup.cfg, the
pipeline's steps and the Databricks bundle's entry points all agree with it. No Spark needed."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
import yaml

from spark_ml import cli
from spark_ml.config import load_settings
from spark_ml.errors import ConfigError
from spark_ml.tasks import PIPELINE_STEPS, REGISTRY, TASKS, check_steps, get_task
from tests.helpers import CONF, REPO, declared_console_scripts


def _bundle_wheel_tasks() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted((REPO / "resources").glob("*.yml")):
        for job_key, job in yaml.safe_load(path.read_text())["resources"]["jobs"].items():
            found += [(job_key, task) for task in job["tasks"] if "python_wheel_task" in task]
    return found


def test_every_task_has_exactly_one_console_script_in_setup_cfg() -> None:
    scripts = {name: target for name, target in declared_console_scripts().items() if name != "spark-ml"}
    assert scripts == {task.console_script: f"spark_ml.cli:{task.entry_function}" for task in REGISTRY}
    assert declared_console_scripts()["spark-ml"] == "spark_ml.cli:entrypoint"


def test_every_console_script_target_resolves_to_its_task() -> None:
    for task in REGISTRY:
        entry = getattr(cli, task.entry_function)
        assert callable(entry)
        assert entry.__doc__ == f"Console script `spark-ml-{task.name}`."
        assert f'sys.exit(run_task("{task.name}"))' in inspect.getsource(entry)
    with pytest.raises(AttributeError, match="no attribute 'trian'"):
        cli.trian  # noqa: B018 - a typo in setup.cfg must fail, not run something else


def test_every_task_is_a_spark_ml_command_with_its_own_options() -> None:
    parser = cli.build_parser()
    subcommands = next(a for a in parser._subparsers._group_actions if a.dest == "command").choices
    for task in REGISTRY:
        assert task.name in subcommands
        flags = {flag for action in subcommands[task.name]._actions for flag in action.option_strings}
        assert {o.flag for o in task.options} <= flags
        assert {"--env", "--conf-dir", "--set", "--log-level"} <= flags


def test_every_task_module_has_a_run_function() -> None:
    for task in REGISTRY:
        assert callable(task.run_function()), task.name


def test_pipeline_steps_are_the_registered_tasks_but_the_pipeline() -> None:
    assert set(PIPELINE_STEPS) == set(TASKS) - {"pipeline"}
    for env in ("local", "databricks"):
        check_steps(load_settings(env, CONF))  # the shipped steps are registered tasks


def test_an_unknown_pipeline_step_names_the_file_and_the_known_steps() -> None:
    cfg = load_settings("local", CONF, ["pipeline.steps=[ingest, silvr]"])
    with pytest.raises(
        ConfigError, match=r"'silvr' for 'pipeline.steps.1' in --set pipeline.steps.*did you mean 'silver'"
    ):
        check_steps(cfg)
    with pytest.raises(ConfigError, match=r"unknown task 'trian' \(did you mean 'train'\?\)"):
        get_task("trian")


@pytest.mark.parametrize(
    ("job_key", "task"), _bundle_wheel_tasks(), ids=lambda v: v if isinstance(v, str) else v["task_key"]
)
def test_the_bundles_entry_points_are_registered_tasks(job_key: str, task: dict[str, Any]) -> None:
    wheel_task = task["python_wheel_task"]
    assert wheel_task["package_name"] == "spark_ml"
    assert wheel_task["entry_point"] in declared_console_scripts(), f"{job_key}.{task['task_key']}"
    assert wheel_task["entry_point"] == get_task(task["task_key"]).console_script


@pytest.mark.parametrize("path", sorted((REPO / "resources").glob("*.yml")), ids=lambda p: p.name)
def test_each_bundle_job_runs_a_task_after_the_tasks_whose_tables_it_reads(path: Path) -> None:
    """A task that reads a table another task of the job writes depends on it (directly or not)."""
    cfg = load_settings("databricks", CONF)
    for job in yaml.safe_load(path.read_text())["resources"]["jobs"].values():
        after = {t["task_key"]: {d["task_key"] for d in t.get("depends_on", [])} for t in job["tasks"]}
        ours = [t["task_key"] for t in job["tasks"] if "python_wheel_task" in t]  # not the retrain condition
        writers = {table: key for key in ours for table in get_task(key).writes(cfg)}
        for key in ours:
            needed = {writers[t] for t in get_task(key).reads(cfg) if t in writers and writers[t] != key}
            assert needed <= _upstream(after, key), f"{path.name}: {key} reads tables of {needed}"


def _upstream(after: dict[str, set[str]], key: str) -> set[str]:
    """Every task `key` runs after, directly or through others."""
    found: set[str] = set()
    todo = list(after[key])
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo.extend(after[name])
    return found
