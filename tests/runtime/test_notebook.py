"""The exploration notebook runs top to bottom in a real Jupyter kernel against the installed
package, passes `notebook check`, and is stored without outputs."""

from __future__ import annotations

import json

import pytest

from spark_ml.notebook.runner import run_notebook
from tests.helpers import REPO
from tests.slice import SliceRun

pytestmark = [pytest.mark.runtime]

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_there_is_an_exploration_notebook() -> None:
    assert [p.name for p in NOTEBOOKS] == ["explore_flights.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_stored_without_outputs(path) -> None:  # type: ignore[no-untyped-def]
    cells = json.loads(path.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code
    assert [(c["outputs"], c["execution_count"]) for c in code] == [([], None)] * len(code)


def test_the_notebook_runs_top_to_bottom_on_real_tables(slice_run: SliceRun, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARK_ML_LAKEHOUSE", slice_run.settings.lakehouse.root)
    result = run_notebook(REPO / "notebooks" / "explore_flights.ipynb", timeout=600)
    assert result.ok, result.text()
    assert result.code_cells == 4
