"""`spark-ml notebook extract`: the module it writes, the rewritten notebook, refusals, and the CLI's options.

Every notebook is copied to tmp first (the command writes its `.extracted` twin beside it). Nothing
here starts Spark or another process, except the `system` test that runs ruff on the modules.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from spark_ml import cli
from spark_ml.notebook.readers import code_cell, read_notebook
from spark_ml.notebook.rules_names import BUILTINS
from spark_ml.notebook.scopes import analyze
from tests.helpers import REPO
from tests.unit.notebook.extract_spec import EXTRACT_DIR, EXTRACT_FIXTURES, build
from tests.unit.notebook.fixture_spec import code, databricks_text, md

FORMATS = ["ipynb", "py"]
MODULE = "flights_pkg.steps"
EXTRACTABLE = [
    ("late_flights", "ipynb"),
    ("late_flights", "py"),
    ("udf_dict", "py"),
    ("widgets_sql", "ipynb"),
    ("steps", "ipynb"),
    ("steps", "py"),
]


def copied(tmp_path: Path, name: str, fmt: str) -> Path:
    folder = tmp_path / "notebooks"
    folder.mkdir(exist_ok=True)
    return Path(shutil.copy(EXTRACT_DIR / f"{name}.{fmt}", folder / f"{name}.{fmt}"))


def run(capsys: pytest.CaptureFixture[str], notebook: Path, root: Path, *args: str) -> tuple[int, str, str]:
    code = cli.main(["notebook", "extract", str(notebook), "--module", MODULE, "--root", str(root), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def extracted(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, fmt: str) -> tuple[str, Path]:
    notebook = copied(tmp_path, name, fmt)
    code, _, err = run(capsys, notebook, tmp_path)
    assert code == 0, err
    return (tmp_path / "flights_pkg" / "steps.py").read_text(), notebook.with_name(f"{name}.extracted.{fmt}")


def assert_no_free_globals(module: str) -> None:
    """Every name the module's functions read is a parameter, a local, an import, a constant, another
    function of the module or a builtin (the notebook check's own scope engine decides)."""
    cell = code_cell(1, module, None)
    facts = analyze([(cell, ast.parse(cell.source))])
    assert facts.definitions
    for definition in facts.definitions:
        free = definition.globals_used - facts.bound - BUILTINS
        assert not free, f"{definition.qualname} reads {sorted(free)}"


def test_corpus_files_are_valid_and_in_sync_with_the_spec(tmp_path: Path) -> None:
    for name in EXTRACT_FIXTURES:
        nbformat.validate(nbformat.read(str(EXTRACT_DIR / f"{name}.ipynb"), as_version=4))
    for generated in build(tmp_path):
        committed = EXTRACT_DIR / generated.name
        assert committed.read_text() == generated.read_text(), f"regenerate {committed.name} (see extract_spec.py)"


@pytest.mark.parametrize("fmt", FORMATS)
def test_module_text_functions_lose_their_globals(tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    module, _ = extracted(tmp_path, capsys, "late_flights", fmt)
    lines = module.splitlines()
    assert lines[:8] == [
        f'"""Functions extracted from late_flights.{fmt} by `spark-ml notebook extract`."""',
        "",
        "from __future__ import annotations",
        "",
        "from pyspark.sql import DataFrame, SparkSession",
        "from pyspark.sql import functions as F",
        "",
        "THRESHOLD = 15",
    ]
    # a DataFrame from the call site, an UPPER_CASE constant as a parameter defaulting to it
    assert "def late_flights(flights: DataFrame, *, threshold: int = THRESHOLD) -> DataFrame:" in lines
    assert '    return flights.filter(F.col("arr_delay") > threshold)' in lines
    assert "    # strictly later than the threshold" in lines  # comments kept
    # a cell value and the callee's parameters, passed on (too long for one line at ruff's 88)
    start = lines.index("def late_by_carrier(")
    assert lines[start : start + 5] == [
        "def late_by_carrier(",
        "    flights: DataFrame,",
        "    *,",
        "    min_flights: int,",
        "    threshold: int = THRESHOLD,",
    ]
    assert lines[start + 5] == ") -> DataFrame:"
    assert "        late_flights(flights, threshold=threshold)" in lines
    # spark from the DataFrame parameter, else a parameter
    start = lines.index("def with_carrier_names(late: DataFrame) -> DataFrame:")
    assert lines[start + 1] == "    spark = late.sparkSession"
    assert "def carrier_table(*, spark: SparkSession) -> DataFrame:" in lines
    assert module.endswith('    return spark.table("bronze.carriers")\n')
    assert "display" not in module


@pytest.mark.parametrize("fmt", FORMATS)
def test_notebook_keeps_its_cells_with_an_import_and_rewritten_calls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    original = (EXTRACT_DIR / f"late_flights.{fmt}").read_text()
    _, rewritten = extracted(tmp_path, capsys, "late_flights", fmt)
    assert (tmp_path / "notebooks" / f"late_flights.{fmt}").read_text() == original  # never modified
    cells = [c.source for c in read_notebook(rewritten).cells if c.is_python]
    assert cells == [
        "from pyspark.sql import functions as F",
        'THRESHOLD = 15\nmin_flights = 10\nflights = spark.table("bronze.flights")',
        "from flights_pkg.steps import late_flights, late_by_carrier, with_carrier_names, carrier_table",
        "late = late_flights(flights, threshold=THRESHOLD)\n"
        "by_carrier = late_by_carrier(flights, min_flights=min_flights, threshold=THRESHOLD)\n"
        "named = with_carrier_names(late)\n"
        "carriers = carrier_table(spark=spark)\n"
        "display(named)",
    ]
    assert rewritten.suffix == f".{fmt}"
    if fmt == "py":
        assert rewritten.read_text().startswith("# Databricks notebook source\n")


def test_udf_keeps_its_decorator_and_reads_its_dict_as_a_module_constant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module, rewritten = extracted(tmp_path, capsys, "udf_dict", "ipynb")
    assert 'CARRIER_NAMES = {"AA": "American", "B6": "JetBlue"}' in module
    assert "@F.udf(returnType=StringType())\ndef carrier_name(code):\n" in module
    assert "from pyspark.sql.types import StringType" in module
    calls = read_notebook(rewritten).cells[4].source
    assert 'carrier_name(F.col("carrier"))' in calls  # a UDF's call is left as it is


def test_widgets_display_and_sql_stay_in_the_notebook(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module, rewritten = extracted(tmp_path, capsys, "widgets_sql", "py")
    assert "def on_run_date(frame: DataFrame, *, run_date: Any) -> DataFrame:" in module
    assert "from typing import Any" in module
    assert "dbutils" not in module
    cells = read_notebook(rewritten).cells
    assert cells[1].source.endswith('run_date = dbutils.widgets.get("run_date")')
    assert (cells[2].language, cells[2].raw) == ("sql", "%sql\nSELECT count(*) AS n FROM bronze.flights")
    assert (
        cells[4].source == 'flights = spark.table("bronze.flights")\ndisplay(on_run_date(flights, run_date=run_date))'
    )


@pytest.mark.parametrize(("name", "fmt"), EXTRACTABLE)
def test_module_has_no_free_globals_and_runs_no_spark_at_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, fmt: str
) -> None:
    module, _ = extracted(tmp_path, capsys, name, fmt)
    tree = ast.parse(module)
    for statement in tree.body:  # nothing at module level but a docstring, imports, literal constants, defs
        if isinstance(statement, ast.Assign):
            ast.literal_eval(statement.value)
        else:
            assert isinstance(statement, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.Expr)), ast.dump(statement)
    assert_no_free_globals(module)
    from pyspark.sql import SparkSession

    before = SparkSession.getActiveSession()
    sys.path.insert(0, str(tmp_path))
    try:
        imported = importlib.import_module(MODULE)
        assert all(callable(getattr(imported, d.name)) for d in tree.body if isinstance(d, ast.FunctionDef))
    finally:
        sys.path.remove(str(tmp_path))
        for loaded in [m for m in sys.modules if m.split(".")[0] == "flights_pkg"]:
            del sys.modules[loaded]
    assert SparkSession.getActiveSession() is before


@pytest.mark.parametrize(
    ("name", "fmt", "message"),
    [
        ("refuse_used_before_defined", "py", r"cell 3, line 1: NB201 `flights` is used in cell 3 but first defined"),
        ("refuse_undefined_name", "ipynb", r"cell 3, line 2: NB202 `threshold` is read by `late` in cell 3"),
        ("refuse_out_of_order", "ipynb", r"cell 4, line 1: NB101 cell 4 has execution count 2 but cell 3"),
        ("uses_dbutils", "py", r"function `api_token` \(cell 2\) uses `dbutils`, which only a notebook provides"),
    ],
)
def test_refused_notebooks_exit_2_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, fmt: str, message: str
) -> None:
    notebook = copied(tmp_path, name, fmt)
    before = files(tmp_path)
    code, out, err = run(capsys, notebook, tmp_path)
    assert code == 2
    assert out == ""
    assert err.startswith("spark-ml notebook: error: ")
    assert re.search(message, err), err
    assert files(tmp_path) == before


