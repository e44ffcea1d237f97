"""The text `notebook extract` writes: the module, and the notebook with its defs replaced by an import.

Function bodies are copied as written (comments and formatting kept), with three kinds of edit made
at `ast` positions: constants read through their new parameter, calls of extracted functions given
the parameters they gained, and `spark = <frame>.sparkSession` as the first statement where the
session comes from a DataFrame. Signatures, imports and constants are generated in ruff's format
(one line when it fits the project's `line-length`, else one parameter a line with a trailing comma),
so the module is ruff-clean when the notebook's bodies were.
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from collections.abc import Iterator

from spark_ml.notebook.analysis import Context
from spark_ml.notebook.extract_plan import ExtractError, Function, Plan, returns_frame
from spark_ml.notebook.rules_code import is_docstring

Edit = tuple[int, int, int, int, str]
"""(line, column, end line, end column, replacement): 1-based lines, 0-based character columns."""
SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def char_col(lines: list[str], line: int, byte_col: int) -> int:
    """`ast` columns count UTF-8 bytes; text edits need characters."""
    return len(lines[line - 1].encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))


def apply_edits(lines: list[str], edits: list[Edit]) -> list[str]:
    out = list(lines)
    for line, col, end_line, end_col, new in sorted(edits, reverse=True):
        before, after = out[line - 1][:col], out[end_line - 1][end_col:]
        joined = before + new + after
        out[line - 1 : end_line] = [] if joined == "" and new == "" else joined.split("\n")
    return out


def _position(node: ast.AST, lines: list[str], end: bool = False) -> tuple[int, int]:
    line = int(getattr(node, "end_lineno" if end else "lineno"))
    return line, char_col(lines, line, int(getattr(node, "end_col_offset" if end else "col_offset")))


def call_edit(call: ast.Call, params: list[tuple[str, str]], lines: list[str]) -> Edit | None:
    """Add `name=value` keywords a call does not pass yet."""
    passed = {k.arg for k in call.keywords}
    missing = ", ".join(f"{name}={value}" for name, value in params if name not in passed)
    if not missing:
        return None
    given: list[ast.AST] = [*call.args, *call.keywords]
    if given:
        last = max(given, key=lambda a: (getattr(a, "end_lineno", 0), getattr(a, "end_col_offset", 0)))
        line, col = _position(last, lines, end=True)
        return (line, col, line, col, f", {missing}")
    start, end = _position(call.func, lines, end=True), _position(call, lines, end=True)
    return (*start, *end, f"({missing})")


def walk_outside(node: ast.AST) -> Iterator[ast.AST]:
    """ast.walk that does not enter nested def, lambda or class bodies."""
    todo = list(ast.iter_child_nodes(node))
    while todo:
        current = todo.pop()
        yield current
        if not isinstance(current, SCOPES):
            todo.extend(ast.iter_child_nodes(current))


# -- the module ------------------------------------------------------------------------------------


def return_annotation(function: Function, plan: Plan) -> str:
    """`DataFrame` (or a step's tuple of them) when known, else "" (no annotation)."""
    if function.step is not None:
        return function.step.returns
    return "DataFrame" if returns_frame(function, plan.frame_functions) else ""


def signature(function: Function, plan: Plan, source: str, line_length: int) -> str:
    node, args = function.node, function.node.args

    def segment(part: ast.AST) -> str:
        return ast.get_source_segment(source, part) or ast.unparse(part)

    def arg(a: ast.arg, default: ast.expr | None = None) -> str:
        annotation = segment(a.annotation) if a.annotation else ("DataFrame" if a.arg in function.frame_params else "")
        text = f"{a.arg}: {annotation}" if annotation else a.arg
        if default is not None:
            text += f" = {segment(default)}" if annotation else f"={segment(default)}"
        return text

    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    parts: list[str] = []
    for i, a in enumerate(positional):
        parts.append(arg(a, defaults[i]))
        if args.posonlyargs and i == len(args.posonlyargs) - 1:
            parts.append("/")
    if args.vararg is not None:
        parts.append("*" + arg(args.vararg))
    elif args.kwonlyargs or function.added:
        parts.append("*")
    parts += [arg(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)]
    parts += [p.render() for p in sorted(function.added.values(), key=lambda p: p.name)]
    if args.kwarg is not None:
        parts.append("**" + arg(args.kwarg))
    returns = segment(node.returns) if node.returns else return_annotation(function, plan)
    head = f"{'async def' if isinstance(node, ast.AsyncFunctionDef) else 'def'} {node.name}"
    tail = f" -> {returns}:" if returns else ":"
    one_line = f"{head}({', '.join(parts)}){tail}"
    if len(one_line) <= line_length:
        return one_line
    return head + "(\n" + "".join(f"    {p},\n" for p in parts) + ")" + tail


def _signature_end(lines: list[str], def_line: int) -> tuple[int, int]:
    """(line, column after) of the `:` that ends the signature starting on `def_line`."""
    text = "\n".join(lines[def_line - 1 :]) + "\n"
    depth = 0
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.OP:
            if token.string in "([{":
                depth += 1
            elif token.string in ")]}":
                depth -= 1
            elif token.string == ":" and depth == 0:
                return def_line + token.end[0] - 1, token.end[1]
    raise AssertionError("a parsed def has a colon")


def function_text(function: Function, plan: Plan, source: str, line_length: int) -> str:
    """The def as written in its cell, with the edits of this module's docstring."""
    node = function.node
    lines = source.split("\n")
    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    edits: list[Edit] = []
    changed = bool(function.added or function.frame_params) or (
        node.returns is None and bool(return_annotation(function, plan))
    )
    if changed:
        end_line, end_col = _signature_end(lines, node.lineno)
        sig = signature(function, plan, source, line_length)
        edits.append((node.lineno, char_col(lines, node.lineno, node.col_offset), end_line, end_col, sig))
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id in function.renames and sub not in _signature_nodes(node):
            line, col = _position(sub, lines)
            edits.append((line, col, line, col + len(sub.id), function.renames[sub.id]))
        elif isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id in plan.functions:
            callee = plan.functions[sub.func.id]
            # pass on what the caller has: its added parameters, a step's inputs (the notebook
            # globals themselves), or the `spark` it derives
            own = {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)} if function.step else set()
            has = set(function.added) | own | ({"spark"} if function.spark_from else set())
            if callee.reused_from is None and callee.added:
                edit = call_edit(sub, [(p, p) for p in sorted(callee.added) if p in has], lines)
                if edit is not None:
                    edits.append(edit)
    if function.spark_from is not None:
        body = node.body
        first = body[1] if len(body) > 1 and is_docstring(body[0]) else body[0]
        if first.lineno == node.lineno:
            raise ExtractError(f"function `{function.name}`: put its body on its own lines, then extract")
        indent = " " * char_col(lines, first.lineno, first.col_offset)
        edits.append((first.lineno, 0, first.lineno, 0, f"{indent}spark = {function.spark_from}.sparkSession\n"))
    edited = apply_edits(lines, edits)
    end = (node.end_lineno or node.lineno) + len(edited) - len(lines)  # every edit is inside the def
    return "\n".join(edited[start - 1 : end]).rstrip() + "\n"


