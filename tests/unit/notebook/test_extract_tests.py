"""`notebook extract` writes a test file: skeleton tests (no --capture) and the text of captured ones.

Nothing here starts Spark or a kernel, except the `system` test that runs ruff on the generated files;
the capture run itself is tested in test_extract_capture.py.
"""

from __future__ import annotations

import ast
import datetime
import decimal
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from spark_ml import cli
from spark_ml.notebook.capture_kernel import Capture, literal
from spark_ml.notebook.extract import extract
from spark_ml.notebook.extract_capture import CaptureOptions, capture_notebook
from spark_ml.notebook.extract_tests import Target, columns_read, ddl, render_tests
from tests.unit.notebook.extract_spec import EXTRACT_DIR

RUFF_RULES = "E,F,W,I,B,UP,SIM,RUF,C4,PIE"  # the project's rule set


def extracted(tmp_path: Path, name: str, fmt: str, *extra: str) -> tuple[int, Path]:
    notebook = Path(shutil.copy(EXTRACT_DIR / f"{name}.{fmt}", tmp_path / f"{name}.{fmt}"))
    args = ["notebook", "extract", str(notebook), "--module", f"flights_pkg.{name}", "--root", str(tmp_path)]
    return cli.main([*args, *extra]), tmp_path / "tests" / "unit" / f"test_{name}.py"


def defs_of(text: str) -> dict[str, str]:
    """Test name -> its source."""
    tree = ast.parse(text)
    return {n.name: ast.get_source_segment(text, n) or "" for n in tree.body if isinstance(n, ast.FunctionDef)}


