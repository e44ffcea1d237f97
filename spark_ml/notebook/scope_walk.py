"""The scope walk behind `scopes.analyze`: the facts it collects, which names a cell binds, and
where each name it reads resolves, by Python's scope rules (module, function/lambda, class,
comprehension)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

Position = tuple[int, int]
"""(cell, line): source order in the notebook, which is the order a fresh top-to-bottom run takes."""

SCOPE_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
# Exceptions whose handler makes a read in the `try` body safe (`try: display except NameError: ...`).
GUARDS = frozenset({"NameError", "Exception", "BaseException"})
# Line magics whose argument is a Python statement run in the user namespace.
STATEMENT_MAGICS = frozenset({"time", "timeit", "prun"})
SQL_ASSIGN = re.compile(r"^\s*([A-Za-z_]\w*)\s*<<")
IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


@dataclass(frozen=True)
class NameRead:
    cell: int
    line: int
    name: str
    deferred: bool
    """Read inside a def or lambda body: it happens when the function is called, not where it is written."""
    scope: str = ""
    """The function or lambda the read is in (`outer.inner`, `lambda`), empty at module and class level."""

    @property
    def position(self) -> Position:
        return (self.cell, self.line)


@dataclass
class NameFacts:
    reads: list[NameRead] = field(default_factory=list)
    bound: set[str] = field(default_factory=set)
    """Names bound in the notebook's namespace anywhere (any cell, any position)."""
    opened: list[tuple[Position, str]] = field(default_factory=list)
    """(position, what) of everything that may bind names no one can see: star imports, %run, exec..."""
    unparsed_words: set[str] = field(default_factory=set)
    """Identifiers in cells that do not parse: whatever they define is unknown, so such names are not judged."""

    def open_at(self, position: Position) -> str | None:
        """What (if anything) at or above `position` may have bound any name."""
        before = [what for at, what in self.opened if at <= position]
        return before[0] if before else None

    @property
    def first_open(self) -> str | None:
        return min(self.opened)[1] if self.opened else None