def test_out_of_order_is_visible_only_in_the_jupyter_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module, _ = extracted(tmp_path, capsys, "refuse_out_of_order", "py")  # no saved counts in the .py twin
    assert "def first_rows(frame: DataFrame) -> DataFrame:" in module


def test_dry_run_prints_the_module_and_a_diff_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = copied(tmp_path, "late_flights", "py")
    before = files(tmp_path)
    code, out, _ = run(capsys, notebook, tmp_path, "--dry-run")
    assert code == 0
    assert files(tmp_path) == before
    assert out.startswith(f'# {tmp_path / "flights_pkg" / "steps.py"}\n"""Functions extracted from late_flights.py')
    assert f"--- {notebook}\n+++ {notebook.with_name('late_flights.extracted.py')}\n" in out
    assert "-def late_flights(flights):\n" in out
    assert "+late = late_flights(flights, threshold=THRESHOLD)\n" in out


def test_second_run_refuses_to_overwrite_unless_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notebook = copied(tmp_path, "late_flights", "ipynb")
    assert run(capsys, notebook, tmp_path)[0] == 0
    target = tmp_path / "flights_pkg" / "steps.py"
    target.write_text("# edited by hand\n")
    code, _, err = run(capsys, notebook, tmp_path)
    assert code == 2
    assert err == f"spark-ml notebook: error: {target} exists: pass --force to overwrite it (nothing written)\n"
    assert target.read_text() == "# edited by hand\n"
    code, out, _ = run(capsys, notebook, tmp_path, "--force")
    assert code == 0
    assert target.read_text().startswith('"""Functions extracted from late_flights.ipynb')
    assert out.splitlines()[:3] == [
        f"wrote {target}",
        f"wrote {notebook.with_name('late_flights.extracted.ipynb')}",
        f"wrote {tmp_path / 'tests' / 'unit' / 'test_steps.py'}",
    ]


