"""The fixture notebooks, each written twice: Jupyter (.ipynb) and Databricks source format (.py).

The files in tests/fixtures/notebooks/ are generated from this spec (a test checks they are in sync):

    .venv/bin/python -m tests.unit.notebook.fixture_spec

Each rule fixture holds a case the rule must report and a near miss it must not. Execution counts
exist only in the .ipynb files: the Databricks source format does not store them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

FIXTURES_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "notebooks"


@dataclass(frozen=True)
class Spec:
    kind: Literal["code", "markdown"]
    source: str
    count: int | None = None


def md(text: str) -> Spec:
    return Spec("markdown", text)


def code(text: str, count: int | None = None) -> Spec:
    return Spec("code", text, count)


def _lines(n: int) -> str:
    return "\n".join("    x = x + 1" for _ in range(n))


FIXTURES: dict[str, list[Spec]] = {
    # NB101: counts 1, 3, 2 -> cell 4 ran before cell 3. Near miss: in order, markdown and an empty cell between.
    "nb101_out_of_order": [md("# Out of order"), code("a = 1", 1), code("b = a + 1", 3), code("c = 2", 2)],
    "nb101_in_order": [md("# In order"), code("a = 1", 1), md("note"), code("b = a + 1", 2), code("", None)],
    # NB102: cell 3 never ran but cell 4 did. Near miss: only the last cell did not run.
    "nb102_skipped": [md("# Skipped"), code("a = 1", 1), code("b = a + 1", None), code("c = 3", 2)],
    "nb102_last_not_run": [md("# Last not run"), code("a = 1", 1), code("b = a + 1", 2), code("c = 3", None)],
    # NB103: counts 1, 2, 5 -> runs 3 and 4 are missing. Near miss: 1, 2, 3.
    "nb103_rerun": [md("# Re-run"), code("a = 1", 1), code("b = a + 1", 2), code("c = b * 2", 5)],
    "nb103_clean": [md("# Clean"), code("a = 1", 1), code("b = a + 1", 2), code("c = b * 2", 3)],
    # NB201: cell 2 uses `totals` from cell 3. Near miss: `show` calls `helper` defined later, but
    # `show()` itself only runs in cell 6, after both.
    "nb201_used_before_defined": [
        md("# Used before defined"),
        code("print(totals)"),
        code("totals = [1, 2, 3]"),
        code("def show():\n    return helper()"),
        code("def helper():\n    return len('ok')"),
        code("show()"),
    ],
    # NB301: a function, a lambda and a method read notebook variables. Near misses: parameters,
    # defaults bound at definition, imports, UPPER_CASE constants, other notebook functions.
    "nb301_function_reads_globals": [
        md("# Functions reading globals"),
        code("import math\n\nTHRESHOLD = 15\nflights = [5, 20, 40]\nscale = 2\ncutoff = 0.5"),
        code("def late(minutes):\n    return [d for d in flights if d > minutes]"),
        code("def late_ok(rows, minutes=THRESHOLD):\n    return [d for d in rows if d > minutes and math.isfinite(d)]"),
        code("scaled = lambda r: r * scale\nscaled_ok = lambda r, scale=scale: r * scale"),
        code("class Scorer:\n    def score(self, x):\n        return x > cutoff"),
        code("def both(rows):\n    return late_ok(rows, THRESHOLD)"),
    ],
    # NB302: `df` assigned in cells 2 and 3, and cell 3 reads the value cell 2 left. Near misses:
    # mutation, a loop variable in two cells, reassignment inside one cell, `fig` assigned in two cells
    # but always assigned before it is used.
    "nb302_reassigned": [
        md("# Reassigned"),
        code("df = [1, 2, 3]\nn = 1\nn = n + 1"),
        code("df = [x for x in df if x > 1]"),
        code("clean = [1]\nfor i in range(2):\n    clean.append(i)"),
        code("clean.append(3)\nfor i in range(2):\n    print(i)"),
        code("fig = dict(title='a')\nprint(fig)"),
        code("fig = dict(title='b')\nprint(fig, n)"),
    ],
    # NB401: 31 lines (limit 30) is reported, 30 lines is not.
    "nb401_long_definition": [
        md("# Long definitions"),
        code(f"def too_long(x):\n{_lines(29)}\n    return x"),
        code(f"def just_fits(x):\n{_lines(28)}\n    return x"),
    ],
    # NB402 (package: tests/fixtures/notebooks/package/flights_pkg): `with_is_late` copies the package's
    # (comments and formatting differ). Near misses: same name other body, same body other name.
    "nb402_duplicates_package": [
        md("# Duplicates of package code"),
        code("from pyspark.sql import functions as F"),
        code(
            "def with_is_late(df, threshold):\n"
            "    # copied from the package\n"
            "    return df.withColumn(\n"
            '        "is_late", F.col("arr_delay") > threshold\n'
            "    )"
        ),
        code('def with_route(df):\n    return df.withColumn("route", F.concat_ws("->", "origin", "dest"))'),
        code('def add_route(df):\n    return df.withColumn("route", F.concat_ws("-", "origin", "dest"))'),
    ],
    # NB501: cells 3 and 5 collect whole frames. Near misses in cell 4: limit, groupBy, aggregate
    # select, aggregating SQL, gc.collect().
    "nb501_unbounded_collect": [
        md("# Collect"),
        code('import gc\n\nfrom pyspark.sql import functions as F\n\nflights = spark.table("bronze.flights")'),
        code("rows = flights.collect()"),
        code(
            "first = flights.limit(10).collect()\n"
            'by_carrier = flights.groupBy("carrier").count().toPandas()\n'
            'worst = flights.select(F.max("dep_delay")).collect()\n'
            'n = spark.sql("SELECT count(*) AS n FROM bronze.flights").collect()\n'
            "gc.collect()"
        ),
        code('everything = spark.sql("SELECT * FROM bronze.flights").toPandas()'),
    ],
    # NB502: a Databricks token and a password literal. Near misses: secret references, an env var
    # name, a scope name, a join key, an empty password, a tokenizer name.
    "nb502_hard_coded_secret": [
        md("# Secrets"),
        code('host_token = "dapi0123456789abcdef0123456789abcdef"'),
        code('db_password = "Tr0ub4dor&3"'),
        code(
            'api_token = dbutils.secrets.get(scope="flights", key="api-token")\n'
            'password_env = "DB_PASSWORD"\n'
            'secret_scope = "flights-prod"\n'
            'join_key = "flight_id"\n'
            'password = ""\n'
            'tokenizer = "whitespace-split"\n'
            'jdbc_password = "{{secrets/flights/jdbc}}"'
        ),
    ],
    # NB503: a workspace path and a Windows path. Near misses: dbfs:/, /Volumes/, URLs, relative
    # paths, cloud URIs, a path built from a variable.
    "nb503_absolute_path": [
        md("# Paths"),
        code('source = "/Workspace/Users/someone@example.com/flights.csv"'),
        code('local_copy = "C:\\\\data\\\\flights.csv"'),
        code(
            'landing = "dbfs:/mnt/landing/flights"\n'
            'volume = "/Volumes/main/flights/landing"\n'
            'docs = "https://example.com/Users/guide"\n'
            'relative = "./data/flights.csv"\n'
            'lake = "abfss://lake@account.dfs.core.windows.net/flights"\n'
            'root = "."\n'
            'scratch = f"{root}/home/flights"'
        ),
    ],
    # NB504: %run is reported. Near misses: dbutils.notebook.run, a markdown cell mentioning %run.
    "nb504_run_magic": [
        md("# Run\nDo not use `%run` here."),
        code("%run ./shared/setup"),
        code('result = dbutils.notebook.run("./shared/setup", 60)'),
    ],
    # NB202: `carriers` (cell 3) and `threshold` (read by is_late, cell 4) are defined by no cell: they
    # lived only in the kernel that ran this. Near misses: Databricks globals (spark, display),
    # attribute and keyword names, a parameter.
    "nb202_undefined_name": [
        md("# Undefined names"),
        code('from pyspark.sql import functions as F\n\nflights = spark.table("bronze.flights")'),
        code('late = flights.join(carriers, "carrier", how="left")'),
        code('def is_late(df):\n    return df.filter(F.col("arr_delay") > threshold)'),
        code("display(is_late(late))"),
    ],
    # ... and after the fix: carriers loaded, threshold a parameter.
    "nb202_undefined_name_fixed": [
        md("# Undefined names"),
        code(
            "from pyspark.sql import functions as F\n\n"
            'flights = spark.table("bronze.flights")\ncarriers = spark.table("bronze.carriers")'
        ),
        code('late = flights.join(carriers, "carrier", how="left")'),
        code('def is_late(df, threshold):\n    return df.filter(F.col("arr_delay") > threshold)'),
        code("display(is_late(late, 15))"),
    ],
    # NB202 near misses, all clean: what Databricks and IPython put in every notebook, attribute names,
    # keyword names, lambda and comprehension variables, except-as, walrus, a guarded read.
    "nb202_notebook_globals": [
        md("# Names the notebook is given"),
        code(
            "from pyspark.sql import functions as F\n\n"
            'flights = spark.table("bronze.flights")\n'
            "display(flights.limit(10))\n"
            'displayHTML("<b>flights</b>")\n'
            "print(sc.version, sqlContext, spark.version)\n"
            'env = dbutils.widgets.get("env")\n'
            'carriers = table("bronze.carriers")\n'
            'one = sql("SELECT 1 AS one")\n'
            'run_date = getArgument("run_date")'
        ),
        code(
            "by_carrier = (\n"
            '    flights.groupBy("carrier")\n'
            '    .agg(F.count(F.lit(1)).alias("flights"), F.avg("arr_delay").alias("mean_delay"))\n'
            '    .orderBy(F.desc("flights"))\n'
            ")\n"
            "by_carrier.show(n=5, truncate=False, vertical=False)\n"
            'options = dict(header=True, inferSchema=True, title="flights")'
        ),
        code(
            'names = sorted(["AA", "B6"], key=lambda code: code.lower())\n'
            "pairs = {code: len(code) for code in names if (size := len(code)) > 1}\n"
            "try:\n"
            "    ratio = 1 / size\n"
            "except ZeroDivisionError as error:\n"
            "    print(error)\n"
            "try:\n"
            "    previous = last_run\n"
            "except NameError:\n"
            "    previous = None"
        ),
    ],
    # NB505: a split, a sample, an ordering by rand(), NumPy's global generator, an unseeded
    # default_rng and the random module, none seeded. Near misses in cell 7: a seeded generator,
    # sampleBy with a seed, a variable named `sample`.
    "nb505_unseeded_randomness": [
        md("# Randomness without a seed"),
        code(
            "import random\n\nimport numpy as np\nfrom pyspark.sql import functions as F\n\n"
            'flights = spark.table("silver.flights")'
        ),
        code("train, test = flights.randomSplit([0.8, 0.2])"),
        code("preview = flights.sample(fraction=0.01)\nshuffled = flights.orderBy(F.rand())"),
        code("noise = np.random.normal(0, 1, 100)\nrng = np.random.default_rng()"),
        code('pick = random.choice(["JFK", "LGA", "EWR"])'),
        code(
            "seeded = np.random.default_rng(42).normal(0, 1, 3)\n"
            'balanced = flights.sampleBy("carrier", {"AA": 0.1}, seed=7)\n'
            "sample = flights.limit(5)"
        ),
    ],
    # ... and after the fix: every source of randomness seeded.
    "nb505_unseeded_randomness_fixed": [
        md("# Randomness without a seed"),
        code(
            "import random\n\nimport numpy as np\nfrom pyspark.sql import functions as F\n\n"
            'flights = spark.table("silver.flights")'
        ),
        code("train, test = flights.randomSplit([0.8, 0.2], seed=42)"),
        code("preview = flights.sample(fraction=0.01, seed=42)\nshuffled = flights.orderBy(F.rand(seed=42))"),
        code("rng = np.random.default_rng(42)\nnoise = rng.normal(0, 1, 100)"),
        code('pick = random.Random(42).choice(["JFK", "LGA", "EWR"])'),
        code(
            "seeded = np.random.default_rng(42).normal(0, 1, 3)\n"
            'balanced = flights.sampleBy("carrier", {"AA": 0.1}, seed=7)\n'
            "sample = flights.limit(5)"
        ),
    ],
    # Acceptance: saved after running cells out of order, with a function reading a global DataFrame.
    "acceptance_late_flights": [
        md("# Late flights"),
        code("import pandas as pd", 1),
        code("late = late_flights(15)\nlate.head()", 4),
        code('flights = pd.DataFrame({"dep_delay": [5, 20, 40]})', 2),
        code('def late_flights(minutes):\n    return flights[flights["dep_delay"] > minutes]', 3),
    ],
    # ... and after the fixes: in order, the frame passed as a parameter.
    "acceptance_late_flights_fixed": [
        md("# Late flights"),
        code("import pandas as pd", 1),
        code('flights = pd.DataFrame({"dep_delay": [5, 20, 40]})', 2),
        code('def late_flights(frame, minutes):\n    return frame[frame["dep_delay"] > minutes]', 3),
        code("late = late_flights(flights, 15)\nlate.head()", 4),
    ],
}


@dataclass(frozen=True)
class Issue:
    """A real problem in a fixture (ground truth): the rule whose concern it is, where it is."""

    rule: str
    cell: int
    line: int
    jupyter_only: bool = False
    """Visible only in the .ipynb file (saved execution counts)."""


def _jupyter(rule: str, cell: int, line: int) -> Issue:
    return Issue(rule, cell, line, jupyter_only=True)


# What each fixture really contains, independent of any tool: the rule tests assert these, and
# benchmarks/notebooks.py judges every tool's findings against them (anything else is a false positive).
# Names that Databricks provides (spark, dbutils, display...) are defined: the fixtures are Databricks
# notebooks. NB402 needs the stand-in package (tests/fixtures/notebooks/package/flights_pkg) as package root.
EXPECTED: dict[str, list[Issue]] = {
    "nb101_out_of_order": [_jupyter("NB101", 4, 1)],
    "nb101_in_order": [],
    "nb102_skipped": [_jupyter("NB102", 3, 1)],
    "nb102_last_not_run": [],
    "nb103_rerun": [_jupyter("NB103", 4, 1)],
    "nb103_clean": [],
    "nb201_used_before_defined": [Issue("NB201", 2, 1)],
    "nb202_undefined_name": [Issue("NB202", 3, 1), Issue("NB202", 4, 2)],
    "nb202_undefined_name_fixed": [],
    "nb202_notebook_globals": [],
    "nb301_function_reads_globals": [Issue("NB301", 3, 1), Issue("NB301", 5, 1), Issue("NB301", 6, 2)],
    "nb302_reassigned": [Issue("NB302", 3, 1)],
    "nb401_long_definition": [Issue("NB401", 2, 1)],
    "nb402_duplicates_package": [Issue("NB402", 3, 1)],
    "nb501_unbounded_collect": [Issue("NB501", 3, 1), Issue("NB501", 5, 1)],
    "nb502_hard_coded_secret": [Issue("NB502", 2, 1), Issue("NB502", 3, 1)],
    "nb503_absolute_path": [Issue("NB503", 2, 1), Issue("NB503", 3, 1)],
    "nb504_run_magic": [Issue("NB504", 2, 1)],
    "nb505_unseeded_randomness": [
        Issue("NB505", 3, 1),
        Issue("NB505", 4, 1),
        Issue("NB505", 4, 2),
        Issue("NB505", 5, 1),
        Issue("NB505", 5, 2),
        Issue("NB505", 6, 1),
    ],
    "nb505_unseeded_randomness_fixed": [],
    "acceptance_late_flights": [Issue("NB201", 3, 1), _jupyter("NB101", 4, 1), Issue("NB301", 5, 1)],
    "acceptance_late_flights_fixed": [],
}


def expected(name: str, fmt: str) -> list[tuple[str, int, int]]:
    """(rule, cell, line) of the fixture's real problems as one file format shows them, sorted by cell."""
    issues = [i for i in EXPECTED[name] if fmt == "ipynb" or not i.jupyter_only]
    return sorted((i.rule, i.cell, i.line) for i in issues)


