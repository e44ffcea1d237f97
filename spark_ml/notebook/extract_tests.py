"""The test file `notebook extract` writes beside the module: one test per extracted function.

`<root>/tests/unit/test_<module leaf>.py` (or `--tests DIR`), refused when it exists unless `--force`.

- Without `--capture`, `test_<fn>_skeleton`: builds each DataFrame input from the columns the
  function's code names (`F.col("x")`, `df["x"]`, `df.x`, string arguments of `select`, `groupBy`,
  `withColumnRenamed`..., minus the columns it creates with `alias`/`withColumn`), all typed STRING
  with one row of nulls, calls the function and then fails on purpose: `pytest.fail("skeleton: ...")`
  until someone writes the expected rows. It never passes by asserting nothing.
- With `--capture` (spark_ml.notebook.extract_capture), `test_<fn>_captured`: the sampled inputs and
  the recorded output as literal rows with their schema (a DDL string), the module's function called
  on them, `assert_df_equality(..., ignore_row_order=True, ignore_nullable=True)` (approximate to
  1e-9 when the output has float or double columns; `allow_nan_equality`). A function the capture
  could not record (a UDF, one that reads storage, one the run never called) gets a skeleton
  whose comment says why.

The session: a project whose conftest.py (in the tests folder or a parent up to the root) defines a
`spark` fixture gets its session; otherwise the file defines a module-scoped `spark` fixture with a
local[1] session (UTC, one shuffle partition, no UI), never stopped, so it also runs in a project
without any conftest.

The text is written as ruff format writes it (double quotes, magic trailing commas, rows one a line
when they fit the project's line length) with imports in ruff's isort order.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spark_ml.notebook.capture_kernel import Uncapturable, literal
from spark_ml.notebook.extract import Extraction, line_length
from spark_ml.notebook.extract_capture import DEFAULT_LIMIT, CaptureOptions, capture, not_capturable
from spark_ml.notebook.extract_plan import FRAME_METHODS, GROUPED_FRAMES, GROUPING, ExtractError, Function, Plan
from spark_ml.notebook.extract_rewrite import render_imports

INDENT = "    "
COLUMN_FUNCTIONS = frozenset({"col", "column"})
COLUMN_METHODS = frozenset(
    {
        "select",
        "groupBy",
        "groupby",
        "orderBy",
        "sort",
        "drop",
        "dropDuplicates",
        "rollup",
        "cube",
        "sortWithinPartitions",
    }
)
CREATING_METHODS = frozenset({"alias", "name", "withColumn"})
FRAME_ATTRIBUTES = FRAME_METHODS | GROUPING | GROUPED_FRAMES | {
    "columns", "schema", "dtypes", "sparkSession", "write", "writeStream", "collect", "show", "na", "stat",
    "printSchema", "isEmpty", "first", "head", "take", "toPandas", "createOrReplaceTempView", "unpersist",
    "checkpoint", "localCheckpoint", "rdd", "explain", "isStreaming", "tail", "foreach", "mapInPandas",
}  # fmt: skip
SIMPLE_TYPES = {"integer": "INT", "long": "BIGINT", "short": "SMALLINT", "byte": "TINYINT"}
PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RESERVED = frozenset({"spark", "actual", "expected", "pytest", "F"})


@dataclass(frozen=True)
class Target:
    """What the tests import and how they get a session."""

    module: str
    notebook: str
    line_length: int
    first_party: frozenset[str]
    project_spark_fixture: bool
    limit: int


def tests_path(root: Path, module: str, tests_dir: Path | None) -> Path:
    folder = tests_dir if tests_dir is not None else root / "tests" / "unit"
    return folder / f"test_{module.split('.')[-1]}.py"


def has_spark_fixture(folder: Path, root: Path) -> bool:
    """Does a conftest.py in `folder` or a parent (up to `root`) define a `spark` fixture?"""
    root = root.resolve()
    current = folder.resolve()
    while True:
        conftest = current / "conftest.py"
        if conftest.is_file() and re.search(r"^\s*def spark\(", conftest.read_text(encoding="utf-8"), re.M):
            return True
        if current == root or current.parent == current or root not in current.parents:
            return False
        current = current.parent


# -- DDL schemas -------------------------------------------------------------------------------------


def ddl_type(data_type: Any) -> str:
    """A Spark JSON schema type as DDL (`BIGINT`, `ARRAY<STRING>`, `DECIMAL(10,2)`)."""
    if isinstance(data_type, str):
        return SIMPLE_TYPES.get(data_type, data_type.upper())
    kind = data_type.get("type")
    if kind == "array":
        return f"ARRAY<{ddl_type(data_type['elementType'])}>"
    if kind == "map":
        return f"MAP<{ddl_type(data_type['keyType'])}, {ddl_type(data_type['valueType'])}>"
    if kind == "struct":
        fields = [f"{ddl_name(f['name'])}: {ddl_type(f['type'])}" for f in data_type["fields"]]
        return f"STRUCT<{', '.join(fields)}>"
    raise Uncapturable(f"a {kind} column has no DDL form")


def ddl_name(name: str) -> str:
    return name if PLAIN_NAME.match(name) else "`" + name.replace("`", "``") + "`"


def ddl(schema: dict[str, Any]) -> str:
    return ", ".join(f"{ddl_name(f['name'])} {ddl_type(f['type'])}" for f in schema["fields"])


def has_floats(schema: dict[str, Any]) -> bool:
    return any(word in str(f["type"]) for f in schema["fields"] for word in ("double", "float"))


# -- ruff-formatted pieces ---------------------------------------------------------------------------


def string_lines(text: str, indent: str, width: int) -> list[str]:
    """A string argument (with its comma), split into implicitly concatenated pieces to fit `width`."""
    if len(indent) + len(text) + 3 <= width:
        return [f'{indent}"{text}",']
    pieces: list[str] = []
    current = ""
    for part in re.split(r"(?<=, )", text):
        if current and len(indent) + len(current) + len(part) + 2 > width:
            pieces.append(current)
            current = ""
        current += part
    pieces.append(current)
    return [f'{indent}"{p}"' for p in pieces[:-1]] + [f'{indent}"{pieces[-1]}",']


def bracketed(head: str, items: list[str], tail: str, indent: str, width: int) -> list[str]:
    """`head(items)tail` as ruff format splits it: one line; else the items on one line of their own;
    else one item a line with a trailing comma."""
    joined = ", ".join(items)
    if len(indent) + len(head) + len(joined) + len(tail) <= width:
        return [f"{indent}{head}{joined}{tail}"]
    if len(items) == 1 or len(indent) + len(INDENT) + len(joined) <= width:
        return [f"{indent}{head}", f"{indent}{INDENT}{joined}", f"{indent}{tail.lstrip()}"]
    return [f"{indent}{head}", *(f"{indent}{INDENT}{i}," for i in items), f"{indent}{tail.lstrip()}"]


def row_lines(values: list[str], indent: str, width: int) -> list[str]:
    if len(values) == 1:
        return [f"{indent}({values[0]},),"]
    return bracketed("(", values, "),", indent, width)


def frame_lines(name: str, rows: list[list[str]], schema: str, indent: str, width: int) -> list[str]:
    inner = indent + INDENT
    out = [f"{indent}{name} = spark.createDataFrame("]
    if rows:
        out.append(f"{inner}[")
        for row in rows:
            out += row_lines(row, inner + INDENT, width) if row else [f"{inner}{INDENT}(),"]
        out.append(f"{inner}],")
    else:
        out.append(f"{inner}[],")
    out += string_lines(schema, inner, width)
    out.append(f"{indent})")
    return out


def call_lines(target: str, function: str, args: list[str], indent: str, width: int) -> list[str]:
    head = f"{target} = {function}(" if target else f"{function}("
    return bracketed(head, args, ")", indent, width)


# -- skeletons ---------------------------------------------------------------------------------------


def _str_args(args: list[ast.expr]) -> list[tuple[int, int, str]]:
    """The string constants among `args` (or in a list/tuple argument), with where they are written."""
    out = []
    for arg in args:
        items = arg.elts if isinstance(arg, (ast.List, ast.Tuple)) else [arg]
        out += [
            (i.lineno, i.col_offset, i.value) for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)
        ]
    return out


def columns_read(node: ast.FunctionDef | ast.AsyncFunctionDef, frames: list[str]) -> dict[str, list[str]]:
    """The columns each DataFrame parameter needs, in the order the code names them (see the module
    docstring); names not tied to one frame go to the first."""
    found: dict[str, list[tuple[int, int, str]]] = {f: [] for f in frames}
    loose: list[tuple[int, int, str]] = []
    created: set[str] = set()
    called = {id(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)}
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            func = sub.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            strings = _str_args([*sub.args, *(k.value for k in sub.keywords if name == "join" and k.arg == "on")])
            if name in COLUMN_FUNCTIONS or name == "withColumnRenamed":
                loose += strings[:1]
                created.update(s for *_, s in strings[1:2] if name == "withColumnRenamed")
            elif name in COLUMN_METHODS or name == "join":
                loose += strings
            elif name in CREATING_METHODS:
                created.update(s for *_, s in strings[:1])
        elif isinstance(sub, ast.Subscript) and isinstance(sub.value, ast.Name) and sub.value.id in found:
            if isinstance(sub.slice, ast.Constant) and isinstance(sub.slice.value, str):
                found[sub.value.id].append((sub.lineno, sub.col_offset, sub.slice.value))
        elif (
            isinstance(sub, ast.Attribute)
            and isinstance(sub.value, ast.Name)
            and sub.value.id in found
            and id(sub) not in called
            and sub.attr not in FRAME_ATTRIBUTES
            and not sub.attr.startswith("_")
        ):
            found[sub.value.id].append((sub.lineno, sub.col_offset, sub.attr))
    if frames:
        found[frames[0]] += loose
    return {f: list(dict.fromkeys(c for *_, c in sorted(cols) if c not in created)) for f, cols in found.items()}


def frame_inputs(function: Function) -> tuple[list[str], list[str]]:
    """(own positional DataFrame parameters, keyword-only DataFrame parameters it gained)."""
    known = function.step.frames if function.step is not None else ()
    own = [n for n in function.frame_params if n in known or not known]
    added = sorted(p.name for p in function.added.values() if p.annotation == "DataFrame" and not p.constant)
    return own, added


def variable(name: str, taken: set[str]) -> str:
    return f"{name}_input" if name in taken or name in RESERVED else name


def skeleton(function: Function, plan: Plan, target: Target, reason: str | None) -> tuple[list[str], set[str]]:
    """(the test's lines, what it needs imported: `F`)."""
    node = function.node
    width = target.line_length
    own_frames, added_frames = frame_inputs(function)
    columns = columns_read(node, [*own_frames, *added_frames])
    if own_frames:  # what the functions it calls read, as far as they are extracted here
        for callee in sorted(function.calls):
            called = plan.functions[callee]
            if called.reused_from is None and (callee_frames := frame_inputs(called)[0]):
                extra = columns_read(called.node, callee_frames)[callee_frames[0]]
                columns[own_frames[0]] = list(dict.fromkeys([*columns[own_frames[0]], *extra]))
    taken = set(plan.functions)
    lines = [f"def test_{function.name}_skeleton(spark: SparkSession) -> None:"]
    if reason:
        lines.append(f"{INDENT}# not captured: {reason}")
    needs: set[str] = set()
    if function.decorated:
        params = [a.arg for a in [*node.args.posonlyargs, *node.args.args]] or ["value"]
        frame = variable("frame", taken)
        lines.append(f"{INDENT}# TODO: real types and rows for the columns it is called with")
        lines += frame_lines(frame, [["None"] * len(params)], ", ".join(f"{p} STRING" for p in params), INDENT, width)
        cols = ", ".join(f'F.col("{p}")' for p in params)
        lines += call_lines("actual", f"{frame}.select", [f"{function.name}({cols})"], INDENT, width)
        needs.add("F")
    else:
        if own_frames or added_frames:
            lines.append(f"{INDENT}# TODO: real types and rows (with a null row and an edge case) for these columns")
        args: list[str] = []
        positional = [a.arg for a in [*node.args.posonlyargs, *node.args.args]]
        for name in [*own_frames, *added_frames]:
            var = variable(name, taken)
            names = columns[name] or ["todo"]
            lines += frame_lines(
                var, [["None"] * len(names)], ", ".join(f"{ddl_name(c)} STRING" for c in names), INDENT, width
            )
        for name in positional:
            if name in own_frames:
                args.append(variable(name, taken))
            else:
                args.append(f"{name}=None")
                lines.append(f"{INDENT}# TODO: a real value for `{name}`")
        for param in sorted(function.added.values(), key=lambda p: p.name):
            if param.constant:
                continue
            if param.annotation == "DataFrame":
                args.append(f"{param.name}={variable(param.name, taken)}")
            elif param.annotation == "SparkSession":
                args.append(f"{param.name}=spark")
            else:
                value = plan.literals.get(param.source)
                args.append(f"{param.name}={_notebook_literal(value.value) if value is not None else 'None'}")
        lines += call_lines("actual", function.name, args, INDENT, width)
    message = f'f"skeleton: write the expected rows of {function.name}, got {{actual!r}}"'
    if len(INDENT * 2) + len(message) > width:
        message = 'f"skeleton: write the expected rows, got {actual!r}"'
    lines += call_lines("", "pytest.fail", [message], INDENT, width)
    return lines, needs


def _notebook_literal(node: ast.expr) -> str:
    try:
        return literal(ast.literal_eval(node), set())
    except (ValueError, Uncapturable):
        return "None"


# -- captured ----------------------------------------------------------------------------------------


def captured(function: Function, record: dict[str, Any], plan: Plan, target: Target) -> list[str]:
    width = target.line_length
    taken = set(plan.functions)
    lines = [f"def test_{function.name}_captured(spark: SparkSession) -> None:"]
    args: list[str] = []
    positional = {a.arg for a in [*function.node.args.posonlyargs, *function.node.args.args]}
    keyword_from_here = False
    for given in record["inputs"]:
        name = given["name"]
        if given["kind"] == "frame":
            var = variable(name, taken)
            lines += frame_lines(var, given["rows"], ddl(given["schema"]), INDENT, width)
            value = var
        elif given["kind"] == "spark":
            value = "spark"
        else:
            value = given["code"]
        if given["own"] and name in positional and not keyword_from_here:
            args.append(value)
        else:
            keyword_from_here = True
            args.append(f"{name}={value}")
    output = record["output"]
    assertions: list[str] = []
    if output["kind"] == "literal":
        lines += call_lines("actual", function.name, args, INDENT, width)
        lines.append(f"{INDENT}assert actual == {output['code']}")
        return lines
    items = output["items"] if output["kind"] == "frames" else [output]
    for i, item in enumerate(items):
        expected = "expected" if len(items) == 1 else f"expected_{i}"
        actual = "actual" if len(items) == 1 else f"actual[{i}]"
        lines += frame_lines(expected, item["rows"], ddl(item["schema"]), INDENT, width)
        flags = ["ignore_row_order=True", "ignore_nullable=True", "allow_nan_equality=True"]
        if has_floats(item["schema"]):
            assertions += call_lines("", "assert_approx_df_equality", [actual, expected, "1e-9", *flags], INDENT, width)
        else:
            assertions += call_lines("", "assert_df_equality", [actual, expected, *flags], INDENT, width)
    lines += call_lines("actual", function.name, args, INDENT, width)
    return lines + assertions


# -- the file ----------------------------------------------------------------------------------------


def wrapped_import(line: str, width: int) -> list[str]:
    """A `from x import a, b` longer than `width` in parentheses, one name a line (as ruff's isort)."""
    if len(line) <= width or not line.startswith("from ") or " as " in line:
        return [line]
    head, names = line.split(" import ", 1)
    return [f"{head} import (", *(f"{INDENT}{n}," for n in names.split(", ")), ")"]


def render_tests(plan: Plan, target: Target, records: dict[str, dict[str, Any]] | None) -> str:
    """The test file; `records` from a capture run (None: skeletons only)."""
    functions = plan.extracted
    bodies: list[list[str]] = []
    needs: set[str] = set()
    asserts: set[str] = set()
    for function in functions:
        record = None if records is None else records.get(function.name)
        reason = None
        if records is not None:
            reason = not_capturable(function)
            if reason is None and record is None:
                reason = "the capture run never called it"
            elif reason is None and record is not None and "reason" in record:
                reason = str(record["reason"])
        if records is not None and reason is None and record is not None:
            try:
                lines = captured(function, record, plan, target)
            except Uncapturable as exc:
                lines, extra = skeleton(function, plan, target, str(exc))
                needs |= extra
            else:
                needs |= set(record.get("imports", []))
                text = "\n".join(lines)
                used = ("assert_df_equality", "assert_approx_df_equality")
                asserts |= {n for n in used if re.search(rf"\b{n}\(", text)}
        else:
            lines, extra = skeleton(function, plan, target, reason)
            needs |= extra
        bodies.append(lines)
    plain: set[tuple[str, str | None]] = {("pytest", None)}
    members: dict[str, dict[str, str | None]] = {
        "__future__": {"annotations": None},
        "pyspark.sql": {"SparkSession": None},
        target.module: {f.name: None for f in functions},
    }
    if "datetime" in needs:
        plain.add(("datetime", None))
    if "decimal" in needs:
        members["decimal"] = {"Decimal": None}
    if "F" in needs:
        members["pyspark.sql"]["functions"] = "F"
    if asserts:
        members["chispa"] = dict.fromkeys(sorted(asserts))
    captured_note = (
        "test_*_captured: characterization tests: inputs sampled from one run of the notebook\n"
        f"(at most {target.limit} rows each), expected rows what the notebook's code returned on them.\n"
        if records is not None
        else ""
    )
    doc = (
        '"""Tests written by `spark-ml notebook extract`.\n\n'
        f"Module: {target.module}\nNotebook: {target.notebook}\n\n"
        f"{captured_note}test_*_skeleton: fail on purpose until the expected rows are written.\n"
        '"""\n'
    )
    imports = render_imports(plain, members, target.first_party)
    out = [doc.rstrip("\n"), "", *(line for i in imports for line in wrapped_import(i, target.line_length))]
    if not target.project_spark_fixture:
        out += [
            "",
            '@pytest.fixture(scope="module")',
            "def spark() -> SparkSession:",
            f"{INDENT}return (",
            f'{INDENT}{INDENT}SparkSession.builder.master("local[1]")',
            f'{INDENT}{INDENT}.config("spark.ui.enabled", "false")',
            f'{INDENT}{INDENT}.config("spark.sql.shuffle.partitions", "1")',
            f'{INDENT}{INDENT}.config("spark.sql.session.timeZone", "UTC")',
            f"{INDENT}{INDENT}.getOrCreate()",
            f"{INDENT})",
            "",
        ]
    text = "\n".join(out).rstrip("\n") + "\n"
    for lines in bodies:
        text += "\n\n" + "\n".join(lines) + "\n"
    return text


def add_tests(
    extraction: Extraction, tests_dir: Path | None, capture_options: CaptureOptions | None, *, force: bool = False
) -> None:
    """Render the test file of `extraction` into `extraction.tests` (written by `write`); with
    `capture_options`, run the notebook once first (spark_ml.notebook.extract_capture). Raises
    ExtractError when the file exists without `force`, or when the capture run fails."""
    if extraction.plan is None or extraction.context is None or not extraction.module_text:
        return  # every function is imported from the package: nothing new to test
    parts = extraction.module.split(".")
    root = extraction.module_path.parents[len(parts) - 1]
    path = tests_path(root, extraction.module, tests_dir)
    if path.exists() and not force:
        raise ExtractError(f"{path} exists: pass --force to overwrite it (nothing written)")
    first_party = {p.name for p in root.iterdir() if (p / "__init__.py").is_file()} | {parts[0]}
    limit = capture_options.limit if capture_options is not None else DEFAULT_LIMIT
    target = Target(
        extraction.module,
        extraction.source.name,
        line_length(root),
        frozenset(first_party),
        has_spark_fixture(path.parent, root),
        limit,
    )
    records = None
    if capture_options is not None:
        records = capture(extraction.context, extraction.plan, capture_options)
    extraction.tests = [(path, render_tests(extraction.plan, target, records))]
