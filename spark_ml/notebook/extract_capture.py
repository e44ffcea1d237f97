"""`notebook extract --capture`: run the notebook once in a Jupyter kernel and record, for each extracted
function, its first call's inputs (sampled) and its output on them.

The run is the original notebook as the extraction staged it: each step written as its def and call
(the first stage of extract_steps, the section's statements unchanged), every other cell as written.
Only Python cells run (magics are no-ops, `%sql` and other languages are skipped). Before the first
cell a preamble cell gives what a Databricks runtime provides when the notebook does not bind it:
`spark` (a local[1] session, UTC, a temporary warehouse), `display`/`displayHTML` (no-ops) and a
`dbutils` whose widgets serve the `--widget` values, else their defaults, and whose `secrets.get`
returns "***"; then the
`--setup` file (Python that creates the tables the notebook reads, say) runs in the same kernel.
Right after each extracted def, a statement wraps the function (spark_ml.notebook.capture_kernel);
the last cell writes the records to a JSON file in a temporary folder, read back here.

Functions that cannot be characterized from their inputs are not wrapped, and get skeleton tests:
UDFs (decorated functions), and functions whose body reads or writes storage (`spark.table`,
`spark.read`, `spark.sql`, `.write`...). The kernel starts in a temporary folder and changes to the
notebook's folder first, so relative paths resolve as in a normal run. Never imports Spark here.
"""

from __future__ import annotations

import ast
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spark_ml.notebook.analysis import Context
from spark_ml.notebook.extract_plan import ExtractError, Function, Plan
from spark_ml.notebook.readers import import_nbformat
from spark_ml.notebook.rules_secrets import REFERENCE_WORDS, STRONG_PAIRS, STRONG_WORDS
from spark_ml.notebook.runner import run_notebook

DEFAULT_LIMIT = 5
KERNEL_SOURCE = Path(__file__).with_name("capture_kernel.py")
CAPTURE = "__spark_ml_capture__"
STORAGE_READS = frozenset({"table", "sql", "read", "readStream", "read_files"})
STORAGE_WRITES = frozenset({"write", "writeStream", "writeTo", "saveAsTable", "insertInto", "save"})

PREAMBLE = """\
import os as _os
import sys as _sys
import tempfile as _tempfile

_os.chdir({folder!r})
_os.environ.setdefault("PYSPARK_PYTHON", _sys.executable)
"""
SESSION = """
from pyspark.sql import SparkSession as _SparkSession

spark = (
    _SparkSession.builder.master("local[1]")
    .config("spark.ui.enabled", "false")
    .config("spark.sql.shuffle.partitions", "1")
    .config("spark.sql.session.timeZone", "UTC")
    .config("spark.sql.warehouse.dir", _tempfile.mkdtemp(prefix="spark-ml-capture-"))
    .getOrCreate()
)
"""
DISPLAY = """

def display(*args, **kwargs):
    return None


displayHTML = display
"""
DBUTILS = """

class _Widgets:
    # as spark_ml.io.notebook_kernel.Widgets serves --verify: a given value wins over the default
    def __init__(self):
        self.given = dict(__WIDGETS__)
        self.values = {}

    def _define(self, name, defaultValue="", *args, **kwargs):
        self.values[name] = self.given.get(name, "" if defaultValue is None else str(defaultValue))

    text = dropdown = combobox = multiselect = _define

    def get(self, name):
        if name in self.values:
            return self.values[name]
        if name in self.given:
            return self.given[name]
        raise KeyError(f"widget {name!r} has no value in this capture run: pass --widget {name}=VALUE")

    def getArgument(self, name, optional=None):
        try:
            return self.get(name)
        except KeyError:
            return optional

    def removeAll(self):
        self.values.clear()

    def remove(self, name):
        self.values.pop(name, None)


class _Secrets:
    def get(self, scope, key):
        return "***"


class _DBUtils:
    widgets = _Widgets()
    secrets = _Secrets()


dbutils = _DBUtils()
getArgument = dbutils.widgets.getArgument
"""
LOAD = """
import types as _types

{capture} = _types.ModuleType("spark_ml_capture")
exec(compile({source!r}, "spark_ml_capture", "exec"), {capture}.__dict__)
{capture} = {capture}.Capture(globals(), {config!r})
"""


@dataclass(frozen=True)
class CaptureOptions:
    limit: int = DEFAULT_LIMIT
    setup: Path | None = None
    kernel: str | None = None
    timeout: int = 600
    # what dbutils.widgets.get(NAME) gives (--widget NAME=VALUE); other widgets serve their defaults
    widgets: dict[str, str] = field(default_factory=dict)


