"""Rule semantics beyond the fixtures: calls, scopes, config tuning, the real package, %run chains."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from spark_ml.config import flatten
from spark_ml.errors import ConfigError
from spark_ml.notebook.analysis import Options
from spark_ml.notebook.checker import CheckConfig, check_notebook, check_paths
from spark_ml.notebook.model import Cell, Finding, Notebook
from spark_ml.notebook.readers import code_cell
from spark_ml.notebook.settings import NotebookSettings
from tests.unit.notebook.fixture_spec import code, databricks_text


def notebook(*sources: str) -> Notebook:
    cells: list[Cell] = [code_cell(i, s, None) for i, s in enumerate(sources, 1)]
    return Notebook(Path("inline.ipynb"), "jupyter", tuple(cells))


def check(*sources: str, config: CheckConfig | None = None) -> list[Finding]:
    return check_notebook(notebook(*sources), config or CheckConfig())


def rules(found: list[Finding]) -> list[tuple[str, int, int]]:
    return [(f.rule, f.cell, f.line) for f in found]


def test_calling_a_function_before_the_variable_it_reads_exists() -> None:
    found = check("def report():\n    return len(rows)", "report()", "rows = [1]")
    assert rules(found) == [("NB301", 1, 1), ("NB201", 2, 1)]
    assert "`report()` is called in cell 2 and reads `rows`, which is first defined in cell 3" in found[1].message


def test_use_before_assignment_in_the_same_cell() -> None:
    found = check("print(n)\nn = 1")
    assert rules(found) == [("NB201", 1, 1)]
    assert "before it is assigned at line 2 of the same cell" in found[0].message


def test_a_star_import_may_define_anything_after_it() -> None:
    assert rules(check("print(late)", "from helpers import *\nprint(early)", "late = early = 1")) == [("NB201", 1, 1)]


def test_scopes_that_are_not_used_before_defined() -> None:
    found = check(
        "xs = list(range(3))\nys = [y * 2 for y in xs]\nif (m := len(ys)) > 1:\n    total = m",
        "list = [total]",
        "class Box:\n    size = len(xs)\n    def grow(self, k):\n        return [self.size * k for _ in range(k)]",
        "for i in range(2):\n    last = i\nlast2 = last",
    )
    assert [f.rule for f in found if f.rule == "NB201"] == []


def test_nested_functions_and_classes_are_named() -> None:
    found = check("rate = 0.1", "def outer(x):\n    def inner(y):\n        return y * rate\n    return inner(x)")
    assert [(f.rule, f.cell, f.line) for f in found] == [("NB301", 2, 2)]
    assert found[0].message.startswith("function `outer.inner` reads notebook variable `rate`")


def test_allowed_globals_and_constants_are_not_reported() -> None:
    sources = (
        "from helpers import make_session\n\nspark = make_session()\nMAX_ROWS = 10",
        "def load():\n    return spark.table('t').limit(MAX_ROWS)",
    )
    assert [f.rule for f in check(*sources)] == ["NB301"]
    allowed = CheckConfig(options=Options(allowed_globals=frozenset({"spark"})))
    assert check(*sources, config=allowed) == []


def test_config_disables_and_re_grades_rules_by_id_or_name() -> None:
    settings = NotebookSettings(disabled_rules=("reassigned-across-cells",), severity={"nb301": "error"})
    config = CheckConfig.from_settings(settings)
    found = check("a = 1\nb = 2", "a = 3", "def f():\n    return b", config=config)
    assert [(f.rule, f.severity) for f in found] == [("NB301", "error")]


def test_unknown_rule_in_config_is_a_usage_error() -> None:
    with pytest.raises(ConfigError, match=r"unknown rule 'NB999' in notebook\.disabled_rules"):
        CheckConfig.from_settings(NotebookSettings(disabled_rules=("NB999",)))
    with pytest.raises(
        ConfigError, match=r"unknown rule 'funtion-reads-globals'.*did you mean 'function-reads-globals'"
    ):
        CheckConfig.from_settings(NotebookSettings(severity={"funtion-reads-globals": "error"}))


def test_duplicate_of_a_function_in_the_real_spark_ml_package() -> None:
    source = inspect.getsource(flatten)
    found = check("import collections", source)
    assert [(f.rule, f.cell) for f in found if f.rule == "NB402"] == [("NB402", 2)]
    assert "duplicates spark_ml.config.layers.flatten" in next(f.message for f in found if f.rule == "NB402")
    changed = source.replace('f"{prefix}{key}"', 'f"{prefix}{key}_"')
    assert changed != source
    assert [f for f in check(changed) if f.rule == "NB402"] == []


def test_run_chain_names_the_included_notebooks_runs(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(databricks_text([code("%run ./child"), code("x = 1")]))
    (tmp_path / "child.py").write_text(databricks_text([code("%run ./grandchild")]))
    found = check_paths([tmp_path / "main.py"]).findings
    assert rules(list(found)) == [("NB504", 1, 1)]
    assert "./child runs `%run ./grandchild` in turn (a %run chain)" in found[0].message


def test_collect_judges_origins() -> None:
    found = check(
        "from pyspark.sql import functions as F",
        "def to_pandas(df):\n    return df.toPandas()",
        "metrics = summarize(flights)\nsmall = metrics.toPandas()\nsummarize(flights).collect()",
        "def top(df):\n    few = df.limit(5)\n    return few.collect()",
        "trips = spark.read.format('delta').load('lake/trips')\nrows = trips.select('a', 'b').collect()",
        "daily = spark.sql('SELECT day, count(*) FROM t GROUP BY day').collect()",
        "demo = spark.createDataFrame([(1, 'a')], 'n int, s string').collect()",
    )
    assert rules([f for f in found if f.rule == "NB501"]) == [("NB501", 2, 2), ("NB501", 5, 2)]


def test_secrets_in_magics_and_other_language_cells() -> None:
    shell = code_cell(1, '!curl -H "Authorization: Bearer dapi0123456789abcdef0123456789abcdef" host', None)
    sql = code_cell(2, "%%sql\nCREATE TABLE t USING jdbc OPTIONS (url 'postgresql://etl:s3cr3t-pw@db:5432/x')", None)
    option = code_cell(3, 'df = spark.read.format("jdbc").option("password", "s3cr3t-pw").load()', None)
    conf = code_cell(4, 'spark.conf.set("fs.azure.account.key.lake.dfs.core.windows.net", "s3cr3t-pw==")', None)
    found = check_notebook(Notebook(Path("x.ipynb"), "jupyter", (shell, sql, option, conf)), CheckConfig())
    assert rules(found) == [("NB502", 1, 1), ("NB502", 2, 2), ("NB502", 3, 1), ("NB502", 4, 1)]
    assert "s3cr3t" not in " ".join(f.text() for f in found)


def test_lambdas_run_on_the_spot_are_top_level_code_but_stored_or_udf_lambdas_are_not() -> None:
    found = check(
        "import pandas as pd\nfrom pyspark.sql import functions as F\n\n"
        "rates = {'a': 1}\nfactor = 2\npdf = pd.DataFrame()",
        "top = sorted(rates, key=lambda k: rates[k])\nscaled = pdf.apply(lambda r: r * factor)",
        "is_big = F.udf(lambda x: x > factor)\nscale = lambda x: x * factor",
        "def fn(xs):\n    return sorted(xs, key=lambda k: rates[k])",
    )
    assert [(f.cell, f.line, f.message.split(" reads")[0]) for f in found] == [
        (3, 1, "lambda at line 1"),
        (3, 2, "lambda at line 2"),
        (4, 1, "function `fn`"),  # a lambda inside a function is part of it
    ]


def test_reassigned_variable_read_through_a_function_call() -> None:
    found = check(
        "threshold = 10",
        "def late(xs):\n    return [x for x in xs if x > threshold]",
        "threshold = 20",
        "late([5, 15, 25])",
    )
    assert [(f.rule, f.cell) for f in found] == [("NB301", 2), ("NB302", 3)]
    assert "read across cells (in cell 4)" in found[1].message
