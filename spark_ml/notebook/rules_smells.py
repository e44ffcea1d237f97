"""NB501, NB503, NB504 (NB502 lives in rules_secrets): production smells.

- NB501: `.collect()` / `.toPandas()` on a frame whose chain (followed through variables) has no
  `limit`, `agg`, `groupBy`, `rollup`, `cube`, `summary`/`describe`, aggregate `select`, or SQL with
  LIMIT, GROUP BY or an aggregate. A frame of unknown origin (a parameter) counts as unbounded; the
  result of a plain function call (`metrics(df).toPandas()`), frames made from driver data
  (`createDataFrame`, `range`) and imported modules (`gc.collect()`) are not judged.
- NB503: string literals starting with a workspace, home or drive path: `/Workspace/`, `/Repos/`,
  `/Users/`, `/home/`, `/root/`, `~/`, `C:\\`. Storage locations are not reported: `dbfs:/`,
  `/dbfs/`, `/Volumes/`, `s3://`, `abfss://`, `gs://`, relative paths.
- NB504: `%run` (a chain when the included notebook runs others in turn).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from spark_ml.errors import SparkMLError
from spark_ml.notebook.analysis import Context
from spark_ml.notebook.model import Hit, Notebook
from spark_ml.notebook.readers import read_notebook

BOUNDING = frozenset({"limit", "agg", "groupBy", "groupby", "rollup", "cube", "summary", "describe"})
SOURCES = frozenset({"table", "read", "readStream", "sql"})
# Frames built from driver-side data: collecting them back is not judged.
LOCAL_DATA = frozenset({"createDataFrame", "range"})
AGGREGATES = frozenset(
    {"count", "countDistinct", "count_distinct", "approx_count_distinct", "sum", "sum_distinct", "avg", "mean"}
    | {"max", "min", "max_by", "min_by", "stddev", "stddev_samp", "stddev_pop", "variance", "var_samp", "var_pop"}
    | {"percentile_approx", "percentile", "median", "mode", "first", "last", "collect_list", "collect_set"}
    | {"corr", "covar_pop", "covar_samp", "kurtosis", "skewness", "count_if", "bool_and", "bool_or", "any_value"}
)
SQL_BOUNDED = re.compile(
    r"\blimit\s+\d+|\bgroup\s+by\b|\b(?:count|sum|avg|mean|min|max|approx_count_distinct|percentile_approx)\s*\(",
    re.IGNORECASE,
)
ABSOLUTE_PATH = re.compile(r"^(?:file:(?://)?)?(?:/Workspace|/Repos|/Users|/home|/root)(?:/|$)|^[A-Za-z]:[\\/]|^~[/\\]")

Assignments = dict[str, list[tuple[tuple[int, int], ast.expr]]]


def check_collect(ctx: Context) -> Iterator[Hit]:
    module: Assignments = {}
    for parsed in ctx.cells:
        for node in _module_statements(parsed.tree.body):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(node.value, ast.expr) and isinstance(target, ast.Name):
                        module.setdefault(target.id, []).append(((parsed.cell.number, node.lineno), node.value))
    for parsed in ctx.cells:
        finder = _CollectFinder()
        finder.visit(parsed.tree)
        for call, local in finder.found:
            func = call.func
            assert isinstance(func, ast.Attribute)
            position = (parsed.cell.number, call.lineno)
            if _bounded(func.value, position, local, module, ctx.imported, 0) is False:
                snippet = ast.unparse(call)
                snippet = snippet if len(snippet) <= 60 else f"...{snippet[-57:]}"
                yield Hit(
                    "NB501",
                    parsed.cell.number,
                    func.end_lineno or call.lineno,
                    f"`{snippet}` pulls every row of a frame that is not limited or aggregated to the driver",
                    "limit or aggregate first (.limit(n), .agg(...), .groupBy(...).agg(...)), or display() it",
                )


def _module_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for node in body:
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for name in ("body", "orelse", "finalbody"):
                yield from _module_statements(getattr(node, name, []))


class _CollectFinder(ast.NodeVisitor):
    def __init__(self) -> None:
        self.scopes: list[Assignments] = []
        self.found: list[tuple[ast.Call, Assignments | None]] = []

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        local: Assignments = {}
        arguments = node.args
        for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
            local[arg.arg] = []  # a parameter: origin unknown
        body = [node.body] if isinstance(node, ast.Lambda) else node.body
        for statement in body:
            for sub in ast.walk(statement):
                if isinstance(sub, ast.Assign):
                    for target in sub.targets:
                        if isinstance(target, ast.Name):
                            local.setdefault(target.id, []).append(((0, sub.lineno), sub.value))
        self.scopes.append(local)
        self.generic_visit(node)
        self.scopes.pop()

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_Lambda = visit_FunctionDef

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in ("collect", "toPandas") and not node.args:
            self.found.append((node, self.scopes[-1] if self.scopes else None))
        self.generic_visit(node)


def _bounded(
    node: ast.expr,
    position: tuple[int, int],
    local: Assignments | None,
    module: Assignments,
    imported: frozenset[str],
    depth: int,
) -> bool | None:
    """True: limited or aggregated; False: a frame with no bound in sight; None: cannot tell."""
    while True:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method = node.func.attr
            if method in BOUNDING or (method in ("select", "selectExpr") and _aggregates(node)):
                return True
            if method == "sql" and node.args and isinstance(node.args[0], ast.Constant):
                return bool(SQL_BOUNDED.search(str(node.args[0].value)))
            if method in SOURCES:
                return False
            if method in LOCAL_DATA:
                return None
            node = node.func.value
        elif isinstance(node, ast.Attribute):
            if node.attr in SOURCES:
                return False
            node = node.value
        elif isinstance(node, ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Name):
            return _resolve(node.id, position, local, module, imported, depth)
        else:
            return None


def _resolve(
    name: str,
    position: tuple[int, int],
    local: Assignments | None,
    module: Assignments,
    imported: frozenset[str],
    depth: int,
) -> bool | None:
    if depth > 8:
        return None
    if local is not None and name in local:
        candidates = local[name]
        where = (0, position[1])
    elif name in imported:
        return None
    else:
        candidates, where, local = module.get(name, []), position, None
    if not candidates:
        return False  # a parameter, or a frame from elsewhere (%run): nothing shows it is bounded
    before = [value for at, value in candidates if at < where] or [candidates[0][1]]
    value = before[-1]
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
        return None
    return _bounded(value, position, local, module, imported, depth + 1)


def _aggregates(call: ast.Call) -> bool:
    for node in ast.walk(call):
        if node is call:
            continue
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in AGGREGATES:
                return True
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL_BOUNDED.search(node.value):
            return True
    return False


def check_paths(ctx: Context) -> Iterator[Hit]:
    for parsed in ctx.cells:
        later_parts = {
            id(value) for node in ast.walk(parsed.tree) if isinstance(node, ast.JoinedStr) for value in node.values[1:]
        }
        for node in ast.walk(parsed.tree):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or id(node) in later_parts:
                continue
            if ABSOLUTE_PATH.search(node.value):
                shown = node.value if len(node.value) <= 60 else f"{node.value[:57]}..."
                yield Hit(
                    "NB503",
                    parsed.cell.number,
                    node.lineno,
                    f"absolute path '{shown}' ties the notebook to one workspace, user or machine",
                    "put the location in conf/ (a table name or a path under lakehouse.root), or import the code "
                    "from the installed package instead of a sys.path entry",
                )


def check_run_magic(ctx: Context) -> Iterator[Hit]:
    for cell in ctx.notebook.code_cells:
        for magic in cell.magics:
            if magic.name != "run":
                continue
            target = magic.argument.split(maxsplit=1)[0].strip("\"'") if magic.argument else ""
            chain = _runs_others(ctx.notebook, target)
            more = f"; {target} runs {chain} in turn (a %run chain)" if chain else ""
            yield Hit(
                "NB504",
                cell.number,
                magic.line,
                f"`%run {magic.argument}` pulls another notebook's variables into this one: "
                f"nothing here shows which names come from it{more}",
                "move the shared code into the spark_ml package and import it; use dbutils.notebook.run "
                "for a separate child run",
            )


def _runs_others(notebook: Notebook, target: str) -> str:
    if not target or target.startswith("/"):
        return ""
    base = notebook.path.parent / target
    for candidate in (base, Path(f"{base}.py"), Path(f"{base}.ipynb")):
        if candidate.is_file() and candidate.resolve() != notebook.path.resolve():
            try:
                included = read_notebook(candidate)
            except SparkMLError:
                return ""
            runs = [m.argument for c in included.code_cells for m in c.magics if m.name == "run"]
            return ", ".join(f"`%run {r}`" for r in runs)
    return ""