def _signature_nodes(node: ast.FunctionDef | ast.AsyncFunctionDef) -> set[ast.AST]:
    args = node.args
    parts: list[ast.AST | None] = [*node.decorator_list, *args.defaults, *args.kw_defaults, node.returns]
    parts += [a.annotation for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg] if a]
    return {sub for part in parts if part is not None for sub in ast.walk(part)}


def render_imports(
    plain: set[tuple[str, str | None]], members: dict[str, dict[str, str | None]], first_party: frozenset[str]
) -> list[str]:
    """Import lines as ruff's isort rules order them: future, standard library, third party, first party
    (blank lines between), `import x` before `from x import y`, an aliased member on its own line."""
    sections: dict[int, list[tuple[int, str, str]]] = {}

    def section(module: str) -> int:
        top = module.lstrip(".").split(".")[0]
        if top == "__future__":
            return 0
        if module.startswith(".") or top in first_party:
            return 3
        return 1 if top in sys.stdlib_module_names else 2

    for name, alias in plain:
        line = f"import {name} as {alias}" if alias else f"import {name}"
        sections.setdefault(section(name), []).append((0, name.lower(), line))
    for module, names in members.items():
        together = sorted((n for n, a in names.items() if not a), key=_member_order)
        if together:
            sections.setdefault(section(module), []).append(
                (1, module.lower(), f"from {module} import {', '.join(together)}")
            )
        for name, alias in sorted(((n, a) for n, a in names.items() if a), key=lambda na: _member_order(na[0])):
            sections.setdefault(section(module), []).append(
                (1, module.lower(), f"from {module} import {name} as {alias}")
            )
    out: list[str] = []
    for key in sorted(sections):
        out += [line for *_, line in sorted(sections[key])] + [""]
    return out


def _member_order(name: str) -> tuple[int, str]:
    """isort's order-by-type: CONSTANTS, then Classes, then everything else."""
    kind = 0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2
    return kind, name.lower()


def collect_import(
    statement: ast.Import | ast.ImportFrom,
    used: set[str],
    plain: set[tuple[str, str | None]],
    members: dict[str, dict[str, str | None]],
) -> None:
    """Add the names of `statement` that bind one of `used` to `plain` (import x [as y]) or
    `members` (module -> name -> alias), the input of render_imports."""
    for alias in statement.names:
        if (alias.asname or alias.name.split(".")[0]) not in used:
            continue
        if isinstance(statement, ast.Import):
            plain.add((alias.name, alias.asname))
        else:
            module = "." * statement.level + (statement.module or "")
            members.setdefault(module, {})[alias.name] = alias.asname


