"""What `notebook extract` moves: the notebook's module-level defs, and what each becomes in the module.

Every def written directly in a Python cell (not inside an `if` or `try`) is extracted. Each notebook
global its body reads (found by the one name-resolution engine, spark_ml.notebook.scopes) becomes:

- nothing, when it is a builtin, another extracted function, or a name the notebook imports (the
  import moves with the function);
- a module constant plus a keyword-only parameter defaulting to it (`threshold: int = THRESHOLD`),
  when it is an UPPER_CASE name bound once, at module level, to a literal (number, string, bool, None,
  or a tuple/list/set/dict of literals);
- `spark = <frame>.sparkSession` in the body when the function has a DataFrame parameter, else a
  `spark: SparkSession` keyword-only parameter;
- a keyword-only parameter otherwise (a DataFrame or any other value a cell defines).

A function that calls another extracted function takes the callee's new parameters too and passes
them on (transitively). A decorated function (a UDF) keeps its calling convention: it gets no new
parameters, reads its constants as module constants, and is refused when it reads anything else.
`dbutils`, `display` and the other names only a notebook provides are refused, naming the function.

"DataFrame" is a heuristic, from the notebook's own code: a parameter annotated `DataFrame`; a global
bound to `spark.table/sql/range/createDataFrame(...)`, to a `spark.read...load/csv/json/parquet/...`
chain, or to a chain of DataFrame methods (`filter`, `join`, `groupBy(...).agg`...) on such a global;
a parameter every notebook call site passes such a value (or that `frame.transform(f)` receives).
Other values are typed from their literal (`int`, `dict[str, float]`) or `Any`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from spark_ml.errors import ConfigError
from spark_ml.notebook.analysis import Context
from spark_ml.notebook.rules_code import normalized_body, package_index
from spark_ml.notebook.rules_names import BUILTINS, PROVIDED

UPPER_CASE = re.compile(r"^[A-Z][A-Z0-9_]*$")
# Names only a notebook runtime provides: a module that reads them cannot run outside a notebook.
NOTEBOOK_ONLY = PROVIDED - {"spark"}
SESSION_FRAMES = frozenset({"table", "sql", "range", "createDataFrame", "read_files"})
READER_FRAMES = frozenset({"load", "table", "csv", "json", "parquet", "orc", "text", "format", "option", "options"})
FRAME_METHODS = frozenset(
    {
        "alias", "cache", "coalesce", "crossJoin", "distinct", "drop", "dropDuplicates", "dropna", "exceptAll",
        "fillna", "filter", "hint", "intersect", "join", "limit", "orderBy", "persist", "repartition", "replace",
        "sample", "select", "selectExpr", "sort", "toDF", "transform", "union", "unionByName", "where",
        "withColumn", "withColumnRenamed", "withColumns", "withColumnsRenamed", "withWatermark", "describe",
    }
)  # fmt: skip
GROUPING = frozenset({"groupBy", "groupby", "rollup", "cube", "pivot"})
GROUPED_FRAMES = frozenset({"agg", "count", "sum", "avg", "mean", "min", "max", "applyInPandas"})


class ExtractError(ConfigError):
    """The notebook cannot be extracted as asked (exit 2): the message names the cell, the function or the file."""


@dataclass(frozen=True)
class StepTypes:
    """What a step function (spark_ml.notebook.extract_steps) is known to take and return."""

    frames: tuple[str, ...]
    """Its inputs that are DataFrames."""
    returns: str
    """`DataFrame`, or `tuple[DataFrame, DataFrame]` for several outputs."""


@dataclass(frozen=True)
class Param:
    name: str
    annotation: str
    source: str
    """The notebook global the notebook passes for it (`flights`, `THRESHOLD`, `spark`)."""
    constant: bool = False

    def render(self) -> str:
        default = f" = {self.source}" if self.constant else ""
        return f"{self.name}: {self.annotation}{default}"


@dataclass
class Function:
    name: str
    cell: int
    node: ast.FunctionDef | ast.AsyncFunctionDef
    decorated: bool
    frame_params: list[str] = field(default_factory=list)
    """Its own parameters judged DataFrames (see the module docstring)."""
    direct: dict[str, Param] = field(default_factory=dict)
    added: dict[str, Param] = field(default_factory=dict)
    """New keyword-only parameters, by name (direct ones and those its callees need)."""
    calls: set[str] = field(default_factory=set)
    spark_from: str | None = None
    """The DataFrame parameter whose `sparkSession` gives `spark` in the body."""
    renames: dict[str, str] = field(default_factory=dict)
    """Constant -> the parameter that now carries it."""
    reads: set[str] = field(default_factory=set)
    """Notebook globals its body, decorators, defaults and annotations read."""
    reused_from: str | None = None
    """Module of the package function with the same name and body (NB402): imported, not copied."""
    step: StepTypes | None = None
    """Set for a step made from top-level cells: its types are known, not guessed."""

    @property
    def required(self) -> bool:
        return any(not p.constant for p in self.added.values())


@dataclass
class Plan:
    functions: dict[str, Function]
    constants: dict[str, ast.Assign]
    imports: dict[str, ast.Import | ast.ImportFrom]
    """Name -> the notebook import statement that binds it."""
    frames: set[str]
    """Notebook globals judged DataFrames."""
    literals: dict[str, ast.Assign]
    """Globals bound once, at module level, to a literal (what types a value parameter)."""
    frame_functions: frozenset[str] = frozenset()
    """Extracted functions judged to return a DataFrame."""

    @property
    def extracted(self) -> list[Function]:
        return [f for f in self.functions.values() if f.reused_from is None]


def is_literal(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return isinstance(node.operand, ast.Constant) and isinstance(node.operand.value, (int, float, complex))
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(is_literal(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and is_literal(k) for k in node.keys) and all(is_literal(v) for v in node.values)
    return False


def literal_type(node: ast.expr) -> str:
    """The annotation of a literal value (`int`, `dict[str, float]`), `Any` when mixed or unknown."""
    if isinstance(node, ast.UnaryOp):
        return literal_type(node.operand)
    if isinstance(node, ast.Constant):
        return "None" if node.value is None else type(node.value).__name__
    if isinstance(node, ast.Dict):
        keys = {literal_type(k) for k in node.keys if k is not None}
        values = {literal_type(v) for v in node.values}
        if len(keys) == 1 and len(values) == 1:
            return f"dict[{keys.pop()}, {values.pop()}]"
        return "dict[Any, Any]"
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        kinds = {literal_type(e) for e in node.elts}
        kind = kinds.pop() if len(kinds) == 1 else "Any"
        name = {ast.Tuple: "tuple", ast.List: "list", ast.Set: "set"}[type(node)]
        return f"tuple[{kind}, ...]" if name == "tuple" else f"{name}[{kind}]"
    return "Any"


def _spark_read_chain(node: ast.expr) -> bool:
    while isinstance(node, (ast.Call, ast.Attribute)):
        if isinstance(node, ast.Attribute) and node.attr == "read" and _is_name(node.value, "spark"):
            return True
        node = node.func if isinstance(node, ast.Call) else node.value
    return False


def _is_name(node: ast.expr, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def is_frame(node: ast.expr, frames: set[str], functions: frozenset[str] = frozenset()) -> bool:
    """Is this expression a DataFrame, judged from its shape (see the module docstring)? `functions`:
    notebook functions known to return one."""
    if isinstance(node, ast.Name):
        return node.id in frames
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id in functions
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return False
    base, method = node.func.value, node.func.attr
    if _is_name(base, "spark") and method in SESSION_FRAMES:
        return True
    if method in READER_FRAMES - {"format", "option", "options"} and _spark_read_chain(base):
        return True
    if method in FRAME_METHODS and is_frame(base, frames, functions):
        return True
    return method in GROUPED_FRAMES and _is_grouped(base, frames, functions)


def _is_grouped(node: ast.expr, frames: set[str], functions: frozenset[str]) -> bool:
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in GROUPING):
        return False
    return is_frame(node.func.value, frames, functions) or _is_grouped(node.func.value, frames, functions)


def is_frame_annotation(node: ast.expr | None) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.rsplit(".", 1)[-1] == "DataFrame"
    return (isinstance(node, ast.Name) and node.id == "DataFrame") or (
        isinstance(node, ast.Attribute) and node.attr == "DataFrame"
    )


def top_level_defs(ctx: Context) -> list[tuple[int, ast.FunctionDef | ast.AsyncFunctionDef]]:
    return [
        (parsed.cell.number, node)
        for parsed in ctx.cells
        for node in parsed.tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]


def positional_names(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    return [a.arg for a in [*node.args.posonlyargs, *node.args.args]]


def plan(
    ctx: Context, target_module: str, package_root: Path | None, steps: Mapping[str, StepTypes] | None = None
) -> Plan:
    """`steps`: the defs that are steps made from top-level cells, with their known types."""
    steps = steps or {}
    defs = top_level_defs(ctx)
    names = [node.name for _, node in defs]
    for name in {n for n in names if names.count(n) > 1}:
        cells = ", ".join(str(c) for c, node in defs if node.name == name)
        raise ExtractError(f"function `{name}` is defined more than once (cells {cells}): keep one definition")
    calls = _call_sites(ctx, set(names))
    frame_functions = frozenset(name for name, types in steps.items() if types.returns == "DataFrame")
    while True:  # which functions return DataFrames feeds back into which globals and parameters are ones
        literals, frames, imports = _notebook_values(ctx, frame_functions)
        constants = {name: node for name, node in literals.items() if UPPER_CASE.match(name)}
        functions = {
            node.name: Function(node.name, cell, node, bool(node.decorator_list), step=steps.get(node.name))
            for cell, node in defs
        }
        result = Plan(functions, constants, imports, frames, literals, frame_functions)
        _reuse_package_copies(functions, target_module, package_root)
        for function in functions.values():
            if function.reused_from is None:
                _classify(ctx, result, function, calls.get(function.name, []))
        _propagate(functions)
        found = frozenset(f.name for f in result.extracted if returns_frame(f, frame_functions))
        if found <= frame_functions:
            return result
        frame_functions |= found


def returns_frame(function: Function, functions: frozenset[str]) -> bool:
    """Every `return` of the body gives a DataFrame (locals assigned from DataFrame expressions count)."""
    if function.step is not None:
        return function.step.returns == "DataFrame"
    node = function.node
    frames = set(function.frame_params) | {p.name for p in function.added.values() if p.annotation == "DataFrame"}
    returns: list[ast.Return] = []
    for sub in ast.walk(node):
        if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and sub is not node:
            return False  # a nested scope's returns are not this function's: stay unannotated
        if isinstance(sub, ast.Assign) and len(sub.targets) == 1 and isinstance(sub.targets[0], ast.Name):
            if is_frame(sub.value, frames, functions):
                frames.add(sub.targets[0].id)
        elif isinstance(sub, ast.Return):
            returns.append(sub)
    return bool(returns) and all(r.value is not None and is_frame(r.value, frames, functions) for r in returns)


def _notebook_values(
    ctx: Context, frame_functions: frozenset[str]
) -> tuple[dict[str, ast.Assign], set[str], dict[str, ast.Import | ast.ImportFrom]]:
    """UPPER_CASE literal constants bound once, globals judged DataFrames, and each imported name's import."""
    assigns: dict[str, list[ast.Assign]] = {}
    frames: set[str] = set()
    imports: dict[str, ast.Import | ast.ImportFrom] = {}
    for parsed in ctx.cells:
        for node in parsed.tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    imports.setdefault(alias.asname or alias.name.split(".")[0], node)
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                name = node.targets[0].id
                assigns.setdefault(name, []).append(node)
                (frames.add if is_frame(node.value, frames, frame_functions) else frames.discard)(name)
    binds: dict[str, int] = {}
    for event in ctx.events:
        if event.kind == "bind":
            binds[event.name] = binds.get(event.name, 0) + 1
    literals = {
        name: nodes[0] for name, nodes in assigns.items() if binds.get(name) == 1 and is_literal(nodes[0].value)
    }
    return literals, frames, imports