def jupyter_text(cells: list[Spec]) -> str:
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, spec in enumerate(cells, 1):
        cell: Any = (
            new_code_cell(spec.source, execution_count=spec.count)
            if spec.kind == "code"
            else new_markdown_cell(spec.source)
        )
        cell["id"] = f"cell-{i}"
        nb.cells.append(cell)
    nbformat.validate(nb)
    return str(nbformat.writes(nb)) + "\n"


def databricks_text(cells: list[Spec]) -> str:
    blocks = []
    for spec in cells:
        if spec.kind == "markdown":
            blocks.append("\n".join(f"# MAGIC {line}".rstrip() for line in ["%md", *spec.source.splitlines()]))
        elif spec.source.startswith("%"):
            blocks.append("\n".join(f"# MAGIC {line}".rstrip() for line in spec.source.splitlines()))
        else:
            blocks.append(spec.source)
    return "# Databricks notebook source\n" + "\n\n# COMMAND ----------\n\n".join(blocks) + "\n"


def build(
    folder: Path = FIXTURES_DIR,
    fixtures: dict[str, list[Spec]] | None = None,
    databricks: Callable[[list[Spec]], str] = databricks_text,
) -> list[Path]:
    """Write each fixture (default: FIXTURES) as a Jupyter file and its Databricks twin."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, cells in (FIXTURES if fixtures is None else fixtures).items():
        outputs = {folder / f"{name}.ipynb": jupyter_text(cells), folder / f"{name}.py": databricks(cells)}
        for path, text in outputs.items():
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


if __name__ == "__main__":
    for written in build():
        print(written)
