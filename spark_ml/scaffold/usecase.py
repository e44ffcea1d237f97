"""`spark-ml new usecase NAME`: the files of a new use case, rendered from templates/ and written
into a project checkout, with its feature builder registered in spark_ml/features/registry.py and
its two Databricks jobs (classic and serverless) in resources/, which the bundle includes.

Nothing is written unless everything can be: a bad name, a folder that is not a checkout, a file
that exists already or a job key the bundle defines already is a ConfigError (exit 2) naming the
problem, before any write.
"""

from __future__ import annotations

import hashlib
import json
import keyword
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from spark_ml.errors import ConfigError

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_NAME = 30
REGISTRY = Path("spark_ml/features/registry.py")
BEGIN = "# -- use cases: "
END = "# -- end of use cases --"
IMPORT = re.compile(r"^from spark_ml\.features import ([a-z][a-z0-9_]*)  # isort: skip$")
CONF = {  # template -> file under conf_<name>/
    "conf_project.yml.j2": "base/project.yml",
    "conf_tables.yml.j2": "base/tables.yml",
    "conf_quality.yml.j2": "base/quality.yml",
    "conf_features.yml.j2": "base/features.yml",
    "conf_ml.yml.j2": "base/ml.yml",
    "conf_local.yml.j2": "local/local.yml",
    "conf_databricks.yml.j2": "databricks/databricks.yml",
}
RESOURCES = Path("resources")  # databricks.yml includes resources/*.yml


@dataclass(frozen=True)
class Planned:
    """One file to write (`path` relative to the checkout) and what it is."""

    path: Path
    text: str
    what: str
    edited: bool = False


def check_name(name: str) -> None:
    if not NAME.match(name) or len(name) > MAX_NAME or keyword.iskeyword(name):
        raise ConfigError(
            f"bad use case name {name!r}: expected a lowercase Python identifier of at most {MAX_NAME} characters "
            "(letters, digits, underscores; a letter first), e.g. churn"
        )


def check_checkout(root: Path) -> None:
    if not ((root / "spark_ml").is_dir() and (root / "conf").is_dir()):
        raise ConfigError(
            f"{root.resolve()} is not a spark-ml checkout (no spark_ml/ and conf/ folders): "
            "run this at the project's root or pass --into DIR"
        )
    if not (root / REGISTRY).is_file():
        raise ConfigError(f"{root / REGISTRY} is missing: the new builder could not be registered")


def job_files(name: str) -> dict[Path, str]:
    """The bundle files of use case `name` -> the key of the job each defines."""
    return {
        RESOURCES / f"{name}.job.yml": f"{name}_pipeline",
        RESOURCES / f"{name}_serverless.job.yml": f"{name}_pipeline_serverless",
    }


def retrain_key(name: str, job_key: str) -> str:
    """The retrain job a pipeline job starts: NAME_retrain, or NAME_retrain_serverless."""
    return f"{name}_retrain" + ("_serverless" if job_key.endswith("_serverless") else "")


def check_job_keys(name: str, root: Path) -> None:
    """A job key defined in another bundle file would make the bundle define it twice."""
    keys = {k for key in job_files(name).values() for k in (key, retrain_key(name, key))}
    for path in sorted((root / RESOURCES).glob("*.yml")):
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} is not valid YAML ({exc.__class__.__name__}): fix it first") from None
        resources = document.get("resources") if isinstance(document, dict) else None
        jobs = resources.get("jobs") if isinstance(resources, dict) else None
        clash = sorted(keys & set(jobs or {}))
        if clash:
            raise ConfigError(f"job {clash[0]!r} is defined already in {path}: pick another name than {name!r}")


TASKS = ("binary", "multiclass", "regression")


def variables(name: str, task: str = "binary") -> dict[str, str]:
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r} (choose one of {', '.join(TASKS)})")
    return {
        "name": name,
        "task": task,
        "params_class": "".join(part.capitalize() for part in name.split("_") if part) + "Params",
        "bronze_table": f"bronze.{name}_events",
        "events_table": f"silver.{name}_events",
        "features_table": f"gold.{name}_features",
        "predictions_table": f"ml.{name}_predictions",
        "monitoring_table": f"ml.{name}_monitoring",
    }


def _render(template: str, values: dict[str, str], **extra: object) -> str:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("spark_ml.scaffold", "templates"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # Python, YAML and notebook sources, not HTML
    )
    return env.get_template(template).render(**values, **extra)