def test_json_output_and_package_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notebook = copied(tmp_path, "late_flights", "py")
    code, out, _ = run(capsys, notebook, tmp_path, "--format", "json")
    assert code == 0
    assert json.loads(out) == {
        "module": str(tmp_path / "flights_pkg" / "steps.py"),
        "tests": [str(tmp_path / "tests" / "unit" / "test_steps.py")],
        "notebook": str(notebook.with_name("late_flights.extracted.py")),
        "job": None,
        "functions": [
            {"name": "late_flights", "params": ["flights", "threshold"], "cells": [4]},
            {"name": "late_by_carrier", "params": ["flights", "min_flights", "threshold"], "cells": [5]},
            {"name": "with_carrier_names", "params": ["late"], "cells": [6]},
            {"name": "carrier_table", "params": ["spark"], "cells": [6]},
        ],
    }
    assert (tmp_path / "flights_pkg" / "__init__.py").read_text() == ""


def notebook_of(tmp_path: Path, *sources: str) -> Path:
    path = tmp_path / "inline.py"
    path.write_text(databricks_text([md("# Inline"), *(code(s) for s in sources)]))
    return path


def test_a_function_already_in_the_package_is_imported_not_copied(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    package = tmp_path / "flights_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "transforms.py").write_text(
        'def with_is_late(df, threshold):\n    return df.withColumn("is_late", df["arr_delay"] > threshold)\n'
    )
    notebook = notebook_of(
        tmp_path,
        "def with_is_late(df, threshold):\n"
        "    # same body as the package's\n"
        '    return df.withColumn("is_late", df["arr_delay"] > threshold)',
        "def first_rows(df):\n    return with_is_late(df, 15).limit(5)",
        'flights = spark.table("bronze.flights")\nlate = first_rows(flights)',
    )
    code, out, _ = run(capsys, notebook, tmp_path)
    assert code == 0
    module = (package / "steps.py").read_text()
    assert "def with_is_late" not in module
    assert "from flights_pkg.transforms import with_is_late" in module.splitlines()  # what first_rows calls
    assert "def first_rows(df: DataFrame):" in module
    assert_no_free_globals(module)
    assert read_notebook(tmp_path / "inline.extracted.py").cells[1].source == (
        "from flights_pkg.steps import first_rows\nfrom flights_pkg.transforms import with_is_late"
    )
    assert "  with_is_late imported from flights_pkg.transforms (same code there)" in out


