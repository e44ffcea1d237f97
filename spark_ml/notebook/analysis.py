"""Static facts about a notebook's Python cells, shared by the rules. Never executes notebook code.

- `events`: module-level reads, bindings and calls of names in execution order (top to bottom,
  statement by statement), from `ast`. Function bodies are not executed when defined, so their reads
  are not events; comprehensions and class bodies are, and a call of a notebook function is an event.
- `definitions`: every function, lambda and class scope with the global names it reads, from
  `symtable` (the compiler's own scope analysis).
"""

from __future__ import annotations

import ast
import symtable
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

from spark_ml.notebook.model import Cell, Hit, Notebook

EventKind = Literal["read", "bind", "call"]
DefinitionKind = Literal["function", "lambda", "class"]
ASSIGNMENT_KINDS = frozenset({"assign", "augassign", "walrus"})
DEFINITION_KINDS = frozenset({"import", "def", "class"})
_COMPREHENSIONS = frozenset({"listcomp", "setcomp", "dictcomp", "genexpr"})
# Calls that keep a lambda to run later (on executors, or when an action runs).
DEFERRED_CALLEES = frozenset(
    {"udf", "pandas_udf", "register", "partial", "foreach", "foreachBatch", "foreachPartition"}
)
_PARSE_FLAGS = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


@dataclass(frozen=True)
class Event:
    cell: int
    line: int
    kind: EventKind
    name: str
    how: str = ""
    """For bindings: assign, augassign, walrus, for, with, except, match, import, def, class."""


@dataclass(frozen=True)
class Definition:
    qualname: str
    kind: DefinitionKind
    cell: int
    line: int
    globals_used: frozenset[str]
    top_level: bool


@dataclass
class ParsedCell:
    cell: Cell
    tree: ast.Module
    table: symtable.SymbolTable | None


@dataclass(frozen=True)
class Options:
    max_definition_lines: int = 30
    allowed_globals: frozenset[str] = frozenset()
    package_root: Path | None = None
    """Folder of the package that NB402 compares against; None: the installed spark_ml."""


@dataclass
class Context:
    notebook: Notebook
    options: Options
    cells: list[ParsedCell] = field(default_factory=list)
    syntax_errors: list[Hit] = field(default_factory=list)

    @classmethod
    def build(cls, notebook: Notebook, options: Options) -> Context:
        ctx = cls(notebook, options)
        for cell in notebook.cells:
            if not cell.is_python or notebook.language != "python":
                continue
            try:
                tree = compile(cell.source, f"<cell {cell.number}>", "exec", flags=_PARSE_FLAGS)
            except SyntaxError as exc:
                line = exc.lineno or 1
                ctx.syntax_errors.append(
                    Hit(
                        "NB002",
                        cell.number,
                        line,
                        f"cell does not parse as Python: {exc.msg}",
                        "fix the syntax; the other rules skip this cell until it parses",
                    )
                )
                continue
            try:
                table: symtable.SymbolTable | None = symtable.symtable(cell.source, f"<cell {cell.number}>", "exec")
            except SyntaxError:  # top-level await and similar notebook-only syntax
                table = None
            assert isinstance(tree, ast.Module)
            ctx.cells.append(ParsedCell(cell, tree, table))
        return ctx

    @cached_property
    def events(self) -> list[Event]:
        out: list[Event] = []
        for parsed in self.cells:
            walker = _Walker(parsed.cell.number)
            walker.statements(parsed.tree.body)
            out.extend(walker.events)
        return out

    @cached_property
    def definitions(self) -> list[Definition]:
        out: list[Definition] = []
        for parsed in self.cells:
            if parsed.table is not None:
                defs = {
                    (type(n).__name__, getattr(n, "name", ""), getattr(n, "lineno", 0))
                    for n in ast.walk(parsed.tree)
                    if _is_def(n)
                }
                out.extend(_definitions(parsed.table, parsed.cell.number, "", defs))
        return out

    @cached_property
    def immediate_lambdas(self) -> frozenset[tuple[int, int]]:
        """(cell, line) of module-level lambdas that are only passed straight to a call that runs them
        now (`sorted(xs, key=lambda x: ...)`, `pdf.apply(lambda r: ...)`): top-level code, in effect.
        Lambdas given to `udf`, `pandas_udf`, `partial`, `foreach...` run later and are not immediate."""
        immediate: set[tuple[int, int]] = set()
        stored: set[tuple[int, int]] = set()
        for parsed in self.cells:
            for node, parent in _module_level_lambdas(parsed.tree):
                where = (parsed.cell.number, node.lineno)
                callee = _callee(parent) if isinstance(parent, (ast.Call, ast.keyword)) else None
                if callee is not None and callee not in DEFERRED_CALLEES:
                    immediate.add(where)
                else:
                    stored.add(where)
        return frozenset(immediate - stored)

    @cached_property
    def bindings(self) -> dict[str, set[str]]:
        """name -> the kinds of module-level binding it gets anywhere in the notebook."""
        out: dict[str, set[str]] = {}
        for event in self.events:
            if event.kind == "bind":
                out.setdefault(event.name, set()).add(event.how)
        return out

    @cached_property
    def variables(self) -> frozenset[str]:
        """Notebook-level variables: bound by something other than import, def or class."""
        return frozenset(name for name, hows in self.bindings.items() if hows - DEFINITION_KINDS)

    @cached_property
    def imported(self) -> frozenset[str]:
        return frozenset(name for name, hows in self.bindings.items() if "import" in hows)

    @cached_property
    def function_globals(self) -> dict[str, frozenset[str]]:
        """Module-level def/class name -> globals read by it or anything nested in it."""
        out: dict[str, set[str]] = {}
        for d in self.definitions:
            top = d.qualname.split(".", 1)[0]
            if (d.top_level and d.kind != "lambda") or (not d.top_level and top in out):
                out.setdefault(top, set()).update(d.globals_used)
        return {k: frozenset(v) for k, v in out.items()}

    def transitive_globals(self, name: str) -> frozenset[str]:
        """Globals a call of notebook function `name` reads, following calls of other notebook functions."""
        seen: set[str] = set()
        todo = [name]
        while todo:
            current = todo.pop()
            for used in self.function_globals.get(current, frozenset()):
                if used not in seen:
                    seen.add(used)
                    todo.append(used)
        return frozenset(seen)


