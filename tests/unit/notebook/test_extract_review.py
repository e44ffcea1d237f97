"""The generated module passes the project's own review (issue: "mypy-clean signatures where types
are known, and, inside this repo, the import contracts"). `system` tier: mypy and lint-imports run
as processes. Ruff is checked in test_extract.py."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from spark_ml import cli
from tests.helpers import REPO
from tests.unit.notebook.extract_spec import EXTRACT_DIR
from tests.unit.notebook.fixture_spec import code, databricks_text
from tests.unit.notebook.test_extract import EXTRACTABLE

pytestmark = pytest.mark.system
BIN = Path(sys.executable).parent


def _extract(notebook: Path, module: str, root: Path) -> None:
    assert cli.main(["notebook", "extract", str(notebook), "--module", module, "--root", str(root)]) == 0


def test_every_generated_module_is_mypy_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """DataFrame in, DataFrame out where the types are known; one mypy run over all the modules of
    the corpus and of the realistic before-notebook (each its own package)."""
    notebooks = [EXTRACT_DIR / f"{name}.{fmt}" for name, fmt in EXTRACTABLE]
    notebooks.append(REPO / "notebooks" / "flight_delays_before.ipynb")
    modules = []
    for i, source in enumerate(notebooks):
        folder = tmp_path / f"n{i}"
        folder.mkdir()
        notebook = Path(shutil.copy(source, folder / source.name))
        _extract(notebook, f"pkg{i}.steps{i}", tmp_path)  # each its own module and test file
        modules.append(str(tmp_path / f"pkg{i}" / f"steps{i}.py"))
    capsys.readouterr()
    annotated = [m for m in modules if "-> DataFrame" in Path(m).read_text()]
    assert len(annotated) >= 4  # the steps and the annotated helpers carry DataFrame signatures
    result = subprocess.run(
        [str(BIN / "mypy"), "--check-untyped-defs", "--no-incremental", *modules],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _repo_copy(tmp_path: Path) -> Path:
    """The package and its import contracts, outside the checkout."""
    root = tmp_path / "repo"
    shutil.copytree(REPO / "spark_ml", root / "spark_ml", ignore=shutil.ignore_patterns("__pycache__", "conf"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


def _contracts(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "lint-imports"), "--no-cache"],
        capture_output=True,
        text=True,
        check=False,
        cwd=root,
        env={"PATH": str(BIN), "PYTHONPATH": str(root), "HOME": str(root)},
    )


def test_a_module_extracted_into_the_package_keeps_the_import_contracts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The before-notebook's functions and steps written as spark_ml.features.flight_steps: the
    layers and the "pure Spark code never touches storage or MLflow" contract hold; the same
    extraction of a function that logs to MLflow breaks that contract, naming the module."""
    root = _repo_copy(tmp_path)
    notebook = Path(shutil.copy(REPO / "notebooks" / "flight_delays_before.ipynb", tmp_path / "before.ipynb"))
    _extract(notebook, "spark_ml.features.flight_steps", root)
    kept = _contracts(root)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert "Contracts: 5 kept, 0 broken." in kept.stdout

    logging_notebook = tmp_path / "logs.py"
    logging_notebook.write_text(
        databricks_text(
            [
                code("import mlflow\n\n\ndef log_rows(df):\n    mlflow.log_metric('rows', df.count())\n    return df"),
                code('flights = spark.table("bronze.flights")\nlogged = log_rows(flights)'),
            ]
        )
    )
    _extract(logging_notebook, "spark_ml.features.logged_steps", root)
    capsys.readouterr()
    broken = _contracts(root)
    assert broken.returncode != 0
    assert "Pure Spark code never touches storage, MLflow or tasks BROKEN" in broken.stdout
    assert "spark_ml.features.logged_steps -> mlflow" in broken.stdout
