"""`notebook extract --job NAME`: `jobs/NAME.py`, the rewritten notebook's path from its reads to its writes.

The job is the backward slice of the extracted notebook from its writes and its other effects: every
top-level statement that writes (`.write`, `.writeStream`, `.writeTo`, `saveAsTable`, `insertInto`);
before the last write, every statement that may act beyond the names it binds (a bare call such as
`spark.sql("CREATE ...")`, `createOrReplaceTempView` or an archive's `extract`, or a `with`, loop,
`if` or `try` holding one: a later read may need the file, view or table it makes, which no name
says); and every earlier statement that binds a name one of those (transitively) reads, in notebook
order. Left out: what only shows or computes a value to look at (`display`, `print`, `.show()`,
`.count()`, `.toPandas()`, `.head()`, plots), widget definitions, bare names, `del`, `assert`, and
assignments nothing chosen reads. The imports it needs are regrouped in ruff's order.

Widget values become command-line options: `dbutils.widgets.get("run_date")` (or `getArgument`)
reads `args.run_date`, given as `--run_date VALUE`, defaulting to the value of the notebook's
`dbutils.widgets.text/dropdown/combobox("run_date", DEFAULT, ...)` when it has one, else required.
`spark` is `SparkSession.builder.getOrCreate()`, first, so spark-submit's `--master` and `--conf` make
the session (a session statement of the notebook's own, when kept, then returns it). Any other name
only a notebook provides (`dbutils` for secrets or files, `display`, `sc`) in a statement the job
needs refuses it, naming the cell and line.
"""

from __future__ import annotations

import ast
import re

from spark_ml.notebook.extract_plan import NOTEBOOK_ONLY, ExtractError
from spark_ml.notebook.extract_rewrite import Edit, apply_edits, char_col, collect_import, render_imports
from spark_ml.notebook.extract_steps import indent, names_of
from spark_ml.notebook.model import Cell, Notebook