def _module_level_lambdas(tree: ast.Module) -> Iterator[tuple[ast.Lambda, ast.AST]]:
    """(lambda, its parent) for lambdas outside any def, class or other lambda; a keyword's parent is its call."""
    todo: list[tuple[ast.AST, ast.AST]] = [(child, tree) for child in ast.iter_child_nodes(tree)]
    while todo:
        node, parent = todo.pop()
        if isinstance(node, ast.Lambda):
            yield node, parent
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for child in ast.iter_child_nodes(node):
            todo.append((child, parent if isinstance(node, ast.keyword) and isinstance(parent, ast.Call) else node))


def _callee(node: ast.AST) -> str | None:
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else None


def _is_def(node: ast.AST) -> bool:
    return isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))


def _definitions(
    table: symtable.SymbolTable, cell: int, prefix: str, defs: set[tuple[str, str, int]]
) -> Iterator[Definition]:
    for child in table.get_children():
        kind, name, line = str(child.get_type()), child.get_name(), child.get_lineno()
        if kind not in ("function", "class"):  # type-parameter scopes (3.12+): look through them
            yield from _definitions(child, cell, prefix, defs)
            continue
        is_comprehension = name.strip("<>") in _COMPREHENSIONS and not any(
            d[1] == name and d[2] == line for d in defs if d[0] != "Lambda"
        )
        if is_comprehension:
            if not prefix:  # a lambda inside a module-level comprehension is still a top-level lambda
                yield from _definitions(child, cell, prefix, defs)
            continue
        if name == "lambda" and prefix:  # part of the enclosing definition (see _globals_used)
            continue
        label: DefinitionKind = "lambda" if name == "lambda" else ("class" if kind == "class" else "function")
        qualname = f"{prefix}{name}"
        used = frozenset(_globals_used(child))
        yield Definition(qualname, label, cell, line, used, top_level=not prefix)
        yield from _definitions(child, cell, f"{qualname}.", defs)


def _globals_used(table: symtable.SymbolTable) -> Iterator[str]:
    for sym in table.get_symbols():
        if sym.is_global() and (sym.is_referenced() or sym.is_assigned()):
            yield sym.get_name()
    for child in table.get_children():
        if child.get_name().strip("<>") in _COMPREHENSIONS or child.get_name() == "lambda":
            yield from _globals_used(child)


_Comprehension = ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp


