"""`notebook extract` steps (top-level cells under `##` headings or `# step: NAME` made functions) and `--job`.

Nothing here starts Spark; the `system` tests run ruff on what is written. The Spark run that shows
the rewritten notebook and the job write the same tables as the original is
tests/integration/test_notebook_extract_steps.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from spark_ml.notebook.extract_steps import slug
from spark_ml.notebook.readers import read_notebook
from tests.unit.notebook.test_extract import (
    FORMATS,
    assert_no_free_globals,
    copied,
    extracted,
    files,
    notebook_of,
    run,
)

RUFF_RULES = "E,F,W,I,B,UP,SIM,RUF,C4,PIE"  # the project's rule set


def ruff_clean(target: Path, root: Path) -> None:
    """ruff run at the project's root, as its owner would (so the package's imports are first party)."""
    ruff = str(Path(sys.executable).with_name("ruff"))
    for command in (
        [ruff, "check", "--isolated", "--select", RUFF_RULES, str(target)],
        [ruff, "format", "--isolated", "--check", "--diff", str(target)],
    ):
        result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=root)
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("fmt", FORMATS)
def test_sections_become_functions_with_inputs_params_and_outputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    module, _ = extracted(tmp_path, capsys, "steps", fmt)
    assert module.split("\n\n\n")[1:] == [
        # `## Clean flights`: `flights` rebound in place is one input, the widget's value a parameter
        "def clean_flights(flights: DataFrame, *, run_date: Any) -> DataFrame:\n"
        "    # cancelled flights have no arrival delay\n"
        '    flights = flights.where(F.col("cancelled") == 0)\n'
        '    flights = flights.where(F.col("flight_date") == run_date)\n'
        "    return flights",
        # two outputs read later: a tuple; the constant a parameter defaulting to it
        "def late_by_carrier(\n"
        "    flights: DataFrame,\n"
        "    *,\n"
        "    threshold: int = THRESHOLD,\n"
        ") -> tuple[DataFrame, DataFrame]:\n"
        '    late = flights.where(F.col("arr_delay") > threshold)\n'
        '    by_carrier = late.groupBy("carrier").agg(F.count(F.lit(1)).alias("late"))\n'
        "    return late, by_carrier",
        # `# step: route_counts`: named by the comment, the write left in the notebook
        "def route_counts(flights: DataFrame) -> DataFrame:\n"
        '    routes = flights.groupBy("origin", "dest").agg(F.count(F.lit(1)).alias("flights"))\n'
        "    return routes\n",
    ]
    for kept in ("spark.table", "dbutils", "display", "write", "saveAsTable"):
        assert kept not in module
    assert_no_free_globals(module)


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_notebook_calls_each_step_where_it_was_and_keeps_reads_displays_and_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    _, rewritten = extracted(tmp_path, capsys, "steps", fmt)
    cells = read_notebook(rewritten).cells
    assert [(c.number, c.source) for c in cells if c.is_python] == [
        (2, "from pyspark.sql import functions as F\n\nTHRESHOLD = 15"),
        (3, 'dbutils.widgets.text("run_date", "2013-01-01")\nrun_date = dbutils.widgets.get("run_date")'),
        (
            5,
            'flights = spark.table("bronze.flights")\n'  # the read stays before the call
            "from flights_pkg.steps import clean_flights, late_by_carrier, route_counts\n"
            "flights = clean_flights(flights, run_date=run_date)",  # the widget's value passed here
        ),
        (6, "display(flights)"),
        (8, "late, by_carrier = late_by_carrier(flights, threshold=THRESHOLD)"),
        (9, 'display(late)\nby_carrier.write.mode("overwrite").saveAsTable("silver.late_by_carrier")'),
        (
            10,
            "# step: route_counts\n"
            "routes = route_counts(flights)\n"
            'routes.write.mode("overwrite").saveAsTable("silver.route_counts")',
        ),
    ]
    assert [c.kind for c in cells].count("markdown") == 3  # headings stay


def test_json_names_each_step_its_params_and_cells_and_the_job(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = copied(tmp_path, "steps", "ipynb")
    code, out, err = run(capsys, notebook, tmp_path, "--format", "json", "--job", "late_flights")
    assert code == 0, err
    assert json.loads(out) == {
        "module": str(tmp_path / "flights_pkg" / "steps.py"),
        "tests": [str(tmp_path / "tests" / "unit" / "test_steps.py")],
        "notebook": str(notebook.with_name("steps.extracted.ipynb")),
        "job": str(tmp_path / "jobs" / "late_flights.py"),
        "functions": [
            {"name": "clean_flights", "params": ["flights", "run_date"], "cells": [5]},
            {"name": "late_by_carrier", "params": ["flights", "threshold"], "cells": [8]},
            {"name": "route_counts", "params": ["flights"], "cells": [10]},
        ],
    }


JOB_BODY = [
    "def main(argv: list[str] | None = None) -> None:",
    "    parser = argparse.ArgumentParser(description=__doc__)",
    '    parser.add_argument("--run_date", default="2013-01-01")',
    "    args = parser.parse_args(argv)",
    "    spark = SparkSession.builder.getOrCreate()",
    "    THRESHOLD = 15",
    "    run_date = args.run_date",
    '    flights = spark.table("bronze.flights")',
    "    flights = clean_flights(flights, run_date=run_date)",
    "    _late, by_carrier = late_by_carrier(flights, threshold=THRESHOLD)",
    '    by_carrier.write.mode("overwrite").saveAsTable("silver.late_by_carrier")',
    "    routes = route_counts(flights)",
    '    routes.write.mode("overwrite").saveAsTable("silver.route_counts")',
    "",
    "",
    'if __name__ == "__main__":',
    "    main()",
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_job_reads_calls_the_steps_in_order_and_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    notebook = copied(tmp_path, "steps", fmt)
    code, out, err = run(capsys, notebook, tmp_path, "--job", "late_flights")
    assert code == 0, err
    job = tmp_path / "jobs" / "late_flights.py"
    assert f"wrote {job}" in out.splitlines()
    text = job.read_text()
    compile(text, str(job), "exec")
    lines = text.splitlines()
    assert lines[2] == "    spark-submit jobs/late_flights.py [--run_date VALUE]"
    start = lines.index("from __future__ import annotations")
    assert lines[start : start + 8] == [
        "from __future__ import annotations",
        "",
        "import argparse",
        "",
        "from pyspark.sql import SparkSession",
        "",
        "from flights_pkg.steps import clean_flights, late_by_carrier, route_counts",
        "",
    ]
    assert lines[lines.index(JOB_BODY[0]) :] == JOB_BODY
    for left_out in ("display", "dbutils", "widgets.text", "late)"):
        assert left_out not in text


@pytest.mark.system
@pytest.mark.parametrize("fmt", FORMATS)
def test_generated_job_and_steps_module_pass_ruff(tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    notebook = copied(tmp_path, "steps", fmt)
    assert run(capsys, notebook, tmp_path, "--job", "late_flights")[0] == 0
    ruff_clean(tmp_path / "jobs", tmp_path)
    ruff_clean(tmp_path / "flights_pkg", tmp_path)


def test_a_statement_between_transformations_that_needs_none_of_them_moves_before_the_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = notebook_of(
        tmp_path,
        'flights = spark.table("bronze.flights")',
        "# step: recent_delays\n"
        'recent = flights.where("year = 2013")\n'
        'cutoff = dbutils.widgets.get("cutoff")\n'
        'recent = recent.where(recent["dep_delay"] > cutoff)\n'
        "display(recent)",
    )
    code, _, err = run(capsys, notebook, tmp_path)
    assert code == 0, err
    assert read_notebook(tmp_path / "inline.extracted.py").cells[2].source == (
        "# step: recent_delays\n"
        'cutoff = dbutils.widgets.get("cutoff")\n'
        "from flights_pkg.steps import recent_delays\n"
        "recent = recent_delays(flights, cutoff=cutoff)\n"
        "display(recent)"
    )


def test_a_display_of_an_intermediate_keeps_the_section_in_the_notebook_with_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = notebook_of(
        tmp_path,
        'flights = spark.table("bronze.flights")',
        "# step: on_time_by_day\n"
        'on_time = flights.where("arr_delay <= 0")\n'
        "display(on_time)\n"
        'by_day = on_time.groupBy("day").count()',
        "# step: late_rows\nlate = flights.where('arr_delay > 0')",
    )
    code, out, err = run(capsys, notebook, tmp_path)
    assert code == 0, err
    assert (
        "note: section `# step: on_time_by_day` (cell 3) stays in the notebook: cell 3, line 3 uses `on_time` between "
        "its DataFrame statements" in err
    )
    assert "  late_rows(flights) from cell 4" in out
    cells = read_notebook(tmp_path / "inline.extracted.py").cells
    assert cells[2].source.startswith(
        '# step: on_time_by_day\non_time = flights.where("arr_delay <= 0")\ndisplay(on_time)'
    )


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        (
            ["flights = spark.table('t')", "# step: late\na = flights.limit(1)", "# step: late\nb = flights.limit(2)"],
            r"sections `# step: late` \(cell 3\) and `# step: late` \(cell 4\) would both be step `late`",
        ),
        (
            ["flights = spark.table('t')\nlate = 1", "# step: late\na = flights.limit(1)"],
            r"section `# step: late` \(cell 3\) would be step `late`, a name the notebook already binds",
        ),
        (
            ["flights = spark.table('t')", "# step: late-flights\na = flights.limit(1)"],
            r"cell 3: `# step: late-flights` does not name a Python function",
        ),
    ],
)
def test_refused_sections_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sources: list[str], message: str
) -> None:
    notebook = notebook_of(tmp_path, *sources)
    code, out, err = run(capsys, notebook, tmp_path)
    assert (code, out) == (2, "")
    assert re.search(message, err), err
    assert files(tmp_path) == ["inline.py"]


def test_a_job_of_a_notebook_that_writes_nothing_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notebook = notebook_of(tmp_path, 'flights = spark.table("t")', "# step: late_rows\nlate = flights.limit(1)")
    code, _, err = run(capsys, notebook, tmp_path, "--job", "late")
    assert code == 2
    assert "--job late: inline.py writes nothing (no `.write`, `saveAsTable`, `insertInto`)" in err
    assert files(tmp_path) == ["inline.py"]


@pytest.mark.parametrize(
    "reads",
    [
        # the path to read comes from a secret
        'path = dbutils.secrets.get("s", "k")\nflights = spark.read.parquet(path)',
        # copying a file with dbutils before the read: an effect the job needs and cannot have
        'dbutils.fs.cp("/mnt/raw/f.csv", "/tmp/f.csv")\nflights = spark.read.csv("/tmp/f.csv")',
    ],
    ids=["secret-path", "dbutils-copy"],
)
def test_a_job_that_needs_dbutils_is_refused_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], reads: str
) -> None:
    notebook = notebook_of(
        tmp_path, reads, "# step: late_rows\nlate = flights.limit(1)", 'late.write.saveAsTable("silver.late")'
    )
    code, _, err = run(capsys, notebook, tmp_path, "--job", "late_job")
    assert code == 2
    assert "--job late_job: cell 2, line 1 uses `dbutils`, which only a notebook provides" in err


def test_job_name_must_be_an_identifier(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notebook = copied(tmp_path, "steps", "py")
    code, _, err = run(capsys, notebook, tmp_path, "--job", "../late")
    assert code == 2
    assert "--job must be a Python identifier (letters, digits, _), got '../late'" in err


@pytest.mark.parametrize(
    ("title", "name"),
    [("Clean flights", "clean_flights"), ("1. Late by carrier!", "late_by_carrier"), ("2013", "step_2013"),
     ("class", "class_"), ("Ünïcode only", "n_code_only")],
)  # fmt: skip
def test_headings_become_function_names(title: str, name: str) -> None:
    assert slug(title) == name


def test_a_job_keeps_what_acts_beyond_its_names_and_drops_what_only_shows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A later read may need the file, view or table an earlier statement makes, which no name says:
    the archive's extract, the CREATE and the temp view stay in the job. What only shows or looks
    (print, show, display, count, toPandas and a plot, a bare name, del, assert, a loop or an `if` that
    only prints, a widget definition) does not, nor anything after the last write. The job's own
    getOrCreate comes first, so spark-submit's --master makes the session the notebook's builder returns."""
    notebook = notebook_of(
        tmp_path,
        "import zipfile\n"
        "from pyspark.sql import SparkSession\n"
        'spark = SparkSession.builder.master("local[2]").appName("mine").getOrCreate()\n'
        'dbutils.widgets.text("unused", "x")\n'
        'files = dbutils.fs.ls("/mnt/raw")\n'
        "for f in files:\n"
        "    print(f.path)\n"
        'with zipfile.ZipFile("in.zip") as archive:\n'
        '    archive.extract("flights.csv", "data")\n'
        'spark.sql("CREATE DATABASE IF NOT EXISTS silver")\n'
        'flights = spark.read.csv("data/flights.csv", header=True)\n'
        'flights.createOrReplaceTempView("flights")\n'
        "print(flights.count())\n"
        "flights.show(3)\n"
        "flights.count()\n"
        "flights\n"
        "pdf = flights.toPandas()\n"
        'pdf.plot(kind="bar")\n'
        "del pdf\n"
        "assert flights.count() > 0\n"
        "if flights.count() > 10:\n"
        '    print("many")\n'
        "for c in flights.columns:\n"
        "    display(flights.select(c))",
        "# step: late_rows\nlate = flights.limit(1)",
        'display(late)\nlate.write.saveAsTable("silver.late")\nspark.sql("DROP VIEW flights")',
    )
    code, _, err = run(capsys, notebook, tmp_path, "--job", "late_job")
    assert code == 0, err
    job = (tmp_path / "jobs" / "late_job.py").read_text(encoding="utf-8")
    body = job[job.index("def main() -> None:") :].split("\n\n\nif __name__")[0]
    assert body.split("\n")[1:] == [
        "    spark = SparkSession.builder.getOrCreate()",
        '    spark = SparkSession.builder.master("local[2]").appName("mine").getOrCreate()',
        '    with zipfile.ZipFile("in.zip") as archive:',
        '        archive.extract("flights.csv", "data")',
        '    spark.sql("CREATE DATABASE IF NOT EXISTS silver")',
        '    flights = spark.read.csv("data/flights.csv", header=True)',
        '    flights.createOrReplaceTempView("flights")',
        "    late = late_rows(flights)",
        '    late.write.saveAsTable("silver.late")',
    ]
    assert "import zipfile\n" in job
