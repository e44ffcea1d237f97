"""The exploration notebook runs top to bottom in a real Jupyter kernel against the installed
package, passes `notebook check`, and is stored without outputs; the "before" notebook of the flights
use case and its `notebook extract`ion print and write the same."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession

from spark_ml import cli
from spark_ml.io.delta import Lakehouse
from spark_ml.notebook.runner import run_notebook
from tests.helpers import REPO
from tests.slice import SliceRun

pytestmark = [pytest.mark.runtime, pytest.mark.system]

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_there_is_an_exploration_notebook() -> None:
    assert [p.name for p in NOTEBOOKS] == ["explore_flights.ipynb", "flight_delays_before.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_stored_without_outputs(path) -> None:  # type: ignore[no-untyped-def]
    cells = json.loads(path.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code
    assert [(c["outputs"], c["execution_count"]) for c in code] == [([], None)] * len(code)


@pytest.mark.slow
def test_the_notebook_runs_top_to_bottom_on_real_tables(
    spark: SparkSession, world: SliceRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a real kernel, against the slice: what each cell shows is what the slice holds."""
    monkeypatch.setenv("SPARK_ML_LAKEHOUSE", world.settings.lakehouse.root)
    result = run_notebook(REPO / "notebooks" / "explore_flights.ipynb", timeout=600)
    assert result.ok, result.text()
    assert result.code_cells == 4
    setup, counted, by_hour, recomputed = result.outputs
    assert setup == ""  # the imports and the session print nothing
    lake = Lakehouse(spark, world.settings)
    features = lake.read("gold.flight_features")
    version = lake.latest_version("gold.flight_features")
    assert counted == f"{features.count():,} flights, {len(features.columns)} columns, Delta version {version}\n"
    hours = features.select("dep_hour").distinct().count()
    assert by_hour.splitlines()[0].split() == ["dep_hour", "flights", "delay_rate"]
    assert len(by_hour.splitlines()) == hours + 1  # one row per scheduled hour under the header
    rows = [line.split("|")[1:-1] for line in recomputed.splitlines() if line.startswith("|")][1:]
    assert len(rows) == 5
    assert all(row[2].strip() == row[3].strip() for row in rows)  # the transform gives the stored instant


@pytest.mark.slow
def test_the_extracted_before_notebook_prints_and_writes_what_the_original_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], spark: SparkSession
) -> None:
    """notebooks/flight_delays_before.ipynb and its extraction (with a job), run with `notebook run
    --against`, each in a fresh kernel on its own Spark: the same printed output and the same parquet
    table. The kernels see the module through PYTHONPATH (Spark's Python workers import the UDF from
    it) and run UDFs with this interpreter. Then the job extract wrote runs under spark-submit in an
    empty folder (it unpacks the CSV the notebook unpacks) and writes exactly the rows the original
    notebook wrote. (`extract --verify --job`, which also runs the job in a kernel, is tested on the
    corpus in tests/unit/notebook/test_verify.py: here spark-submit runs it.)"""
    before = Path(shutil.copy(REPO / "notebooks" / "flight_delays_before.ipynb", tmp_path / "before.ipynb"))
    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    args = ["notebook", "extract", str(before), "--module", "flight_delays.steps", "--root", str(tmp_path)]
    assert cli.main([*args, "--job", "late_by_carrier"]) == 0
    capsys.readouterr()
    rewritten = tmp_path / "before.extracted.ipynb"
    assert cli.main(["notebook", "run", str(before), "--against", str(rewritten), "--root", str(tmp_path)]) == 0
    report = capsys.readouterr().out
    # both ran to the end, printed the same lines and wrote the same summary table (a parquet folder)
    assert re.search(r"^original before\.ipynb: ran \d+ code cells", report, re.M), report
    assert re.search(r"^rewritten before\.extracted\.ipynb: ran \d+ code cells", report, re.M), report
    assert re.search(r"^the same: [1-9]\d* outputs, [1-9]\d* tables, \d+ files written compared$", report, re.M), report

    original = tmp_path / "original"
    original.mkdir()
    assert run_notebook(Path(shutil.copy(before, original / "before.ipynb"))).ok
    submitted = tmp_path / "submitted"
    submitted.mkdir()
    spark_submit = str(Path(sys.executable).with_name("spark-submit"))
    job = [spark_submit, "--master", "local[2]", str(tmp_path / "jobs" / "late_by_carrier.py")]
    done = subprocess.run(job, cwd=submitted, capture_output=True, text=True, check=False, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    written = spark.read.parquet(str(submitted / "output" / "late_by_carrier"))
    expected = spark.read.parquet(str(original / "output" / "late_by_carrier"))
    assert written.count() > 10
    assert_df_equality(written, expected, ignore_row_order=True)