def not_capturable(function: Function) -> str | None:
    """Why a characterization test cannot be captured for it, or None."""
    if function.decorated:
        return "a decorated function (a UDF) is called by Spark, not with DataFrames"
    for node in ast.walk(function.node):
        if isinstance(node, ast.Attribute):
            base = node.value
            if node.attr in STORAGE_READS and isinstance(base, ast.Name) and base.id == "spark":
                return f"it reads storage itself (`spark.{node.attr}` in cell {function.cell}, line {node.lineno})"
            if node.attr in STORAGE_WRITES:
                return f"it writes storage itself (`.{node.attr}` in cell {function.cell}, line {node.lineno})"
    return None


def spec(function: Function) -> dict[str, Any]:
    added = {}
    for name, param in function.added.items():
        kind = "constant" if param.constant else "spark" if param.annotation == "SparkSession" else "value"
        added[name] = {"kind": kind, "source": param.source}
    return {"name": function.name, "added": added}


def capture_notebook(ctx: Context, plan: Plan, options: CaptureOptions, records: Path) -> tuple[Any, list[str]]:
    """(the nbformat notebook to run, a label for each of its cells)."""
    nbformat = import_nbformat()
    nb = nbformat.v4.new_notebook()
    source = ctx.notebook.path
    if source.suffix == ".ipynb":
        original = nbformat.read(str(source), as_version=4)
        if "kernelspec" in original.metadata:
            nb.metadata["kernelspec"] = original.metadata["kernelspec"]
    bound = set(ctx.bindings)
    preamble = PREAMBLE.format(folder=str(source.resolve().parent))
    preamble += "" if "spark" in bound else SESSION
    preamble += "" if bound & {"display", "displayHTML"} else DISPLAY
    widgets = repr(dict(sorted(options.widgets.items())))
    preamble += "" if "dbutils" in bound else DBUTILS.replace("__WIDGETS__", widgets)
    config = {
        "limit": options.limit,
        "strong_words": sorted(STRONG_WORDS),
        "strong_pairs": sorted(STRONG_PAIRS),
        "reference_words": sorted(REFERENCE_WORDS),
    }
    preamble += LOAD.format(capture=CAPTURE, source=KERNEL_SOURCE.read_text(encoding="utf-8"), config=config)
    cells = [(f"the capture preamble (spark, display, dbutils; {CAPTURE})", preamble)]
    if options.setup is not None:
        if not options.setup.is_file():
            raise ExtractError(f"--setup {options.setup}: no such file")
        cells.append((f"the --setup file {options.setup}", options.setup.read_text(encoding="utf-8")))
    wrapped: dict[int, list[Function]] = {f.cell: [] for f in plan.extracted}
    for function in plan.extracted:
        if not_capturable(function) is None:
            wrapped[function.cell].append(function)
    for cell in ctx.notebook.cells:
        if not cell.is_python:
            continue
        lines = cell.source.split("\n")
        for function in sorted(wrapped.get(cell.number, []), key=lambda f: -(f.node.end_lineno or 0)):
            end = function.node.end_lineno or function.node.lineno
            wrap = f"{function.name} = {CAPTURE}.wrap({function.name}, {spec(function)!r})"
            lines[end:end] = [wrap]
        cells.append((f"cell {cell.number} of {source.name}", "\n".join(lines)))
    cells.append(("the capture's last cell (writing the records)", f"{CAPTURE}.dump({str(records)!r})"))
    nb.cells = [nbformat.v4.new_code_cell(text) for _, text in cells]
    return nb, [label for label, _ in cells]


def capture(ctx: Context, plan: Plan, options: CaptureOptions) -> dict[str, dict[str, Any]]:
    """Run the notebook once (see the module docstring); function name -> its record: `inputs`,
    `output` and `imports`, or `reason` (why it was not captured). A function the run never called
    has no record."""
    nbformat = import_nbformat()
    with tempfile.TemporaryDirectory(prefix="spark-ml-capture-") as folder:
        records = Path(folder) / "records.json"
        nb, labels = capture_notebook(ctx, plan, options, records)
        path = Path(folder) / f"{ctx.notebook.path.stem}.capture.ipynb"
        nbformat.write(nb, str(path))
        result = run_notebook(path, timeout=options.timeout, kernel_name=options.kernel)
        if not result.ok:
            where = labels[result.failed_cell - 1] if result.failed_cell is not None else "the kernel"
            raise ExtractError(
                f"--capture: the run of {ctx.notebook.path} failed in {where}: {result.error} (nothing written). "
                "Give it the tables it reads with --setup FILE (Python run in the kernel first), or extract "
                "without --capture for skeleton tests"
            )
        found: dict[str, dict[str, Any]] = json.loads(records.read_text(encoding="utf-8"))
    return found
