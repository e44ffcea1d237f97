"""The Databricks-like globals a compared notebook run gets, and what the run wrote: runs INSIDE the
Jupyter kernels that `spark-ml notebook run --against` and `notebook extract --verify` start
(spark_ml.notebook.compare sends the calls as text, so the notebook tools never import Spark).

`start(globals(), ...)` builds a local Delta session whose warehouse is the run's own folder and
defines what a Databricks notebook finds without importing it:

- `spark`: that session (`spark.sql.sources.default` is delta, as on Databricks);
- `display(x)`: prints a DataFrame as its schema, its row count and up to DISPLAY_ROWS rows, each
  as JSON, sorted (a display of an unordered frame shows rows in any order; sorted, two runs can be
  compared; the order an `orderBy` gives is not shown); other values are printed;
- `displayHTML(html)`: prints the HTML;
- `dbutils.widgets` (text, dropdown, combobox, multiselect, get, getArgument, remove, removeAll)
  and `getArgument`: a widget's value is the one given on the command line, else its default;
- the `%%sql` cell magic: each `;`-separated statement through `spark.sql`, the last result displayed.

The session replays a Delta table's log in one task (`spark.databricks.delta.snapshotPartitions`
1, not Delta's 50): the tables a compared run writes are new, with a short log. A kernel run of a
corpus notebook took 40.6 s with Delta's default and 28.3 s with 1 (medians of 3, alternated,
2026-12-04, this machine). Code generation and adaptive planning keep Spark's defaults (turning
them off as well gave 27-28 s in two runs): a notebook moved into a package runs on real data.

`print_snapshot(roots)` prints, after a marker line, every catalog table and every Delta or
Parquet folder under `roots`: schema, row count, and the rows as sorted JSON, or for more than
SNAPSHOT_ROWS rows an order-independent checksum.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spark_ml.config import Settings
from spark_ml.config.schema import LakehouseSettings, SparkSettings
from spark_ml.session import get_spark

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

DISPLAY_ROWS = 1000
SNAPSHOT_ROWS = 1000
SNAPSHOT_MARKER = "--- spark-ml snapshot ---"
_STATEMENT_END = re.compile(r";[ \t]*(?:\n|$)")


class WidgetNotDefined(LookupError):
    """`dbutils.widgets.get` of a widget that no cell defined and the command line did not give."""


class Widgets:
    def __init__(self, given: Mapping[str, str]) -> None:
        self.given = dict(given)
        self.values: dict[str, str] = {}

    def _define(self, name: str, default: Any) -> None:
        self.values[name] = self.given.get(name, "" if default is None else str(default))

    def text(self, name: str, defaultValue: str = "", label: str | None = None) -> None:
        self._define(name, defaultValue)

    def dropdown(self, name: str, defaultValue: str, choices: Any = (), label: str | None = None) -> None:
        self._define(name, defaultValue)

    combobox = dropdown
    multiselect = dropdown

    def get(self, name: str) -> str:
        if name in self.values:
            return self.values[name]
        if name in self.given:
            return self.given[name]
        raise WidgetNotDefined(f"no input widget named {name!r} is defined: pass --widget {name}=VALUE")

    def getArgument(self, name: str, optional: str | None = None) -> str | None:
        try:
            return self.get(name)
        except WidgetNotDefined:
            return optional

    def remove(self, name: str) -> None:
        self.values.pop(name, None)

    def removeAll(self) -> None:
        self.values.clear()


class DBUtils:
    """The part of dbutils a notebook run off Databricks can serve: widgets."""

    def __init__(self, widgets: Mapping[str, str]) -> None:
        self.widgets = Widgets(widgets)


def local_session(warehouse: str, lakehouse: str) -> SparkSession:
    settings = Settings(
        lakehouse=LakehouseSettings(root=lakehouse),
        spark=SparkSettings(
            mode="local",
            app_name="spark-ml notebook run",
            shuffle_partitions=1,
            conf={
                "spark.sql.warehouse.dir": warehouse,
                "spark.sql.catalogImplementation": "in-memory",
                "spark.sql.sources.default": "delta",
                "spark.log.level": "ERROR",
                "spark.databricks.delta.snapshotPartitions": "1",
            },
        ),
    )
    return get_spark(settings)


def start(namespace: MutableMapping[str, Any], *, warehouse: str, lakehouse: str, widgets: Mapping[str, str]) -> None:
    """Define `spark`, `display`, `displayHTML`, `dbutils` and `getArgument` in `namespace` (the
    notebook's globals) and register the `%%sql` magic."""
    spark = local_session(warehouse, lakehouse)
    dbutils = DBUtils(widgets)

    def sql(line: str, cell: str) -> None:
        result = None
        for statement in _STATEMENT_END.split(cell):
            if statement.strip():
                result = spark.sql(statement)
        if result is not None and result.columns:
            display(result)

    namespace.update(
        spark=spark,
        display=display,
        displayHTML=lambda html: _show(str(html)),
        dbutils=dbutils,
        getArgument=dbutils.widgets.getArgument,
    )
    shell = namespace.get("get_ipython")
    if shell is not None:
        shell().register_magic_function(sql, magic_kind="cell", magic_name="sql")


def display(value: Any = None, *_: Any, **__: Any) -> None:
    from pyspark.sql import DataFrame

    if isinstance(value, DataFrame):
        rows, count = json_rows(value, DISPLAY_ROWS)
        shown = f", the first {len(rows)} sorted" if count > len(rows) else ""
        _show(f"{value.schema.simpleString()}: {count} rows{shown}", *rows)
    elif hasattr(value, "to_string"):  # pandas
        _show(value.to_string())
    else:
        _show(str(value))


def _show(*lines: str) -> None:
    """What `display` shows goes to the cell's stdout, the output the comparison reads."""
    sys.stdout.write("".join(f"{line}\n" for line in lines))


def _as_json(frame: DataFrame) -> DataFrame:
    from pyspark.sql import functions as F

    columns = [F.col(f"`{name}`") for name in frame.columns]
    return frame.select(F.to_json(F.struct(*columns), {"ignoreNullFields": "false"}).alias("row"))


def json_rows(frame: DataFrame, limit: int) -> tuple[list[str], int]:
    """(the first `limit` rows as JSON, sorted; the row count). A frame of at most `limit` rows
    takes one query, sorted here; a larger one is sorted by Spark and counted."""
    as_json = _as_json(frame)
    rows = sorted(row["row"] for row in as_json.limit(limit + 1).collect())
    if len(rows) <= limit:
        return rows, len(rows)
    return [row["row"] for row in as_json.orderBy("row").limit(limit).collect()], as_json.count()


def describe(frame: DataFrame) -> dict[str, Any]:
    """Schema, row count and the rows as sorted JSON, or, for more than SNAPSHOT_ROWS rows, an
    order-independent checksum (the sum of each row's hash) instead of the rows."""
    from pyspark.sql import functions as F

    as_json = _as_json(frame)
    rows = sorted(row["row"] for row in as_json.limit(SNAPSHOT_ROWS + 1).collect())
    if len(rows) <= SNAPSHOT_ROWS:
        return {"schema": frame.schema.simpleString(), "rows": len(rows), "checksum": None, "sample": rows}
    totals = as_json.agg(
        F.count(F.lit(1)).alias("rows"),
        F.sum(F.xxhash64("row").cast("decimal(38,0)")).alias("checksum"),
    ).collect()[0]
    return {
        "schema": frame.schema.simpleString(),
        "rows": totals["rows"],
        "checksum": str(totals["checksum"]),
        "sample": None,
    }


def snapshot(spark: SparkSession, roots: Mapping[str, str]) -> dict[str, Any]:
    """Every table of the catalog, and every Delta or Parquet folder under each root (named by the
    root's label and the folder's path relative to it)."""
    tables: dict[str, Any] = {}
    for database in spark.catalog.listDatabases():
        for table in spark.catalog.listTables(database.name):
            if table.isTemporary or table.tableType == "VIEW":
                continue
            name = f"{database.name}.{table.name}"
            tables[f"table {name}"] = describe(spark.table(f"`{database.name}`.`{table.name}`"))
    for label, root in roots.items():
        for folder, kind in _table_folders(Path(root)):
            frame = spark.read.format(kind).load(str(folder))
            tables[f"{kind} folder {label}/{folder.relative_to(root).as_posix()}"] = describe(frame)
    return tables


def _table_folders(root: Path) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    for folder, dirs, files in os.walk(root):
        if "_delta_log" in dirs:
            found.append((Path(folder), "delta"))
            dirs.clear()
        elif "_SUCCESS" in files or any(name.endswith(".parquet") for name in files):
            found.append((Path(folder), "parquet"))
            dirs.clear()
        else:
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    return found


def print_snapshot(roots: Mapping[str, str]) -> None:
    """The snapshot of the active session (the notebook may have rebound `spark`), as one JSON line."""
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    if spark is None:
        raise RuntimeError("no active Spark session to list the tables of (did the notebook stop it?)")
    _show(SNAPSHOT_MARKER, json.dumps(snapshot(spark, roots), sort_keys=True))