def _reuse_package_copies(functions: dict[str, Function], target_module: str, package_root: Path | None) -> None:
    if package_root is None or not package_root.is_dir():
        return
    index = package_index(str(package_root.resolve()), frozenset(functions))
    for function in functions.values():
        body = normalized_body(function.node)
        for found in index.get(function.name, ()):
            if body and found.body == body and "." not in found.qualname and found.module != target_module:
                function.reused_from = found.module
                break


def _call_sites(ctx: Context, names: set[str]) -> dict[str, list[ast.Call]]:
    """Notebook code (outside the extracted defs) that calls each function, or hands it to `.transform`."""
    out: dict[str, list[ast.Call]] = {}
    for parsed in ctx.cells:
        for statement in parsed.tree.body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(statement):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names:
                    out.setdefault(node.func.id, []).append(node)
                elif (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "transform"
                    and node.args
                    and isinstance(node.args[0], ast.Name)
                    and node.args[0].id in names
                ):
                    # frame.transform(f, a, b) calls f(frame, a, b)
                    call = ast.Call(node.args[0], [node.func.value, *node.args[1:]], node.keywords)
                    out.setdefault(node.args[0].id, []).append(call)
    return out


def _frame_params(function: Function, calls: list[ast.Call], frames: set[str], functions: frozenset[str]) -> list[str]:
    node = function.node
    every = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
    known = function.step.frames if function.step else ()
    out = [a.arg for a in every if is_frame_annotation(a.annotation) or a.arg in known]
    positional = positional_names(node)
    for i, name in enumerate(positional):
        if name in out or not calls:
            continue
        passed = []
        for call in calls:
            by_keyword = [k.value for k in call.keywords if k.arg == name]
            value = call.args[i] if i < len(call.args) and not isinstance(call.args[i], ast.Starred) else None
            passed.append(value if value is not None else (by_keyword[0] if by_keyword else None))
        if all(v is not None and is_frame(v, frames, functions) for v in passed):
            out.append(name)
    return out