def test_a_udf_calls_a_helper_with_the_helpers_constant_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = notebook_of(
        tmp_path,
        "from pyspark.sql import functions as F\n\nSCALE = 60",
        "def minutes(hours):\n    return hours * SCALE",
        '@F.udf("double")\ndef duration(hours):\n    return float(minutes(hours))',
        'flights = spark.table("bronze.flights")\ntimed = flights.withColumn("m", duration("hours"))',
    )
    code, _, err = run(capsys, notebook, tmp_path)
    assert code == 0, err
    module = (tmp_path / "flights_pkg" / "steps.py").read_text()
    assert "def minutes(hours, *, scale: int = SCALE):\n    return hours * scale\n" in module
    assert '@F.udf("double")\ndef duration(hours):\n    return float(minutes(hours))\n' in module
    assert_no_free_globals(module)
    cells = [c.source for c in read_notebook(tmp_path / "inline.extracted.py").cells[1:]]
    assert cells[1:] == [
        "from flights_pkg.steps import minutes, duration",
        'flights = spark.table("bronze.flights")\ntimed = flights.withColumn("m", duration("hours"))',
    ]


def test_a_function_passed_as_a_value_that_needs_new_parameters_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = notebook_of(
        tmp_path,
        "cutoff = 10\n\n\ndef late(df):\n    return df.filter(df.arr_delay > cutoff)",
        'flights = spark.table("bronze.flights")\nlate_rows = flights.transform(late)',
    )
    code, _, err = run(capsys, notebook, tmp_path)
    assert code == 2
    assert "`late` is used as a value in cell 3, line 2 (not called): it would need `cutoff` passed" in err
    assert files(tmp_path) == ["inline.py"]


def test_a_parameter_named_like_a_global_its_callee_reads_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`strict` reads the notebook's `cutoff`; `both` has a `cutoff` of its own: passing it on would
    change what `strict` compares with, and adding another would be a duplicate argument."""
    notebook = notebook_of(
        tmp_path,
        "cutoff = 10\n\n\ndef strict(df):\n    return df.filter(df.arr_delay > cutoff)\n\n\n"
        "def both(df, cutoff):\n    return strict(df).filter(df.dep_delay > cutoff)",
        'flights = spark.table("bronze.flights")\nlate_rows = both(flights, 5)',
    )
    code, _, err = run(capsys, notebook, tmp_path)
    assert code == 2
    assert (
        "function `both` (cell 2) has a parameter `cutoff` and calls `strict`, which reads the notebook's `cutoff`"
        in err
    )
    assert files(tmp_path) == ["inline.py"]


@pytest.mark.parametrize("module", ["steps", "flights_pkg.class", "flights-pkg.steps"])
def test_module_must_be_a_dotted_python_name(tmp_path: Path, capsys: pytest.CaptureFixture[str], module: str) -> None:
    notebook = copied(tmp_path, "late_flights", "py")
    code = cli.main(["notebook", "extract", str(notebook), "--module", module, "--root", str(tmp_path)])
    assert code == 2
    assert f"--module must be PACKAGE.MODULE (dotted Python identifiers), got {module!r}" in capsys.readouterr().err


def test_a_missing_root_or_notebook_is_a_usage_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = copied(tmp_path, "late_flights", "py")
    code, out, err = run(capsys, notebook, tmp_path / "nowhere")
    assert (code, out) == (2, "")
    assert f"--root {tmp_path / 'nowhere'}: no such folder" in err
    code, out, err = run(capsys, tmp_path / "missing.ipynb", tmp_path)
    assert (code, out) == (2, "")
    assert f"no such notebook: {tmp_path / 'missing.ipynb'}" in err
    assert files(tmp_path) == ["notebooks/late_flights.py"]


def test_the_example_notebook_has_nothing_to_extract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notebook = Path(shutil.copy(REPO / "notebooks" / "explore_flights.ipynb", tmp_path / "explore_flights.ipynb"))
    code, out, err = run(capsys, notebook, tmp_path)
    assert (code, out) == (2, "")
    assert err == (
        f"spark-ml notebook: error: {notebook} has no module-level def and no step to extract "
        "(functions are written in cells as `def`; steps are top-level DataFrame statements under a `##` "
        "heading or a `# step: NAME` line)\n"
    )
    assert files(tmp_path) == ["explore_flights.ipynb"]


@pytest.mark.system
@pytest.mark.parametrize(("name", "fmt"), EXTRACTABLE)
def test_generated_modules_pass_ruff(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, fmt: str) -> None:
    extracted(tmp_path, capsys, name, fmt)
    ruff = str(Path(sys.executable).with_name("ruff"))
    rules = "E,F,W,I,B,UP,SIM,RUF,C4,PIE"  # the project's rule set
    target = str(tmp_path / "flights_pkg")
    for command in (
        [ruff, "check", "--isolated", "--select", rules, target],
        [ruff, "format", "--isolated", "--check", "--diff", target],
    ):
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