class Bindings:
    """The names one scope binds (nested scopes excluded), and what it declares global or nonlocal."""

    def __init__(self, module: bool = False) -> None:
        self.module = module
        self.stores: set[str] = set()
        self.deletes: set[str] = set()
        self.declared_global: set[str] = set()
        self.declared_nonlocal: set[str] = set()
        self.declared_global_stores: set[str] = set()
        self.opened: list[tuple[int, str]] = []

    @property
    def local(self) -> set[str]:
        return (self.stores | self.deletes) - self.declared_global - self.declared_nonlocal

    def statements(self, body: Iterable[ast.stmt]) -> None:
        for statement in body:
            self.node(statement)
        self.declared_global_stores |= self.stores & self.declared_global

    def node(self, node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.stores.add(node.name)
            self._outer_parts(node)
            if isinstance(node, ast.ClassDef):
                inner = Bindings()
                inner.statements(node.body)
                # `global x` + `x = ...` in a class body binds the notebook's x
                self.declared_global_stores |= inner.declared_global_stores
            else:
                self.declared_global_stores |= _function_global_stores(node)
            return
        if isinstance(node, ast.Lambda):
            for default in [*node.args.defaults, *node.args.kw_defaults]:
                if default is not None:
                    self.node(default)
            return
        if isinstance(node, COMPREHENSIONS):
            # only walrus targets escape a comprehension (PEP 572); its own variables stay inside
            for sub in _walk_outside_scopes(node):
                if isinstance(sub, ast.NamedExpr) and isinstance(sub.target, ast.Name):
                    self.stores.add(sub.target.id)
            return
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Store):
                self.stores.add(node.id)
            elif isinstance(node.ctx, ast.Del):
                self.deletes.add(node.id)
            return
        if isinstance(node, ast.Global):
            self.declared_global.update(node.names)
        elif isinstance(node, ast.Nonlocal):
            self.declared_nonlocal.update(node.names)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    module = node.module if isinstance(node, ast.ImportFrom) else ""
                    self.opened.append((node.lineno, f"`from {module} import *` at line {node.lineno}"))
                else:
                    self.stores.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            self.stores.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            self.stores.add(node.rest)
        elif self.module and isinstance(node, ast.Call) and _called(node) in ("exec", "globals"):
            self.opened.append((node.lineno, f"`{_called(node)}()` at line {node.lineno}"))
        for child in ast.iter_child_nodes(node):
            self.node(child)

    def _outer_parts(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        """Decorators, defaults, bases: evaluated in this scope (a walrus there binds here)."""
        parts: list[ast.AST] = list(node.decorator_list)
        if isinstance(node, ast.ClassDef):
            parts += [*node.bases, *node.keywords]
        else:
            parts += [d for d in [*node.args.defaults, *node.args.kw_defaults] if d is not None]
        for part in parts:
            self.node(part)


def _called(node: ast.Call) -> str:
    return node.func.id if isinstance(node.func, ast.Name) else ""


def _function_global_stores(node: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """Names a function (or anything nested in it) declares `global` and assigns."""
    out: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inner = Bindings()
            inner.statements(sub.body)
            out |= inner.declared_global_stores
    return out


def _walk_outside_scopes(node: ast.AST) -> Iterator[ast.AST]:
    """ast.walk that does not enter def, lambda or class bodies."""
    todo = [node]
    while todo:
        current = todo.pop()
        yield current
        for child in ast.iter_child_nodes(current):
            if not isinstance(child, SCOPE_NODES):
                todo.append(child)


@dataclass
class _Scope:
    kind: str  # module | function | class | comprehension
    local: set[str]
    declared_global: set[str] = field(default_factory=set)
    declared_nonlocal: set[str] = field(default_factory=set)
    name: str = ""


class Visitor:
    """Records reads that resolve to the notebook's global namespace."""

    def __init__(self, cell: int, facts: NameFacts, future_annotations: bool) -> None:
        self.cell = cell
        self.facts = facts
        self.future_annotations = future_annotations
        self.scopes: list[_Scope] = []
        self.guarded = 0

    # -- scopes ---------------------------------------------------------------------------------

    def module(self, tree: ast.Module) -> None:
        self.scopes = [_Scope("module", set())]
        self.statements(tree.body)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        args = node.args
        for default in [*args.defaults, *args.kw_defaults]:
            if default is not None:
                self.expr(default)
        params = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
        params |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
        if not isinstance(node, ast.Lambda):
            for decorator in node.decorator_list:
                self.expr(decorator)
            if not self.future_annotations:
                for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
                    if arg is not None and arg.annotation is not None:
                        self.expr(arg.annotation)
                if node.returns is not None:
                    self.expr(node.returns)
        bindings = Bindings()
        body: list[ast.stmt] = [ast.Expr(node.body)] if isinstance(node, ast.Lambda) else node.body
        bindings.statements(body)
        params |= {p.name for p in getattr(node, "type_params", []) if hasattr(p, "name")}
        label = "lambda" if isinstance(node, ast.Lambda) else node.name
        outer = next((s.name for s in reversed(self.scopes) if s.name), "")
        scope = _Scope(
            "function",
            params | bindings.local,
            bindings.declared_global,
            bindings.declared_nonlocal,
            f"{outer}.{label}" if outer else label,
        )
        self.scopes.append(scope)
        guarded, self.guarded = self.guarded, 0
        self.statements(body)
        self.guarded = guarded
        self.scopes.pop()

    def _class(self, node: ast.ClassDef) -> None:
        for part in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self.expr(part)
        bindings = Bindings()
        bindings.statements(node.body)
        self.scopes.append(_Scope("class", bindings.local, bindings.declared_global, bindings.declared_nonlocal))
        self.statements(node.body)
        self.scopes.pop()

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp) -> None:
        self.expr(node.generators[0].iter)  # evaluated in the enclosing scope
        local = {n.id for g in node.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)}
        self.scopes.append(_Scope("comprehension", local))
        for i, generator in enumerate(node.generators):
            if i:
                self.expr(generator.iter)
            for condition in generator.ifs:
                self.expr(condition)
        parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        for part in parts:
            self.expr(part)
        self.scopes.pop()

    # -- statements and expressions ------------------------------------------------------------

    def statements(self, body: Iterable[ast.stmt]) -> None:
        for statement in body:
            self.statement(statement)

    def statement(self, node: ast.stmt) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self._function(node)
        elif isinstance(node, ast.ClassDef):
            self._class(node)
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self.expr(node.value)
            self.expr(node.target)
            in_function = any(s.kind == "function" for s in self.scopes)
            if not in_function and not self.future_annotations:  # only module and class annotations run
                self.expr(node.annotation)
        elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            handlers: list[ast.ExceptHandler] = getattr(node, "handlers", [])
            guarded = any(_guards(h) for h in handlers)
            self.guarded += guarded
            self.statements(getattr(node, "body", []))
            self.guarded -= guarded
            for handler in handlers:
                if handler.type is not None:
                    self.expr(handler.type)
                self.statements(handler.body)
            self.statements(getattr(node, "orelse", []))
            self.statements(getattr(node, "finalbody", []))
        else:
            for child in ast.iter_child_nodes(node):
                self.any(child)

    def any(self, node: ast.AST) -> None:
        if isinstance(node, ast.stmt):
            self.statement(node)
        elif isinstance(node, ast.expr):
            self.expr(node)
        else:  # arguments, keywords, withitems, handlers, match cases and patterns...
            if isinstance(node, ast.match_case):
                self.any(node.pattern)
                if node.guard is not None:
                    self.expr(node.guard)
                self.statements(node.body)
                return
            for child in ast.iter_child_nodes(node):
                self.any(child)

    def expr(self, node: ast.expr) -> None:
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, (ast.Load, ast.Del)):
                self._read(node)
        elif isinstance(node, ast.Lambda):
            self._function(node)
        elif isinstance(node, COMPREHENSIONS):
            self._comprehension(node)
        else:
            for child in ast.iter_child_nodes(node):
                self.any(child)

    def _read(self, node: ast.Name) -> None:
        name = node.id
        if self.guarded or name == "__class__" or not self._is_global(name):
            return
        function = next((s for s in reversed(self.scopes) if s.kind == "function"), None)
        self.facts.reads.append(
            NameRead(self.cell, node.lineno, name, function is not None, function.name if function else "")
        )

    def _is_global(self, name: str) -> bool:
        innermost = self.scopes[-1]
        if name in innermost.declared_global:
            return True
        if innermost.kind == "class" and name in innermost.local:
            return False
        for scope in reversed(self.scopes):
            if scope.kind == "module":
                return True
            if scope.kind == "class" and scope is not innermost:
                continue  # class bodies are not visible from nested functions
            if name in scope.declared_global:
                return True
            if name in scope.local or name in scope.declared_nonlocal:
                return False
        return True


def _guards(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(t, ast.Name) and t.id in GUARDS for t in types)