@pytest.mark.parametrize("fmt", ["ipynb", "py"])
def test_without_capture_each_function_gets_a_skeleton_that_fails_on_purpose(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    code, path = extracted(tmp_path, "late_flights", fmt, "--format", "json")
    assert code == 0
    assert json.loads(capsys.readouterr().out)["tests"] == [str(path)]
    text = path.read_text(encoding="utf-8")
    tests = defs_of(text)
    assert list(tests) == [
        "spark",
        "test_late_flights_skeleton",
        "test_late_by_carrier_skeleton",
        "test_with_carrier_names_skeleton",
        "test_carrier_table_skeleton",
    ]
    late = tests["test_late_flights_skeleton"]
    # the column the function names, typed STRING, one row of nulls; then a failure on purpose
    assert '(None,),\n        ],\n        "arr_delay STRING",' in late
    assert "actual = late_flights(flights)" in late
    assert 'pytest.fail(f"skeleton: write the expected rows of late_flights, got {actual!r}")' in late
    # the callee's column too; a cell value passed with the literal the notebook binds
    by_carrier = tests["test_late_by_carrier_skeleton"]
    assert '"carrier STRING, arr_delay STRING"' in by_carrier
    assert "actual = late_by_carrier(flights, min_flights=10)" in by_carrier
    assert "carrier_table(spark=spark)" in tests["test_carrier_table_skeleton"]
    assert all("pytest.fail(" in body for name, body in tests.items() if name != "spark")
    assert "assert_df_equality" not in text
    assert "from flights_pkg.late_flights import (\n    carrier_table," in text


def test_a_udf_skeleton_calls_it_in_a_select(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, path = extracted(tmp_path, "udf_dict", "ipynb")
    assert code == 0, capsys.readouterr().err
    body = defs_of(path.read_text(encoding="utf-8"))["test_carrier_name_skeleton"]
    assert 'actual = frame.select(carrier_name(F.col("code")))' in body
    assert '"code STRING",' in body


def test_steps_get_skeletons_with_their_inputs_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, path = extracted(tmp_path, "steps", "py")
    assert code == 0, capsys.readouterr().err
    tests = defs_of(path.read_text(encoding="utf-8"))
    assert '"cancelled STRING, flight_date STRING"' in tests["test_clean_flights_skeleton"]
    assert "clean_flights(flights, run_date=None)" in tests["test_clean_flights_skeleton"]
    assert '"origin STRING, dest STRING"' in tests["test_route_counts_skeleton"]


def test_a_project_spark_fixture_is_used_instead_of_a_module_session(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "conftest.py").write_text('@pytest.fixture(scope="session")\ndef spark():\n    ...\n')
    code, path = extracted(tmp_path, "late_flights", "ipynb")
    assert code == 0, capsys.readouterr().err
    text = path.read_text(encoding="utf-8")
    assert "def spark(" not in text
    assert "def test_late_flights_skeleton(spark: SparkSession) -> None:" in text


def test_tests_dir_dry_run_and_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = extracted(tmp_path, "late_flights", "ipynb", "--tests", str(tmp_path / "checks"), "--dry-run")
    assert code == 0
    out = capsys.readouterr().out
    assert f"# {tmp_path / 'checks' / 'test_late_flights.py'}\n" in out
    assert "def test_late_flights_skeleton" in out
    assert not (tmp_path / "checks").exists()
    assert not (tmp_path / "flights_pkg").exists()
    code, path = extracted(tmp_path, "late_flights", "ipynb", "--tests", str(tmp_path / "checks"))
    assert (code, path.parent.parent.parent / "checks" / path.name) == (0, tmp_path / "checks" / path.name)
    assert f"wrote {tmp_path / 'checks' / 'test_late_flights.py'}" in capsys.readouterr().out
    (tmp_path / "flights_pkg" / "late_flights.py").unlink()
    (tmp_path / "late_flights.extracted.ipynb").unlink()
    code, _ = extracted(tmp_path, "late_flights", "ipynb", "--tests", str(tmp_path / "checks"))
    assert code == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'checks' / 'test_late_flights.py'} exists: pass --force to overwrite it" in err
    assert not (tmp_path / "flights_pkg" / "late_flights.py").exists()


def test_capture_options_need_capture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = extracted(tmp_path, "late_flights", "ipynb", "--setup", "setup.py")
    assert code == 2
    assert "--setup and --kernel only apply with --capture" in capsys.readouterr().err
    code, _ = extracted(tmp_path, "late_flights", "ipynb", "--limit", "0")
    assert code == 2
    assert "--limit must be at least 1, got 0" in capsys.readouterr().err


def test_columns_read_names_what_the_code_reads_not_what_it_creates() -> None:
    node = ast.parse(
        "def f(df, other):\n"
        '    x = df.where(F.col("a") > 1).select("b", df["c"], df.d).withColumn("e", F.lit(1))\n'
        '    y = x.groupBy("e").agg(F.sum("a").alias("total")).where(F.col("total") > 0)\n'
        '    return y.join(other, on=["k"], how="left").withColumnRenamed("old", "new").select("new", other.z)\n'
    ).body[0]
    assert isinstance(node, ast.FunctionDef)
    assert columns_read(node, ["df", "other"]) == {"df": ["a", "b", "c", "d", "k", "old"], "other": ["z"]}


VALUES: list[Any] = [
    None,
    True,
    -3,
    1.5,
    0.1 + 0.2,
    "it's",
    'say "x"',
    b"ab",
    bytearray(b"x"),
    decimal.Decimal("1.50"),
    datetime.date(2013, 1, 1),
    datetime.datetime(2013, 1, 1, 5, 6, 7, 8),
    datetime.timedelta(days=1, seconds=3),
    ("a",),
    [1, None, ("x", 2.5)],
    {"k": 1.0},
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_captured_values_are_written_as_source_that_gives_them_back(value: Any) -> None:
    imports: set[str] = set()
    text = literal(value, imports)
    assert eval(text, {"datetime": datetime, "Decimal": decimal.Decimal}) == value
    assert "'" not in text or '"' in text  # double quotes, as ruff format writes them


def test_nan_and_infinity_round_trip() -> None:
    assert math.isnan(eval(literal(float("nan"), set())))
    assert eval(literal(float("-inf"), set())) == float("-inf")


def test_secret_looking_names_are_masked_and_references_are_not() -> None:
    config = {"limit": 5, "strong_words": ["token", "password"], "strong_pairs": [["api", "key"]]}
    capture = Capture({}, {**config, "reference_words": ["scope", "url"]})
    assert [capture.secret_name(n) for n in ("api_token", "dbPassword", "apiKey", "token_url", "carrier")] == [
        True,
        True,
        True,
        False,
        False,
    ]
    assert capture.value("api_token", "s3cr3t", set())[1] == {"kind": "literal", "code": '"***"'}


def target(**changes: Any) -> Target:
    fields = {
        "module": "flights_pkg.late_flights",
        "notebook": "late_flights.ipynb",
        "line_length": 88,
        "first_party": frozenset({"flights_pkg"}),
        "project_spark_fixture": False,
        "limit": 5,
    }
    return Target(**{**fields, **changes})


def late_flights_plan(tmp_path: Path) -> Any:
    folder = tmp_path / "plan"
    folder.mkdir()
    notebook = Path(shutil.copy(EXTRACT_DIR / "late_flights.ipynb", folder / "late_flights.ipynb"))
    extraction = extract(notebook, "flights_pkg.late_flights", folder)
    return extraction.plan


FRAME = {"fields": [{"name": "d", "type": "date"}, {"name": "amount", "type": "decimal(10,2)"}]}
RECORD = {
    "inputs": [
        {
            "name": "flights",
            "own": True,
            "kind": "frame",
            "rows": [["datetime.date(2013, 1, 1)", 'Decimal("1.50")'], ["None", "None"]],
            "schema": {"type": "struct", "fields": FRAME["fields"]},
        }
    ],
    "output": {"kind": "frame", "rows": [], "schema": {"type": "struct", "fields": FRAME["fields"]}},
    "imports": ["datetime", "decimal"],
}


def test_a_captured_test_builds_the_rows_calls_the_module_and_compares(tmp_path: Path) -> None:
    plan = late_flights_plan(tmp_path)
    text = render_tests(plan, target(), {"late_flights": RECORD})
    tests = defs_of(text)
    captured = tests["test_late_flights_captured"]
    assert (
        "    flights = spark.createDataFrame(\n"
        "        [\n"
        '            (datetime.date(2013, 1, 1), Decimal("1.50")),\n'
        "            (None, None),\n"
        "        ],\n"
        '        "d DATE, amount DECIMAL(10,2)",\n'
        "    )\n"
    ) in captured
    assert "    actual = late_flights(flights)\n" in captured
    assert "assert_df_equality(\n        actual,\n        expected,\n        ignore_row_order=True," in captured
    assert "import datetime\nfrom decimal import Decimal\n" in text
    assert "from chispa import assert_df_equality\n" in text
    # not recorded: a skeleton saying why
    assert "# not captured: the capture run never called it" in tests["test_late_by_carrier_skeleton"]
    assert "# not captured: it reads storage itself (`spark.table` in cell 6, line 2)" in text


def test_ddl_of_nested_and_odd_names() -> None:
    schema = {
        "fields": [
            {"name": "a b", "type": {"type": "array", "elementType": "long", "containsNull": True}},
            {"name": "m", "type": {"type": "map", "keyType": "string", "valueType": "integer"}},
            {"name": "s", "type": {"type": "struct", "fields": [{"name": "x", "type": "short"}]}},
        ]
    }
    assert ddl(schema) == "`a b` ARRAY<BIGINT>, m MAP<STRING, INT>, s STRUCT<x: SMALLINT>"


def test_the_capture_run_wraps_each_function_right_after_its_def(tmp_path: Path) -> None:
    notebook = Path(shutil.copy(EXTRACT_DIR / "steps.py", tmp_path / "steps.py"))
    extraction = extract(notebook, "flights_pkg.steps", tmp_path)
    assert extraction.context is not None
    assert extraction.plan is not None
    setup = tmp_path / "setup.py"
    setup.write_text("spark.sql('CREATE DATABASE bronze')\n")
    options = CaptureOptions(limit=3, setup=setup)
    nb, labels = capture_notebook(extraction.context, extraction.plan, options, tmp_path / "records.json")
    assert labels[:2] == [
        "the capture preamble (spark, display, dbutils; __spark_ml_capture__)",
        f"the --setup file {setup}",
    ]
    assert labels[-1] == "the capture's last cell (writing the records)"
    sources = [cell.source for cell in nb.cells]
    preamble = sources[0]
    assert 'spark = (\n    _SparkSession.builder.master("local[1]")' in preamble
    assert "dbutils = _DBUtils()" in preamble
    assert "'limit': 3" in preamble
    clean = sources[labels.index("cell 5 of steps.py")]
    lines = clean.split("\n")
    wrap = next(i for i, line in enumerate(lines) if line.startswith("clean_flights = __spark_ml_capture__.wrap("))
    assert lines[wrap - 1].strip() == "return flights"  # right after the def, before the call
    assert lines[wrap + 1].startswith("flights = clean_flights(flights")
    assert not any(label.startswith("cell 1 ") for label in labels)  # the markdown title does not run


def test_widget_values_reach_the_capture_run_and_a_missing_one_is_named(tmp_path: Path) -> None:
    """--widget NAME=VALUE is what dbutils.widgets.get gives in the capture kernel (a widget the
    notebook defines keeps its default unless given); a widget with neither fails naming the option."""
    notebook = Path(shutil.copy(EXTRACT_DIR / "widgets_sql.py", tmp_path / "widgets_sql.py"))
    extraction = extract(notebook, "flights_pkg.widgets_sql", tmp_path)
    assert extraction.context is not None
    assert extraction.plan is not None
    options = CaptureOptions(widgets={"run_date": "2013-01-02", "env": "dev"})
    nb, _ = capture_notebook(extraction.context, extraction.plan, options, tmp_path / "records.json")
    preamble = nb.cells[0].source
    assert "self.given = dict({'env': 'dev', 'run_date': '2013-01-02'})" in preamble
    fake = preamble[preamble.index("class _Widgets:") : preamble.index("dbutils = _DBUtils()")]
    namespace: dict[str, Any] = {}
    exec(f"{fake}dbutils = _DBUtils()\n", namespace)  # the preamble's own dbutils, without a kernel
    widgets = namespace["dbutils"].widgets
    assert widgets.get("run_date") == "2013-01-02"  # given, before the notebook defines it
    widgets.removeAll()  # a common first cell: the given values survive it, as under --verify
    widgets.text("run_date", "2013-01-01")  # the notebook's own default does not replace the given value
    widgets.text("carrier", "AA")
    widgets.dropdown("month", 1, ["1", "2"])
    assert (widgets.get("run_date"), widgets.get("carrier"), widgets.get("month")) == ("2013-01-02", "AA", "1")
    assert widgets.getArgument("nothing", "fallback") == "fallback"
    widgets.remove("month")
    with pytest.raises(KeyError, match=r"widget 'month' has no value in this capture run: pass --widget month=VALUE"):
        widgets.get("month")


@pytest.mark.system
@pytest.mark.parametrize(("name", "fmt"), [("late_flights", "ipynb"), ("steps", "py"), ("udf_dict", "py")])
def test_generated_tests_pass_ruff(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, fmt: str) -> None:
    code, _ = extracted(tmp_path, name, fmt)
    assert code == 0, capsys.readouterr().err
    captured = tmp_path / "tests" / "unit" / "test_captured.py"
    text = render_tests(late_flights_plan(tmp_path), target(module=f"flights_pkg.{name}"), {"late_flights": RECORD})
    captured.write_text(text)
    ruff = str(Path(sys.executable).with_name("ruff"))
    for command in (
        [ruff, "check", "--isolated", "--select", RUFF_RULES, "tests"],
        [ruff, "format", "--isolated", "--check", "--diff", "tests"],
    ):
        result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