def render_module(
    ctx: Context, plan: Plan, notebook_name: str, line_length: int, first_party: frozenset[str] = frozenset()
) -> str:
    sources = {p.cell.number: p.cell.source for p in ctx.cells}
    functions = plan.extracted
    reads = set().union(*(f.reads for f in functions)) if functions else set()
    annotations = {p.annotation for f in functions for p in f.added.values()}
    annotations |= {"DataFrame"} if any(f.frame_params or return_annotation(f, plan) for f in functions) else set()
    plain: set[tuple[str, str | None]] = set()
    from_imports: dict[str, dict[str, str | None]] = {}
    for name in sorted(reads & set(plan.imports)):
        collect_import(plan.imports[name], {name}, plain, from_imports)
    for function in plan.functions.values():
        if function.reused_from is not None and function.name in reads:
            from_imports.setdefault(function.reused_from, {})[function.name] = None
    bound = reads & set(plan.imports)
    for name, module in (("DataFrame", "pyspark.sql"), ("SparkSession", "pyspark.sql"), ("Any", "typing")):
        if name not in bound and any(name in a for a in annotations):
            from_imports.setdefault(module, {})[name] = None
    constants = sorted(
        {c for f in functions for c in f.reads if c in plan.constants},
        key=lambda c: (plan.constants[c].lineno, c),
    )
    docstring = f'"""Functions extracted from {notebook_name} by `spark-ml notebook extract`."""'
    if len(docstring) > line_length:
        docstring = f'"""Functions extracted from {notebook_name}\nby `spark-ml notebook extract`.\n"""'
    out = [docstring, ""]
    from_imports.setdefault("__future__", {})["annotations"] = None
    out += render_imports(plain, from_imports, first_party)
    cells = {p.cell.number: p for p in ctx.cells}
    for name in constants:
        assign = plan.constants[name]
        cell = next(c for c, p in cells.items() if assign in p.tree.body)
        out.append(f"{name} = {ast.get_source_segment(sources[cell], assign.value) or ast.unparse(assign.value)}")
    text = "\n".join(out).rstrip("\n") + "\n"
    for function in functions:
        text += "\n\n" + function_text(function, plan, sources[function.cell], line_length)
    return text


# -- the notebook ----------------------------------------------------------------------------------


def import_lines(plan: Plan, module: str) -> list[str]:
    lines = []
    extracted = [f.name for f in plan.extracted]
    if extracted:
        lines.append(f"from {module} import {', '.join(extracted)}")
    reused: dict[str, list[str]] = {}
    for function in plan.functions.values():
        if function.reused_from is not None:
            reused.setdefault(function.reused_from, []).append(function.name)
    lines += [f"from {m} import {', '.join(names)}" for m, names in sorted(reused.items())]
    return lines


def notebook_cells(ctx: Context, plan: Plan, module: str) -> dict[int, str | None]:
    """cell number -> its new text (None: the cell is removed) for every cell that changes."""
    out: dict[int, str | None] = {}
    first = min((f.cell, f.node.lineno) for f in plan.functions.values())
    needs = {
        f.name: [(p.name, p.source) for p in sorted(f.added.values(), key=lambda p: p.name)]
        for f in plan.extracted
        if f.added
    }
    for parsed in ctx.cells:
        cell = parsed.cell
        lines = (cell.raw or cell.source).split("\n")
        edits: list[Edit] = []
        removed = False
        for statement in parsed.tree.body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)) and statement.name in plan.functions:
                start = min([statement.lineno, *(d.lineno for d in statement.decorator_list)])
                end = statement.end_lineno or statement.lineno
                here = (cell.number, statement.lineno) == first
                edits.append(
                    (start, 0, end, len(lines[end - 1]), "\n".join(import_lines(plan, module)) if here else "")
                )
                removed = removed or not here
                continue
            edits += _call_site_edits(statement, cell.number, plan, needs, lines)
        if not edits:
            continue
        text = "\n".join(apply_edits(lines, edits)).strip("\n")
        out[cell.number] = None if removed and not text.strip() else _collapse_blank_runs(text)
    return out


def _call_site_edits(
    statement: ast.stmt, cell: int, plan: Plan, needs: dict[str, list[tuple[str, str]]], lines: list[str]
) -> list[Edit]:
    edits: list[Edit] = []
    callees = {id(n.func) for n in ast.walk(statement) if isinstance(n, ast.Call)}
    for node in ast.walk(statement):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in needs:
            edit = call_edit(node, needs[node.func.id], lines)
            if edit is not None:
                edits.append(edit)
        elif isinstance(node, ast.Name) and node.id in needs and id(node) not in callees:
            function = plan.functions[node.id]
            if function.required:
                names = ", ".join(f"`{p}`" for p in sorted(function.added))
                raise ExtractError(
                    f"`{node.id}` is used as a value in cell {cell}, line {node.lineno} (not called): it would "
                    f"need {names} passed where it runs; call it directly (`{node.id}(df, ...)`), then extract"
                )
    return edits


def _collapse_blank_runs(text: str) -> str:
    out: list[str] = []
    for line in text.split("\n"):
        if line.strip() or len(out) < 2 or out[-1].strip() or out[-2].strip():
            out.append(line)
    return "\n".join(out)
