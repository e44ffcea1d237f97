"""The serverless job of the Databricks bundle as local commands: its tasks in order, each one's
console script, and its parameters with the workspace-specific ones (env, catalog, volumes)
replaced by a local lakehouse and a Spark Connect server. The Connect tests run exactly these."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from tests.helpers import REPO

JOB_FILE = REPO / "resources" / "flight_delay_pipeline_serverless.job.yml"
JOB_KEY = "flight_delay_pipeline_serverless"
# The parameters that name the workspace. Everything else a task passes is kept as it is.
WORKSPACE_SETTINGS = ("lakehouse.catalog", "lakehouse.root", "lakehouse.landing")


@dataclass(frozen=True)
class JobTask:
    key: str
    entry_point: str
    parameters: tuple[str, ...]
    depends_on: tuple[str, ...]


def job() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(JOB_FILE.read_text())["resources"]["jobs"][JOB_KEY]
    return data


def tasks() -> list[JobTask]:
    """The job's python_wheel_tasks in the order they run (each after those it depends on). The
    retrain_check condition and the retrain run_job task after monitor run no code of ours: locally
    the pipeline command applies the same rule (tests/integration/test_retrain_rule.py)."""
    found = [
        JobTask(
            t["task_key"],
            t["python_wheel_task"]["entry_point"],
            tuple(t["python_wheel_task"].get("parameters", [])),
            tuple(d["task_key"] for d in t.get("depends_on", [])),
        )
        for t in job()["tasks"]
        if "python_wheel_task" in t
    ]
    ordered: list[JobTask] = []
    pending = list(found)
    while pending:
        ready = [t for t in pending if set(t.depends_on) <= {o.key for o in ordered}]
        if not ready:
            raise AssertionError(f"the serverless job's tasks depend on each other in a cycle: {pending}")
        ordered.append(ready[0])
        pending.remove(ready[0])
    return ordered


def workspace_parameters(parameters: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the workspace-specific parameters, the others), splitting `--env X` and `--set KEY=VALUE`."""
    workspace: list[str] = []
    kept: list[str] = []
    items = list(parameters)
    i = 0
    while i < len(items):
        flag = items[i]
        if flag in ("--env", "--set") and i + 1 < len(items):
            value = items[i + 1]
            specific = flag == "--env" or value.split("=", 1)[0] in WORKSPACE_SETTINGS
            (workspace if specific else kept).extend([flag, value])
            i += 2
        else:
            kept.append(flag)
            i += 1
    return workspace, kept


def local_commands(root: str, remote: str, extra: Sequence[str] = ()) -> list[tuple[str, list[str]]]:
    """(console script, arguments) per task: the job's own parameters without the workspace ones,
    then a local lakehouse, the Spark Connect server, and `extra` overrides."""
    local = ["--env", "local", "--set", f"lakehouse.root={root}", "--set", "spark.mode=connect"]
    local += ["--set", f"spark.remote={remote}"]
    commands = []
    for task in tasks():
        _, kept = workspace_parameters(task.parameters)
        commands.append((task.entry_point, [*local, *extra, *kept]))
    return commands
