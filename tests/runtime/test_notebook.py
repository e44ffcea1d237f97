"""The exploration notebook runs top to bottom in a real Jupyter kernel against the installed
package, passes `notebook check`, and is stored without outputs."""

from __future__ import annotations

import json

import pytest
from pyspark.sql import SparkSession

from spark_ml.io.delta import Lakehouse
from spark_ml.notebook.runner import run_notebook
from tests.helpers import REPO
from tests.slice import SliceRun

pytestmark = [pytest.mark.runtime, pytest.mark.system]

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_there_is_an_exploration_notebook() -> None:
    assert [p.name for p in NOTEBOOKS] == ["explore_flights.ipynb"]


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
