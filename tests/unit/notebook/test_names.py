"""NB202 beyond the fixtures: Python's scope rules, what the runtime provides, and what opens the namespace."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_ml.notebook.analysis import Options
from spark_ml.notebook.checker import CheckConfig, check_file, check_notebook
from spark_ml.notebook.model import Cell, Notebook
from spark_ml.notebook.readers import code_cell


def undefined(*sources: str, config: CheckConfig | None = None) -> list[tuple[str, int, int]]:
    """(name, cell, line) of each NB202 finding."""
    cells: list[Cell] = [code_cell(i, s, None) for i, s in enumerate(sources, 1)]
    found = check_notebook(Notebook(Path("inline.ipynb"), "jupyter", tuple(cells)), config or CheckConfig())
    return [(f.message.split("`")[1], f.cell, f.line) for f in found if f.rule == "NB202"]


def test_what_databricks_and_ipython_provide_is_defined() -> None:
    assert (
        undefined(
            "df = spark.table('t')\ndisplay(df)\ndisplayHTML('<b>x</b>')\nprint(sc.version, sqlContext)\n"
            "dbutils.fs.ls('/Volumes/main')\nt = table('x')\nq = sql('SELECT 1')\nf = udf\ng = getArgument('a')",
            "print(_sqldf, In, Out, _, __, ___, _1, _i2, _ih, _oh, _dh)\nget_ipython().run_line_magic('who', '')",
            "print(len([]), __name__)",
        )
        == []
    )


def test_attribute_and_keyword_names_are_not_names() -> None:
    assert undefined("import pandas as pd\npdf = pd.DataFrame(dict(title=[1]))\npdf.foo.bar(x=1, truncate=False)") == []


def test_python_scopes() -> None:
    assert (
        undefined(
            "xs = [1]\nys = [y * 2 for y in xs if y]\nd = {k: v for k, v in zip(xs, ys)}\nif (m := len(ys)) > 1:\n"
            "    total = m",
            "def f(a, /, b, *args, c=1, **kw):\n    e = a + b + c\n    def g():\n        nonlocal e\n        e += 1\n"
            "        return e, args, kw\n    return g",
            "class Box:\n    size = 3\n    other = size + 1\n    def grow(self, k):\n"
            "        return [self.size * k for _ in range(k)]",
            "def make():\n    global made\n    made = 1",
            "print(made)",
            "try:\n    1 / 0\nexcept ZeroDivisionError as err:\n    print(err)",
            "match xs:\n    case [first, *rest]:\n        print(first, rest)\n    case {'k': val, **others}:\n"
            "        print(val, others)\n    case Box(size=sz) as whole:\n        print(sz, whole)",
            "tmp = 1\ndel tmp",
            "lam = lambda q, w=xs: q + w[0]",
            "[z := 5 for _ in range(2)]\nprint(z)",
            "with open('f') as fh:\n    print(fh)\nfor i, (j, k2) in enumerate([(1, 2)]):\n    print(i, j, k2)",
            "import os.path\nfrom collections import OrderedDict as OD\nprint(os.path, OD)",
        )
        == []
    )


def test_reads_nothing_defines_are_reported_once_at_the_first_read() -> None:
    assert undefined(
        "print(missing)\nframe = helper(1)",
        "def uses():\n    return nowhere + 1",
        "del ghost",
        "class K:\n    n = 2\n    ys = [x * n for x in range(3)]",  # class names are not visible in a comprehension
        "print(missing)",
    ) == [("missing", 1, 1), ("helper", 1, 2), ("nowhere", 2, 2), ("ghost", 3, 1), ("n", 4, 3)]


def test_the_message_names_the_other_cells_that_read_it() -> None:
    cells = [code_cell(i, s, None) for i, s in enumerate(["x = rows", "y = rows", "z = rows"], 1)]
    found = check_notebook(Notebook(Path("a.ipynb"), "jupyter", tuple(cells)), CheckConfig())
    assert [f.message.split(" but")[0] for f in found] == ["`rows` is read in cell 1 (also read in cells 2, 3)"]


def test_a_name_defined_later_is_nb201_not_nb202() -> None:
    cells = [code_cell(1, "print(late)", None), code_cell(2, "late = 1", None)]
    found = check_notebook(Notebook(Path("a.ipynb"), "jupyter", tuple(cells)), CheckConfig())
    assert [f.rule for f in found] == ["NB201"]


@pytest.mark.parametrize(
    ("opener", "before", "after"),
    [
        ("from helpers import *", [("before", 1, 1)], []),
        ("%run ./setup", [("before", 1, 1)], []),
        ("%store -r", [("before", 1, 1)], []),
        ("exec(open('setup.py').read())", [("before", 1, 1)], []),
    ],
)
def test_reads_below_whatever_may_define_anything_are_not_judged(
    opener: str, before: list[tuple[str, int, int]], after: list[tuple[str, int, int]]
) -> None:
    found = undefined("print(before)", f"{opener}\nprint(after)", "def later():\n    return anything")
    assert found == before + after


def test_magics_that_assign_names() -> None:
    assert (
        undefined(
            "%time timed = 1",
            "%%capture captured\nprint(1)",
            "%store -r stored other",
            "%sql result << SELECT 1",
            "print(timed, captured.stdout, stored, other, result)",
        )
        == []
    )


def test_guarded_reads_and_annotations() -> None:
    assert undefined("try:\n    spark_session\nexcept NameError:\n    pass") == []
    assert undefined("x: Foo = 1\ndef f(a: Bar) -> Baz:\n    y: Qux = 2\n    return y") == [
        ("Foo", 1, 1),
        ("Bar", 1, 2),
        ("Baz", 1, 2),
    ]  # module-level and signature annotations run; a local variable's does not
    assert undefined("from __future__ import annotations\nx: Foo = 1") == []


def test_a_cell_that_does_not_parse_may_define_its_words() -> None:
    assert undefined("defined_here = (", "print(defined_here, really_missing)") == [("really_missing", 2, 1)]


def test_allowed_globals_are_provided() -> None:
    config = CheckConfig(options=Options(allowed_globals=frozenset({"catalog"})))
    assert undefined("print(catalog, schema)", config=config) == [("schema", 1, 1)]


def test_databricks_source_magics(tmp_path: Path) -> None:
    path = tmp_path / "nb.py"
    path.write_text(
        "# Databricks notebook source\n"
        "# MAGIC %sql\n# MAGIC SELECT 1\n\n# COMMAND ----------\n\n"
        "print(_sqldf, spark)\n\n# COMMAND ----------\n\n"
        "# MAGIC %run ./shared\n\n# COMMAND ----------\n\n"
        "print(from_shared)\n"
    )
    assert [(f.rule, f.cell) for f in check_file(path)] == [("NB504", 3)]