def _classify(ctx: Context, result: Plan, function: Function, calls: list[ast.Call]) -> None:
    node, name = function.node, function.name
    if any(isinstance(sub, (ast.Global, ast.Nonlocal)) for sub in ast.walk(node)):
        raise ExtractError(
            f"function `{name}` (cell {function.cell}) assigns notebook globals (`global`): "
            "return the value instead, then extract it"
        )
    function.frame_params = _frame_params(function, calls, result.frames, result.frame_functions)
    local_words = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {
        a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)
    }
    function.reads = set(ctx.function_globals.get(name, frozenset()))
    function.reads |= {n.id for part in _signature_parts(node) for n in ast.walk(part) if isinstance(n, ast.Name)}
    for used in sorted(ctx.function_globals.get(name, frozenset())):
        kind = _kind_of(ctx, result, used)
        if kind in ("builtin", "import", "function"):
            if kind == "function":
                function.calls.add(used)
            continue
        if kind == "unknown":
            raise ExtractError(
                f"function `{name}` (cell {function.cell}) reads `{used}`, which no cell binds (a star import, "
                f"%run or exec may provide it): import or assign `{used}` explicitly, then extract"
            )
        if kind == "notebook-only":
            raise ExtractError(
                f"function `{name}` (cell {function.cell}) uses `{used}`, which only a notebook provides: "
                f"a module cannot read it; keep the use of `{used}` in the notebook (return the value, or pass "
                "what it gives as a parameter), then extract"
            )
        if function.decorated and kind != "constant":
            raise ExtractError(
                f"decorated function `{name}` (cell {function.cell}) reads notebook variable `{used}`: a UDF's "
                f"calling convention cannot take new parameters; make `{used}` an UPPER_CASE literal constant "
                "or pass it as a column"
            )
        if kind == "spark":
            function.direct["spark"] = Param("spark", "SparkSession", "spark")
        elif kind == "constant":
            if function.decorated:
                continue  # read as the module constant
            pname = used.lower()
            if pname in local_words:
                raise ExtractError(
                    f"function `{name}` (cell {function.cell}) reads constant `{used}` and already uses the "
                    f"name `{pname}`: rename one of them, then extract"
                )
            value = result.constants[used].value
            function.direct[pname] = Param(pname, literal_type(value), used, constant=True)
            function.renames[used] = pname
        else:
            annotation = "DataFrame" if used in result.frames else _value_type(result, used)
            function.direct[used] = Param(used, annotation, used)
    for part in _signature_parts(node):
        for sub in ast.walk(part):
            if isinstance(sub, ast.Name) and _kind_of(ctx, result, sub.id) not in (
                "builtin",
                "import",
                "constant",
                "function",
            ):
                raise ExtractError(
                    f"function `{name}` (cell {function.cell}) reads `{sub.id}` in its decorator, defaults or "
                    "annotations, which run when the module is imported: use an import or an UPPER_CASE "
                    "literal constant there"
                )


