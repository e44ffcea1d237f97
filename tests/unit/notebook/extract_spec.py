"""The `notebook extract` corpus: small notebooks made for its tests, each written twice (.ipynb and .py).

The files in tests/fixtures/notebooks/extract/ are generated from this spec (a test checks they are in
sync), as fixture_spec.py does for the rule fixtures:

    .venv/bin/python -m tests.unit.notebook.extract_spec

Function bodies are written ruff-formatted: the extracted module keeps them as written.
"""

from __future__ import annotations

from pathlib import Path

from tests.unit.notebook.fixture_spec import FIXTURES_DIR, Spec, code, databricks_text, md
from tests.unit.notebook.fixture_spec import build as build_fixtures

EXTRACT_DIR = FIXTURES_DIR / "extract"
IMPORTS = "from pyspark.sql import functions as F"
# The input tables the runnable corpus notebooks read (bronze.flights, bronze.carriers), created by
# `--setup` in each kernel of `extract --verify` / `--capture` (a null delay, a cancelled flight, a
# carrier without a name, another day).
CORPUS_SEED = """\
spark.sql("CREATE DATABASE IF NOT EXISTS bronze")
spark.sql("CREATE DATABASE IF NOT EXISTS silver")
rows = [
    ("2013-01-01", 0, 30.0, "AA", "JFK", "LAX"),
    ("2013-01-01", 0, 16.0, "AA", "JFK", "LAX"),
    ("2013-01-01", 0, 15.0, "B6", "JFK", "BOS"),  # edge: not later than the threshold
    ("2013-01-01", 0, None, "B6", "LGA", "BOS"),  # null delay
    ("2013-01-01", 1, 90.0, "UA", "EWR", "SFO"),  # cancelled
    ("2013-01-02", 0, 45.0, "UA", "EWR", "SFO"),  # another day
]
schema = "flight_date string, cancelled int, arr_delay double, carrier string, origin string, dest string"
spark.createDataFrame(rows, schema).write.saveAsTable("bronze.flights")
carriers = [("AA", "American"), ("B6", "JetBlue"), ("UA", None)]
spark.createDataFrame(carriers, "carrier string, name string").write.saveAsTable("bronze.carriers")
"""
# widget values a corpus notebook needs (widgets_sql has no default)
CORPUS_WIDGETS = {"widgets_sql": ["--widget", "run_date=2013-01-02"]}

