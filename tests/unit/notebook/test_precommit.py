"""The pre-commit hook (.pre-commit-hooks.yaml): its entry is a declared console script, and the command
runs on staged files the way pre-commit calls it (entry + args + file names)."""

from __future__ import annotations

import configparser
import importlib
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import REPO
from tests.unit.notebook.fixture_spec import FIXTURES_DIR

HOOKS = REPO / ".pre-commit-hooks.yaml"


def hook() -> dict[str, Any]:
    hooks = yaml.safe_load(HOOKS.read_text())
    assert isinstance(hooks, list)
    assert [h["id"] for h in hooks] == ["spark-ml-notebook-check"]
    found: dict[str, Any] = hooks[0]
    return found


def console_scripts() -> dict[str, str]:
    parser = configparser.ConfigParser()
    parser.read(REPO / "setup.cfg")
    lines = parser["options.entry_points"]["console_scripts"].strip().splitlines()
    return dict(tuple(part.strip() for part in line.split("=", 1)) for line in lines)  # type: ignore[misc]


def run_hook(files: list[Path]) -> subprocess.CompletedProcess[str]:
    """What pre-commit runs: the entry's command with its arguments, then the hook's args, then the files."""
    config = hook()
    command, *arguments = shlex.split(config["entry"])
    module, function = console_scripts()[command].split(":")
    script = f"import sys; from {module} import {function}; sys.argv[0] = {command!r}; {function}()"
    argv = [*arguments, *config.get("args", []), *(str(f.relative_to(REPO)) for f in files)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-c", script, *argv], cwd=REPO, capture_output=True, text=True, env=env, check=False
    )


def test_the_hook_definition() -> None:
    config = hook()
    assert config["language"] == "python"
    assert config["entry"].startswith("spark-ml notebook check")
    assert set(config["types_or"]) == {"jupyter", "python"}
    assert any(dep.startswith("nbformat") for dep in config["additional_dependencies"])


def test_the_entry_is_a_declared_console_script() -> None:
    command = shlex.split(hook()["entry"])[0]
    target = console_scripts()[command]
    assert target == "spark_ml.cli:entrypoint"
    module, function = target.split(":")
    assert callable(getattr(importlib.import_module(module), function))


@pytest.mark.system
def test_staged_notebooks_with_findings_fail_the_commit() -> None:
    out = run_hook([FIXTURES_DIR / "nb202_undefined_name.ipynb", FIXTURES_DIR / "nb505_unseeded_randomness.py"])
    assert out.returncode == 1, out.stderr
    assert "NB202 error: `carriers` is read in cell 3" in out.stdout
    assert "nb505_unseeded_randomness.py:16: cell 3, line 1: NB505 warning" in out.stdout
    assert out.stdout.rstrip().endswith("8 at or above warning")


@pytest.mark.system
def test_plain_python_files_staged_with_clean_notebooks_pass() -> None:
    staged = [
        FIXTURES_DIR / "nb202_undefined_name_fixed.ipynb",
        FIXTURES_DIR / "nb505_unseeded_randomness_fixed.py",
        REPO / "spark_ml" / "notebook" / "cli.py",  # not a notebook: pre-commit passes every .py
    ]
    out = run_hook(staged)
    assert (out.returncode, out.stderr) == (0, "")
    assert out.stdout == "2 notebooks checked: no findings\n"