def _value_type(result: Plan, name: str) -> str:
    literal = result.literals.get(name)
    return literal_type(literal.value) if literal is not None else "Any"


def _signature_parts(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.expr]:
    args = node.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    parts: list[ast.expr | None] = [*node.decorator_list, *args.defaults, *args.kw_defaults, node.returns]
    parts += [a.annotation for a in every if a is not None]
    return [p for p in parts if p is not None and not isinstance(p, ast.Constant)]


def _kind_of(ctx: Context, result: Plan, name: str) -> str:
    hows = ctx.bindings.get(name, set())
    if name in result.functions:
        return "function"
    if name == "spark":
        return "spark"
    if not hows:
        if name in BUILTINS:
            return "builtin"
        if name in NOTEBOOK_ONLY:
            return "notebook-only"
        return "unknown"
    if hows == {"import"}:
        return "import"
    if name in result.constants:
        return "constant"
    return "value"


def _propagate(functions: dict[str, Function]) -> None:
    """Give each function the parameters its callees need, transitively; settle where `spark` comes from."""
    for function in functions.values():
        function.added = dict(function.direct)
    changed = True
    while changed:
        changed = False
        for function in functions.values():
            if function.reused_from is not None:
                continue
            needed = dict(function.added)
            own = {a.arg for a in ast.walk(function.node.args) if isinstance(a, ast.arg)}
            for callee in sorted(function.calls):
                target = functions[callee]
                if target.reused_from is None:
                    for pname, param in target.added.items():
                        # a UDF calls with the callee's constant defaults: it has no parameters to pass on
                        if function.decorated and param.constant:
                            continue
                        if pname in own:
                            if function.step is not None:
                                continue  # a step's input is the notebook global itself: it passes it on
                            raise ExtractError(
                                f"function `{function.name}` (cell {function.cell}) has a parameter `{pname}` "
                                f"and calls `{callee}`, which reads the notebook's `{param.source}`: in a module "
                                "both would be one name; rename the parameter, then extract"
                            )
                        needed.setdefault(pname, param)
            frame = function.frame_params[0] if function.frame_params else None
            if frame is None:
                frame = next((p.name for p in needed.values() if p.annotation == "DataFrame"), None)
            if "spark" in needed and frame is not None:
                del needed["spark"]
                function.spark_from = frame
            if function.decorated and set(needed) - set(function.direct):
                extra = ", ".join(f"`{p}`" for p in sorted(set(needed) - set(function.direct)))
                raise ExtractError(
                    f"decorated function `{function.name}` (cell {function.cell}) calls functions that need "
                    f"{extra}: a UDF cannot take new parameters; pass them as columns or constants"
                )
            if needed != function.added:
                function.added = needed
                changed = True
