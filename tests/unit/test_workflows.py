"""Every command a GitHub Actions workflow runs is one a developer can run too.

A `run:` line must be a Makefile target, a `databricks bundle` subcommand the deploy uses, or a
`spark-ml` command of `spark_ml.cli.build_parser()`; anything else is shell that CI alone would
exercise. The few environment lines that have no local equivalent are allowed by name below.
Only parses YAML: no process is started.
"""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from spark_ml.cli import build_parser
from tests.helpers import REPO

WORKFLOWS = REPO / ".github" / "workflows"
MAKE_TARGET = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_-]*):", re.MULTILINE)
BUNDLE_SUBCOMMANDS = {"validate", "deploy", "run"}

# Exact lines with no make target to stand for: the deploy puts the venv on PATH because the bundle's
# artifact build runs `python -m build`, and `build` is installed in the venv, not the runner's Python.
ALLOWED_LINES = {'echo "$PWD/.venv/bin" >> "$GITHUB_PATH"'}


def _make_targets() -> set[str]:
    return set(MAKE_TARGET.findall((REPO / "Makefile").read_text(encoding="utf-8")))


def _spark_ml_commands() -> set[str]:
    (subparsers,) = (a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return set(subparsers.choices)


def _lines(script: str) -> Iterator[str]:
    """The commands of a `run:` block: continuation lines joined, blanks and comments skipped."""
    for line in script.replace("\\\n", " ").splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            yield stripped


def _problem(line: str, targets: set[str], commands: set[str]) -> str | None:
    if line in ALLOWED_LINES:
        return None
    words = shlex.split(line)
    if words[0] == "make":
        named = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
        unknown = [w for w in named if w not in targets]
        if not named or unknown:
            return f"make target(s) {unknown or '(none)'} not in the Makefile"
        return None
    if words[:2] == ["databricks", "bundle"]:
        if len(words) < 3 or words[2] not in BUNDLE_SUBCOMMANDS:
            return f"databricks bundle subcommand not one of {sorted(BUNDLE_SUBCOMMANDS)}"
        return None
    if words[0] == "spark-ml":
        if len(words) < 2 or words[1] not in commands:
            return "not a spark-ml command of spark_ml.cli.build_parser()"
        return None
    return "neither a make target, a databricks bundle command, a spark-ml command nor an allowed line"


def _steps(workflow: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    for job_key, job in (workflow.get("jobs") or {}).items():
        for index, step in enumerate(job.get("steps") or []):
            if "run" in step:
                yield job_key, step.get("name", f"step {index + 1}"), step["run"]


def check(path: Path, targets: set[str], commands: set[str]) -> list[str]:
    """One message per offending line, naming the workflow, job, step and command."""
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        f"{path.name}: job {job_key}, {step}: {line!r}: {why}"
        for job_key, step, script in _steps(workflow)
        for line in _lines(script)
        if (why := _problem(line, targets, commands)) is not None
    ]


def _workflow_files() -> list[Path]:
    return sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])


def test_there_are_workflows() -> None:
    """An empty folder would make the check below pass for nothing."""
    assert {p.name for p in _workflow_files()} >= {"ci.yml", "deploy.yml"}


@pytest.mark.parametrize("path", _workflow_files(), ids=lambda p: p.name)
def test_every_run_line_is_a_documented_command(path: Path) -> None:
    assert check(path, _make_targets(), _spark_ml_commands()) == []


def test_the_makefile_parse_finds_targets_and_skips_variables() -> None:
    targets = _make_targets()
    assert {"test", "test-system", "wheel", "lint-workflows"} <= targets
    assert not {".PHONY", "PYTHON", "EXTRAS"} & targets


def test_the_check_names_workflow_job_step_and_command(tmp_path: Path) -> None:
    workflow = tmp_path / "bad.yml"
    workflow.write_text(
        yaml.safe_dump(
            {
                "jobs": {
                    "build": {
                        "steps": [
                            {"name": "ok", "run": "make test\ndatabricks bundle deploy -t staging"},
                            {"name": "typo", "run": "make tets"},
                            {"name": "destroy", "run": "databricks bundle destroy -t prod"},
                            {"run": "pip install \\\n  something"},
                            {"name": "cli", "run": "spark-ml no-such-command\nspark-ml doctor"},
                        ]
                    }
                }
            }
        ),
        encoding="utf-8",
    )
    problems = check(workflow, _make_targets(), _spark_ml_commands())
    assert problems == [
        "bad.yml: job build, typo: 'make tets': make target(s) ['tets'] not in the Makefile",
        "bad.yml: job build, destroy: 'databricks bundle destroy -t prod': databricks bundle subcommand "
        "not one of ['deploy', 'run', 'validate']",
        "bad.yml: job build, step 4: 'pip install    something': neither a make target, a databricks bundle "
        "command, a spark-ml command nor an allowed line",
        "bad.yml: job build, cli: 'spark-ml no-such-command': not a spark-ml command of spark_ml.cli.build_parser()",
    ]