EXTRACT_FIXTURES: dict[str, list[Spec]] = {
    # Globals of each kind: a DataFrame passed positionally (typed from the call site), an UPPER_CASE
    # literal constant, a cell value, `spark` with and without a DataFrame parameter; a function that
    # calls another; `display` at top level.
    "late_flights": [
        md("# Late flights"),
        code(IMPORTS, 1),
        code('THRESHOLD = 15\nmin_flights = 10\nflights = spark.table("bronze.flights")', 2),
        code(
            "def late_flights(flights):\n"
            "    # strictly later than the threshold\n"
            '    return flights.filter(F.col("arr_delay") > THRESHOLD)',
            3,
        ),
        code(
            "def late_by_carrier(flights):\n"
            "    return (\n"
            "        late_flights(flights)\n"
            '        .groupBy("carrier")\n'
            '        .agg(F.count(F.lit(1)).alias("late"))\n'
            '        .filter(F.col("late") >= min_flights)\n'
            "    )",
            4,
        ),
        code(
            "def with_carrier_names(late):\n"
            '    names = spark.table("bronze.carriers")\n'
            '    return late.join(names, "carrier", how="left")\n'
            "\n\n"
            "def carrier_table():\n"
            '    return spark.table("bronze.carriers")',
            5,
        ),
        code(
            "late = late_flights(flights)\n"
            "by_carrier = late_by_carrier(flights)\n"
            "named = with_carrier_names(late)\n"
            "carriers = carrier_table()\n"
            "display(named)",
            6,
        ),
    ],
    # A UDF closing over an UPPER_CASE dict: the decorator stays, the dict becomes a module constant.
    "udf_dict": [
        md("# Carrier names"),
        code(f"{IMPORTS}\nfrom pyspark.sql.types import StringType", 1),
        code('CARRIER_NAMES = {"AA": "American", "B6": "JetBlue"}', 2),
        code(
            '@F.udf(returnType=StringType())\ndef carrier_name(code):\n    return CARRIER_NAMES.get(code, "unknown")',
            3,
        ),
        code(
            'flights = spark.table("bronze.flights")\n'
            'named = flights.withColumn("carrier_name", carrier_name(F.col("carrier")))\n'
            "display(named)",
            4,
        ),
    ],
    # Widgets and display stay in the notebook, a %sql cell is left alone; the widget's value is a
    # cell value the function now takes as a parameter.
    "widgets_sql": [
        md("# Flights of one day"),
        code(f'{IMPORTS}\n\nrun_date = dbutils.widgets.get("run_date")', 1),
        code("%%sql\nSELECT count(*) AS n FROM bronze.flights", 2),
        code('def on_run_date(frame):\n    return frame.filter(F.col("flight_date") == run_date)', 3),
        code('flights = spark.table("bronze.flights")\ndisplay(on_run_date(flights))', 4),
    ],
    # Steps from top-level cells: a `##` section whose read stays above the call and whose two
    # statements rebind `flights`, one reading a widget's value (an argument at the call site); a
    # display after it; a section with two outputs later read (a tuple) and its write; a `# step:
    # NAME` section with its write in the same cell.
    "steps": [
        md("# Flight steps"),
        code(f"{IMPORTS}\n\nTHRESHOLD = 15", 1),
        code('dbutils.widgets.text("run_date", "2013-01-01")\nrun_date = dbutils.widgets.get("run_date")', 2),
        md("## Clean flights\n\nCancelled flights out, one day in."),
        code(
            'flights = spark.table("bronze.flights")\n'
            "# cancelled flights have no arrival delay\n"
            'flights = flights.where(F.col("cancelled") == 0)\n'
            'flights = flights.where(F.col("flight_date") == run_date)',
            3,
        ),
        code("display(flights)", 4),
        md("## Late by carrier"),
        code(
            'late = flights.where(F.col("arr_delay") > THRESHOLD)\n'
            'by_carrier = late.groupBy("carrier").agg(F.count(F.lit(1)).alias("late"))',
            5,
        ),
        code('display(late)\nby_carrier.write.mode("overwrite").saveAsTable("silver.late_by_carrier")', 6),
        code(
            "# step: route_counts\n"
            'routes = flights.groupBy("origin", "dest").agg(F.count(F.lit(1)).alias("flights"))\n'
            'routes.write.mode("overwrite").saveAsTable("silver.route_counts")',
            7,
        ),
    ],
    # Refused: a function reading dbutils cannot live in a module.
    "uses_dbutils": [
        md("# Secrets"),
        code('def api_token():\n    return dbutils.secrets.get(scope="flights", key="api-token")', 1),
        code("token = api_token()", 2),
    ],
    # Refused (NB201): cell 2 calls the function before the cell that defines `flights` ran.
    "refuse_used_before_defined": [
        md("# Used before defined"),
        code(f"{IMPORTS}\n\n\ndef late(frame):\n    return frame.filter(F.col('arr_delay') > 15)", 1),
        code("late_rows = late(flights)", 3),
        code('flights = spark.table("bronze.flights")', 2),
    ],
    # Refused (NB202): `threshold` lived only in the kernel that ran this.
    "refuse_undefined_name": [
        md("# Undefined name"),
        code(IMPORTS, 1),
        code('def late(frame):\n    return frame.filter(F.col("arr_delay") > threshold)', 2),
        code('flights = spark.table("bronze.flights")\nlate_rows = late(flights)', 3),
    ],
    # Refused in the .ipynb (NB101: cell 4 ran before cell 3); the .py twin stores no counts and extracts.
    "refuse_out_of_order": [
        md("# Out of order"),
        code('flights = spark.table("bronze.flights")', 1),
        code("def first_rows(frame):\n    return frame.limit(5)", 3),
        code("rows = first_rows(flights)", 2),
    ],
}


def databricks_twin(cells: list[Spec]) -> str:
    """Databricks writes a SQL cell as `%sql`, where Jupyter needs the cell magic `%%sql`."""
    renamed = [Spec(s.kind, s.source.replace("%%sql", "%sql", 1), s.count) for s in cells]
    return databricks_text(renamed)


def build(folder: Path = EXTRACT_DIR) -> list[Path]:
    return build_fixtures(folder, EXTRACT_FIXTURES, databricks_twin)


if __name__ == "__main__":
    for written in build():
        print(written)
