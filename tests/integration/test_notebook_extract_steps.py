"""`notebook extract --job`: the extracted notebook and the job write the same tables as the original.

The `steps` corpus notebook (tests/unit/notebook/extract_spec.py) is run three ways on the shared
session, on a small `bronze.flights` written here (a null delay, a cancelled flight, another day):
its Python cells as written, the extracted notebook importing the generated module, and the
generated job's `main([])`. Each writes `silver.late_by_carrier` and `silver.route_counts`; the
three results must be equal (chispa). Cells run in one namespace with `display` a no-op and a
`dbutils` stub that serves the widget's default, as a notebook run with default widgets would.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chispa import assert_df_equality

from spark_ml import cli
from spark_ml.notebook.readers import read_notebook
from tests.unit.notebook.extract_spec import CORPUS_SEED, EXTRACT_DIR

pytestmark = [
    pytest.mark.integration,
    pytest.mark.jvm_only("the job builds its session with SparkSession.builder.getOrCreate(), a classic session"),
]
OUTPUTS = ("silver.late_by_carrier", "silver.route_counts")


class Widgets:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def text(self, name: str, default: str, *_: Any) -> None:
        self.values.setdefault(name, default)

    def get(self, name: str) -> str:
        return self.values[name]


class DBUtils:
    def __init__(self) -> None:
        self.widgets = Widgets()


@pytest.fixture
def flights(spark: Any) -> Iterator[None]:
    exec(CORPUS_SEED, {"spark": spark})  # the corpus's input tables, as --setup creates them in a kernel
    yield
    spark.sql("DROP DATABASE IF EXISTS silver CASCADE")
    spark.sql("DROP DATABASE IF EXISTS bronze CASCADE")


def run_cells(path: Path, spark: Any) -> None:
    namespace: dict[str, Any] = {"spark": spark, "display": lambda *_: None, "dbutils": DBUtils()}
    for cell in read_notebook(path).cells:
        if cell.is_python:
            exec(compile(cell.source, f"{path.name} cell {cell.number}", "exec"), namespace)


def written(spark: Any) -> dict[str, Any]:
    """The output tables, copied (the next run overwrites them)."""
    out = {}
    for table in OUTPUTS:
        frame = spark.table(table)
        out[table] = spark.createDataFrame(frame.collect(), frame.schema)
    return out


@pytest.mark.parametrize("fmt", ["ipynb", "py"])
def test_extracted_notebook_and_job_write_what_the_original_writes(
    spark: Any, flights: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    notebook = Path(shutil.copy(EXTRACT_DIR / f"steps.{fmt}", tmp_path / f"steps.{fmt}"))
    args = ["notebook", "extract", str(notebook), "--module", "flights_pkg.steps", "--root", str(tmp_path)]
    assert cli.main([*args, "--job", "late_flights"]) == 0, capsys.readouterr().err
    run_cells(notebook, spark)
    original = written(spark)
    assert original["silver.late_by_carrier"].count() == 1  # AA's two late flights on 2013-01-01
    sys.path.insert(0, str(tmp_path))
    try:
        run_cells(notebook.with_name(f"steps.extracted.{fmt}"), spark)
        from_module = written(spark)
        spec = importlib.util.spec_from_file_location("late_flights_job", tmp_path / "jobs" / "late_flights.py")
        assert spec is not None
        assert spec.loader is not None
        job = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(job)
        job.main([])
        from_job = written(spark)
    finally:
        sys.path.remove(str(tmp_path))
        for loaded in [m for m in sys.modules if m.split(".")[0] == "flights_pkg"]:
            del sys.modules[loaded]
    for table in OUTPUTS:
        assert_df_equality(from_module[table], original[table], ignore_row_order=True)
        assert_df_equality(from_job[table], original[table], ignore_row_order=True)