# Environment variables that carry a credential or the identity the bundle runs as.
CREDENTIALS = {
    "DATABRICKS_HOST",
    "DATABRICKS_TOKEN",
    "DATABRICKS_CLIENT_ID",
    "DATABRICKS_CLIENT_SECRET",
    "DATABRICKS_ACCOUNT_ID",
    "DATABRICKS_AZURE_CLIENT_SECRET",
    "ARM_CLIENT_SECRET",
    "BUNDLE_VAR_service_principal",
}
SECRET = re.compile(r"^\$\{\{\s*secrets\.[A-Z][A-Z0-9_]*\s*\}\}$")


def credential_problems(workflow: dict[str, Any], name: str) -> list[str]:
    """A credential is set only from the workflow's secrets, and any secret only on a step whose every
    command is a `databricks` one: never at workflow or job level, or on a step that also builds or
    installs, where other programs (package installs too) would see it."""
    found: list[str] = []
    scopes: list[tuple[str, dict[str, Any], str | None]] = [(f"{name}: workflow env", workflow.get("env") or {}, None)]
    for job_key, job in (workflow.get("jobs") or {}).items():
        scopes.append((f"{name}: job {job_key} env", job.get("env") or {}, None))
        for index, step in enumerate(job.get("steps") or []):
            label = f"{name}: job {job_key}, {step.get('name', f'step {index + 1}')}"
            scopes.append((label, {**(step.get("env") or {}), **(step.get("with") or {})}, step.get("run")))
    for label, env, run in scopes:
        for key, value in env.items():
            secret = "secrets." in str(value)
            if key in CREDENTIALS and not SECRET.match(str(value)):
                found.append(f"{label}: {key} is not set from secrets.*")
            elif (key in CREDENTIALS or secret) and not _databricks_only(run):
                found.append(f"{label}: {key} is visible beyond the databricks commands")
    return found


def _databricks_only(run: object) -> bool:
    lines = list(_lines(run)) if isinstance(run, str) else []
    return bool(lines) and all(line.startswith("databricks ") for line in lines)


@pytest.mark.parametrize("path", _workflow_files(), ids=lambda p: p.name)
def test_credentials_come_only_from_secrets_on_the_databricks_steps(path: Path) -> None:
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert credential_problems(workflow, path.name) == []
    text = path.read_text(encoding="utf-8")
    assert not re.search(
        r"dapi[0-9a-f]{8,}|https://[\w.-]+\.(cloud\.databricks\.com|gcp\.databricks\.com|azuredatabricks\.net)", text
    )


def test_the_credential_check_names_a_literal_and_a_workflow_wide_secret() -> None:
    workflow = {
        "env": {"DATABRICKS_CLIENT_SECRET": "${{ secrets.SP_SECRET }}"},
        "jobs": {
            "deploy": {
                "steps": [
                    {"run": "make wheel", "env": {"DATABRICKS_HOST": "${{ secrets.DATABRICKS_HOST }}"}},
                    {"name": "ship", "run": "databricks bundle deploy", "env": {"DATABRICKS_TOKEN": "dapi123"}},
                    {"name": "mixed", "run": "make wheel\ndatabricks bundle deploy", "env": {"X": "${{ secrets.X }}"}},
                    {"name": "action", "uses": "some/action@v1", "with": {"token": "${{ secrets.TOKEN }}"}},
                    {
                        "name": "fine",
                        "run": "databricks bundle validate\ndatabricks bundle deploy",
                        "env": {"DATABRICKS_HOST": "${{ secrets.H }}"},
                    },
                ]
            }
        },
    }
    assert credential_problems(workflow, "w.yml") == [
        "w.yml: workflow env: DATABRICKS_CLIENT_SECRET is visible beyond the databricks commands",
        "w.yml: job deploy, step 1: DATABRICKS_HOST is visible beyond the databricks commands",
        "w.yml: job deploy, ship: DATABRICKS_TOKEN is not set from secrets.*",
        "w.yml: job deploy, mixed: X is visible beyond the databricks commands",
        "w.yml: job deploy, action: token is visible beyond the databricks commands",
    ]