def notebook_json(source: str, name: str) -> str:
    """A Jupyter notebook (nbformat 4.5, no outputs) from percent-format source: `# %%` starts a
    code cell, `# %% [markdown]` a markdown cell whose lines drop their leading '# '."""
    cells: list[dict[str, Any]] = []
    for i, chunk in enumerate(re.split(r"^# %%", source, flags=re.MULTILINE)[1:]):
        header, _, body = chunk.partition("\n")
        markdown = header.strip() == "[markdown]"
        lines = body.strip("\n").split("\n")
        if markdown:
            lines = [line[2:] if line.startswith("# ") else line.lstrip("#") for line in lines]
        text = [f"{line}\n" for line in lines]
        text[-1] = text[-1].rstrip("\n")
        cell: dict[str, Any] = {
            "cell_type": "markdown" if markdown else "code",
            "id": hashlib.sha256(f"{name}:{i}".encode()).hexdigest()[:8],
            "metadata": {},
            "source": text,
        }
        if not markdown:
            cell.update(execution_count=None, outputs=[])
        cells.append(cell)
    notebook = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def registry_block(modules: list[str]) -> list[str]:
    """The lines between the registry's markers for these use case modules."""
    imports = [f"from spark_ml.features import {m}  # isort: skip" for m in sorted(modules)]
    builders = [f"{m}.BUILDER" for m in sorted(modules)]
    listed = (
        [f"USE_CASES = ({builders[0]},)"]
        if len(builders) == 1
        else ["USE_CASES = (", *[f"    {b}," for b in builders], ")"]
    )
    return [*imports, "", *listed]


def registered(registry: str, name: str, path: Path) -> str:
    """The registry's text with module `name` added between its markers."""
    lines = registry.split("\n")
    begin = next((i for i, line in enumerate(lines) if line.startswith(BEGIN)), None)
    end = next((i for i, line in enumerate(lines) if line == END), None)
    if begin is None or end is None or end < begin:
        raise ConfigError(f"{path} has lost its markers ('{BEGIN}...' and '{END}'): register the builder by hand")
    block = lines[begin + 1 : end]
    modules = [m.group(1) for m in map(IMPORT.match, block) if m]
    if not modules or registry_block(modules) != block:
        raise ConfigError(
            f"{path}: the lines between its markers were edited by hand; register the builder by hand "
            f"(import spark_ml.features.{name} there and list its BUILDER)"
        )
    if name in modules:
        raise ConfigError(f"use case {name!r} is registered already in {path}")
    return "\n".join([*lines[: begin + 1], *registry_block([*modules, name]), *lines[end:]])


def plan(name: str, root: Path, task: str = "binary") -> list[Planned]:
    """Every file of use case `name` (its model of kind `task`), rendered, in the order they are listed."""
    values = variables(name, task)
    conf = Path(f"conf_{name}")
    planned = [
        Planned(Path(f"spark_ml/features/{name}.py"), _render("feature_module.py.j2", values), "the feature builder"),
        Planned(
            REGISTRY,
            registered((root / REGISTRY).read_text(encoding="utf-8"), name, REGISTRY),
            f"registers {name!r} with the features task",
            edited=True,
        ),
        *[Planned(conf / target, _render(t, values), "configuration") for t, target in CONF.items()],
        *[
            Planned(
                path,
                _render(
                    "job.yml.j2",
                    values,
                    job_key=key,
                    retrain_key=retrain_key(name, key),
                    serverless=key.endswith("_serverless"),
                ),
                f"Databricks job {key}",
            )
            for path, key in job_files(name).items()
        ],
        Planned(
            Path(f"tests/unit/features/test_{name}.py"), _render("test_features.py.j2", values), "its tests (chispa)"
        ),
        Planned(
            Path(f"notebooks/{name}.ipynb"),
            notebook_json(_render("notebook.py.j2", values), name),
            "a notebook that imports it",
        ),
    ]
    package = Path("tests/unit/features/__init__.py")
    if not (root / package).exists():
        planned.insert(-1, Planned(package, "", "makes the tests a package"))
    return planned


def new_usecase(name: str, root: Path, task: str = "binary") -> list[Planned]:
    """Write use case `name` (a `task` model: binary, multiclass or regression) into the checkout
    at `root`; returns what was written."""
    check_name(name)
    check_checkout(root)
    if (root / f"conf_{name}").exists():
        raise ConfigError(f"{root / f'conf_{name}'} exists already: use case {name!r} is there (pick another name)")
    check_job_keys(name, root)
    planned = plan(name, root, task)
    for item in planned:
        if not item.edited and (root / item.path).exists():
            raise ConfigError(f"{root / item.path} exists already: pick another name than {name!r}")
    for item in planned:
        target = root / item.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(item.text, encoding="utf-8")
    return planned


def next_steps(name: str) -> list[str]:
    """The commands that follow, printed after the files (run at the checkout's root)."""
    return [
        f"pytest tests/unit/features/test_{name}.py",
        f"# write bronze.{name}_events under ./lakehouse: your rows, or made-up ones to try it out:",
        "python - <<'EOF'",
        "from spark_ml import get_spark, load_settings",
        f"from spark_ml.features.{name} import sample_events",
        "from spark_ml.io.delta import Lakehouse",
        f'settings = load_settings("local", "conf_{name}")',
        "spark = get_spark(settings)",
        f'Lakehouse(spark, settings).write(sample_events(spark), "bronze.{name}_events", mode="overwrite")',
        "EOF",
        f"spark-ml pipeline --conf-dir conf_{name}",
        f"# on Databricks, once the spark_ml volume and <catalog>.bronze.{name}_events exist (docs/new-usecase.md):",
        "databricks bundle deploy -t dev",
        f"databricks bundle run {name}_pipeline",
    ]