class _Walker:
    """Module-level name events of one cell, in execution order."""

    def __init__(self, cell: int) -> None:
        self.cell = cell
        self.events: list[Event] = []

    def _add(self, node: ast.AST, kind: EventKind, name: str, how: str = "") -> None:
        self.events.append(Event(self.cell, getattr(node, "lineno", 1), kind, name, how))

    def statements(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            self.statement(stmt)

    def statement(self, node: ast.stmt) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.expressions([*node.decorator_list, *node.args.defaults, *node.args.kw_defaults])
            self._add(node, "bind", node.name, "def")
        elif isinstance(node, ast.ClassDef):
            self.expressions([*node.decorator_list, *node.bases, *(k.value for k in node.keywords)])
            self._class_body(node.body)
            self._add(node, "bind", node.name, "class")
        elif isinstance(node, ast.Assign):
            self.expression(node.value)
            for target in node.targets:
                self.target(target, "assign")
        elif isinstance(node, ast.AugAssign):
            self.expression(node.value)
            if isinstance(node.target, ast.Name):
                self._add(node, "read", node.target.id)
            self.target(node.target, "augassign")
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self.expression(node.value)
                self.target(node.target, "assign")
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            self.expression(node.iter)
            self.target(node.target, "for")
            self.statements(node.body)
            self.statements(node.orelse)
        elif isinstance(node, (ast.While, ast.If)):
            self.expression(node.test)
            self.statements(node.body)
            self.statements(node.orelse)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                self.expression(item.context_expr)
                if item.optional_vars is not None:
                    self.target(item.optional_vars, "with")
            self.statements(node.body)
        elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            self._try(node)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                self._add(node, "bind", alias.asname or alias.name.split(".")[0], "import")
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:  # `from x import *` binds "*": any name may exist from here on
                self._add(node, "bind", alias.asname or alias.name, "import")
        elif isinstance(node, ast.Match):
            self.expression(node.subject)
            for case in node.cases:
                for sub in ast.walk(case.pattern):
                    bound = getattr(sub, "name", None) or getattr(sub, "rest", None)
                    if isinstance(bound, str):
                        self._add(sub, "bind", bound, "match")
                if case.guard is not None:
                    self.expression(case.guard)
                self.statements(case.body)
        elif isinstance(node, (ast.Global, ast.Nonlocal, ast.Delete)):
            return
        else:
            self.expressions([c for c in ast.iter_child_nodes(node) if isinstance(c, ast.expr)])

    def _try(self, node: ast.stmt) -> None:
        self.statements(getattr(node, "body", []))
        for handler in getattr(node, "handlers", []):
            if handler.type is not None:
                self.expression(handler.type)
            if handler.name:
                self._add(handler, "bind", handler.name, "except")
            self.statements(handler.body)
        self.statements(getattr(node, "orelse", []))
        self.statements(getattr(node, "finalbody", []))

    def _class_body(self, body: list[ast.stmt]) -> None:
        # A class body runs at definition; its own assignments stay in the class namespace.
        inner = _Walker(self.cell)
        inner.statements(body)
        self.events.extend(e for e in inner.events if e.kind != "bind")

    def target(self, node: ast.expr, how: str) -> None:
        if isinstance(node, ast.Name):
            self._add(node, "bind", node.id, how)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for element in node.elts:
                self.target(element, how)
        elif isinstance(node, ast.Starred):
            self.target(node.value, how)
        else:  # attribute or subscript: reads its base
            self.expression(node)

    def expressions(self, nodes: Iterable[ast.expr | None]) -> None:
        for node in nodes:
            if node is not None:
                self.expression(node)

    def expression(self, node: ast.expr, hidden: frozenset[str] = frozenset()) -> None:
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load) and node.id not in hidden:
                self._add(node, "read", node.id)
        elif isinstance(node, ast.NamedExpr):
            self.expression(node.value, hidden)
            self.target(node.target, "walrus")
        elif isinstance(node, ast.Lambda):  # the body runs later; defaults run now
            self.expressions([*node.args.defaults, *node.args.kw_defaults])
        elif isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            self._comprehension(node, hidden)
        elif isinstance(node, ast.Call):
            self.expression(node.func, hidden)
            for child in [*node.args, *(k.value for k in node.keywords)]:
                self.expression(child, hidden)
            if isinstance(node.func, ast.Name) and node.func.id not in hidden:
                self._add(node, "call", node.func.id)
        else:
            for sub in ast.iter_child_nodes(node):
                if isinstance(sub, ast.expr):
                    self.expression(sub, hidden)

    def _comprehension(self, node: _Comprehension, hidden: frozenset[str]) -> None:
        local = set(hidden)
        for i, generator in enumerate(node.generators):
            self.expression(generator.iter, frozenset(local) if i else hidden)
            local.update(n.id for n in ast.walk(generator.target) if isinstance(n, ast.Name))
            for condition in generator.ifs:
                self.expression(condition, frozenset(local))
        parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        for part in parts:
            self.expression(part, frozenset(local))


def module_level_defs(body: list[ast.stmt]) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef]:
    """def/class statements executed at module level (also inside if/try/with/for blocks)."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node
            continue
        for name in ("body", "orelse", "finalbody"):
            yield from module_level_defs(getattr(node, name, []))
        for handler in getattr(node, "handlers", []):
            yield from module_level_defs(handler.body)