JOB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
WRITES = frozenset({"write", "writeStream", "writeTo", "saveAsTable", "insertInto"})
WIDGET_DEFINITIONS = frozenset({"text", "dropdown", "combobox", "multiselect"})
BINDING = (ast.Assign, ast.AnnAssign, ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
SHOWS = frozenset({"display", "displayHTML", "print", "show", "printSchema", "explain"})
# calls that compute something to look at, never a change a later read could need
LOOKS = frozenset(
    {"head", "take", "collect", "count", "first", "toPandas", "describe", "summary", "limit", "plot", "hist"}
    | {"cache", "persist", "unpersist"}  # a job computes each frame once: caching changes no result
)
PLOTTING = frozenset({"plt", "sns", "px", "matplotlib", "seaborn"})


def check_job_name(name: str) -> None:
    if not JOB_NAME.match(name):
        raise ExtractError(f"--job must be a Python identifier (letters, digits, _), got {name!r}")


def _writes(statement: ast.stmt) -> bool:
    return any(isinstance(sub, ast.Attribute) and sub.attr in WRITES for sub in ast.walk(statement))


def _call_name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _root(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _effect_call(call: ast.expr) -> bool:
    """A bare call that may act: anything but what only shows or computes a value to look at
    (`display`, `print`, `.show()`, `.count()`, `.toPandas()`, a plot) and widget definitions."""
    if not isinstance(call, ast.Call):
        return False
    name = _call_name(call)
    if name in SHOWS or name in LOOKS:
        return False
    if _root(call) in PLOTTING:
        return False
    func = call.func
    widgets = isinstance(func, ast.Attribute) and isinstance(func.value, ast.Attribute) and func.value.attr == "widgets"
    return not widgets


def _acts(statement: ast.stmt) -> bool:
    """May it act beyond the names it binds (a file, a table, a setting)? A bare call that may act
    (see _effect_call), or a `with`, loop, `if` or `try` whose body holds one. Definitions, imports,
    assignments, `del`, `assert` and bare names or values do not."""
    if isinstance(statement, ast.Expr):
        return _effect_call(statement.value)
    if isinstance(statement, (ast.With, ast.For, ast.While, ast.If, ast.Try)):
        bodies = [statement.body, getattr(statement, "orelse", []), getattr(statement, "finalbody", [])]
        bodies += [handler.body for handler in getattr(statement, "handlers", [])]
        return any(_acts(inner) for body in bodies for inner in body)
    return False


def _widget(node: ast.AST) -> str | None:
    """The widget name of `dbutils.widgets.get("x")` or `getArgument("x", ...)`."""
    if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
        return None
    name = node.args[0].value
    func = node.func
    getter = (
        isinstance(func, ast.Attribute)
        and func.attr == "get"
        and isinstance(func.value, ast.Attribute)
        and func.value.attr == "widgets"
        and isinstance(func.value.value, ast.Name)
        and func.value.value.id == "dbutils"
    ) or (isinstance(func, ast.Name) and func.id == "getArgument")
    return name if getter and isinstance(name, str) else None


def _widget_defaults(statements: list[tuple[Cell, ast.stmt, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for _, statement, text in statements:
        for node in ast.walk(statement):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in WIDGET_DEFINITIONS
                and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr == "widgets"
                and len(node.args) >= 2
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                out[node.args[0].value] = ast.get_source_segment(text, node.args[1]) or ast.unparse(node.args[1])
    return out


def _unused_targets(statement: ast.stmt, later: set[str], lines: list[str]) -> list[Edit]:
    """`late, by_carrier = f(...)` where the job needs only `by_carrier`: `_late, by_carrier = ...`."""
    if not (isinstance(statement, ast.Assign) and isinstance(statement.targets[0], ast.Tuple)):
        return []
    edits: list[Edit] = []
    for element in statement.targets[0].elts:
        if isinstance(element, ast.Name) and element.id not in later and not element.id.startswith("_"):
            col = char_col(lines, element.lineno, element.col_offset)
            edits.append((element.lineno, col, element.lineno, col, "_"))
    return edits


def dest(widget: str) -> str:
    return re.sub(r"\W", "_", widget)


def job_text(
    notebook: Notebook, final: dict[int, str | None], job: str, first_party: frozenset[str], notebook_name: str
) -> str:
    """The job's source; `final`: the extracted notebook's changed cells (None: removed)."""
    statements: list[tuple[Cell, ast.stmt, str]] = []
    for cell in notebook.cells:
        if not cell.is_python or cell.magics:
            continue
        text = final.get(cell.number, cell.source)
        if text is None:
            continue
        statements += [(cell, statement, text) for statement in ast.parse(text).body]
    writes = [index for index, (_, statement, _) in enumerate(statements) if _writes(statement)]
    if not writes:
        raise ExtractError(
            f"--job {job}: {notebook_name} writes nothing (no `.write`, `saveAsTable`, `insertInto`): a job would "
            "compute nothing; write the result in the notebook, then extract"
        )
    chosen: list[tuple[Cell, ast.stmt, str, list[str], set[str]]] = []
    needed: set[str] = set()
    for index, (cell, statement, text) in reversed(list(enumerate(statements))):
        reads, binds = names_of(cell, statement)
        if index in writes or binds & needed or (index < writes[-1] and _acts(statement)):
            chosen.append((cell, statement, text, reads, set(needed)))
            if isinstance(statement, BINDING):
                needed -= binds
            needed |= set(reads)
    chosen.reverse()
    plain: set[tuple[str, str | None]] = set()
    members: dict[str, dict[str, str | None]] = {"__future__": {"annotations": None}}
    used = {name for _, s, _, reads, _ in chosen if not isinstance(s, (ast.Import, ast.ImportFrom)) for name in reads}
    body: list[str] = []
    widgets: list[str] = []
    defaults = _widget_defaults(statements)
    for cell, statement, text, _, later in chosen:
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            collect_import(statement, used, plain, members)
            continue
        lines = text.split("\n")
        edits: list[Edit] = []
        replaced: set[int] = set()
        for node in ast.walk(statement):
            widget = _widget(node)
            if widget is not None and isinstance(node, ast.Call):
                if widget not in widgets:
                    widgets.append(widget)
                line, end = node.lineno, node.end_lineno or node.lineno
                start_col = char_col(lines, line, node.col_offset)
                end_col = char_col(lines, end, node.end_col_offset or 0)
                edits.append((line, start_col, end, end_col, f"args.{dest(widget)}"))
                replaced |= {id(sub) for sub in ast.walk(node)}
        edits += _unused_targets(statement, later, lines)
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and node.id in NOTEBOOK_ONLY and id(node) not in replaced:
                raise ExtractError(
                    f"--job {job}: cell {cell.number}, line {node.lineno} uses `{node.id}`, which only a notebook "
                    "provides, in a statement the job needs: keep it out of the path from reads to writes"
                )
        start = min([statement.lineno, *(d.lineno for d in getattr(statement, "decorator_list", []))])
        edited = apply_edits(lines, edits)
        end = (statement.end_lineno or statement.lineno) + len(edited) - len(lines)
        body.append(indent("\n".join(edited[start - 1 : end])))
    members.setdefault("pyspark.sql", {})["SparkSession"] = None
    head = ["def main(argv: list[str] | None = None) -> None:" if widgets else "def main() -> None:"]
    if widgets:
        plain.add(("argparse", None))
        head.append("    parser = argparse.ArgumentParser(description=__doc__)")
        for widget in widgets:
            option = [f'"--{widget}"']
            if dest(widget) != widget.replace("-", "_"):
                option.append(f'dest="{dest(widget)}"')
            option.append(f"default={defaults[widget]}" if widget in defaults else "required=True")
            head.append(f"    parser.add_argument({', '.join(option)})")
        head.append("    args = parser.parse_args(argv)")
    # The session comes first, from getOrCreate: spark-submit's --master and --conf make it. A session
    # statement of the notebook's own, kept below, then returns it (a master set in code would
    # otherwise win over --master and run a cluster job on the driver).
    if "spark" in used:
        head.append("    spark = SparkSession.builder.getOrCreate()")
    elif "SparkSession" not in used:
        members["pyspark.sql"].pop("SparkSession")
    usage = " ".join(f"[--{w} VALUE]" if w in defaults else f"--{w} VALUE" for w in widgets)
    doc = [
        f'"""Job {job}: notebook {notebook_name} from its reads to its writes.',
        "",
        f"    spark-submit jobs/{job}.py {usage}".rstrip(),
        "",
        "Written by `spark-ml notebook extract`: it reads what the notebook reads, calls",
        "the extracted functions in the notebook's order and writes what it writes. The",
        "package must be importable (the wheel installed, or PYTHONPATH at the root).",
        '"""',
        "",
    ]
    imports = render_imports(plain, {m: n for m, n in members.items() if n}, first_party)
    text = "\n".join([*doc, *imports, "", *head, *body])
    return text + '\n\n\nif __name__ == "__main__":\n    main()\n'
