"""The notebook's name-resolution engine: which names each cell and each function reads and binds.

`analyze` walks every Python cell's `ast` once, top to bottom in execution order, resolving each
name by Python's scope rules (module, function/lambda, class, comprehension: parameters, locals,
`global`/`nonlocal`, walrus targets bound in the enclosing function or module, class bodies not
visible from nested scopes, `except ... as`, `match` captures, `del`, annotations only where they
run). Attribute names (`df.foo`) and keyword names (`f(x=1)`) are not names in the `ast`, so they are
never reads. It answers, in `NameFacts`:

- `events`: what runs when a cell runs, in execution order: reads of notebook globals, bindings in
  the notebook namespace (with how: assign, import, def, magic...), and calls of global names. Function
  and lambda bodies do not run when defined, so their reads are not events; class bodies and
  comprehensions do run, and a call of a notebook function is an event (follow it with
  `Definition.globals_used`).
- `definitions`: every function, lambda and class, with the notebook globals it reads or assigns
  (`global x`), in source order. A lambda or comprehension inside a def or class is part of it; a
  nested def or class is a definition of its own (`outer.inner`, `Scorer.score`).
- `reads`: every read that reaches the notebook namespace (module level or inside a function), in
  source order; `deferred` ones happen when their function is called; `guarded` ones sit in a `try`
  whose handler catches NameError.
- `bound`: every name bound in the notebook namespace anywhere, including `global` assignments in
  functions and names IPython magics assign (`%%capture out`, `%store -r a b`, `%sql out << ...`,
  `%time x = ...`).
- `opened`: positions after which any name may exist: `from x import *`, `%run`, `%store -r` without
  names, `exec(...)`, `globals()`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from spark_ml.notebook.model import Cell, Magic

Position = tuple[int, int]
"""(cell, line): source order in the notebook, which is the order a fresh top-to-bottom run takes."""
EventKind = Literal["read", "bind", "call"]
DefinitionKind = Literal["function", "lambda", "class"]

ASSIGNMENT_KINDS = frozenset({"assign", "augassign", "walrus"})
DEFINITION_KINDS = frozenset({"import", "def", "class"})
# Calls that keep a lambda to run later (on executors, or when an action runs).
DEFERRED_CALLEES = frozenset(
    {"udf", "pandas_udf", "register", "partial", "foreach", "foreachBatch", "foreachPartition"}
)
# Exceptions whose handler makes a read in the `try` body safe (`try: display except NameError: ...`).
GUARDS = frozenset({"NameError", "Exception", "BaseException"})
# Line magics whose argument is a Python statement run in the user namespace.
STATEMENT_MAGICS = frozenset({"time", "timeit", "prun"})
SQL_ASSIGN = re.compile(r"^\s*([A-Za-z_]\w*)\s*<<")
IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
SCOPE_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)


@dataclass(frozen=True)
class Event:
    cell: int
    line: int
    kind: EventKind
    name: str
    how: str = ""
    """For bindings: assign, augassign, walrus, for, with, except, match, import, def, class, magic.
    `from x import *` binds the name "*"."""


@dataclass(frozen=True)
class NameRead:
    cell: int
    line: int
    name: str
    deferred: bool
    """Inside a def or lambda body: it happens when the function is called, not where it is written."""
    scope: str = ""
    """The definition a deferred read belongs to (`outer.inner`, `Scorer.score`, `lambda`)."""
    guarded: bool = False
    """In a `try` body whose handler catches NameError (or Exception, or everything)."""

    @property
    def position(self) -> Position:
        return (self.cell, self.line)


@dataclass(frozen=True)
class Definition:
    qualname: str
    kind: DefinitionKind
    cell: int
    line: int
    globals_used: frozenset[str]
    """Notebook-namespace names it reads (builtins included) or assigns through `global`."""
    top_level: bool
    runs_now: bool = False
    """A module-level lambda passed straight to a call that runs it (`sorted(xs, key=lambda ...)`),
    not to one that keeps it (`udf`, `partial`, `foreach...`): top-level code, in effect."""


@dataclass
class NameFacts:
    events: list[Event] = field(default_factory=list)
    reads: list[NameRead] = field(default_factory=list)
    definitions: list[Definition] = field(default_factory=list)
    bound: set[str] = field(default_factory=set)
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


def analyze(cells: Iterable[tuple[Cell, ast.Module]], unparsed: Iterable[Cell] = ()) -> NameFacts:
    """The facts of the parsed Python cells (in notebook order); `unparsed`: Python cells that do not parse."""
    facts = NameFacts()
    parsed = list(cells)
    future_annotations = any(_has_future_annotations(tree) for _, tree in parsed)
    for cell, tree in parsed:
        collector = Bindings(module=True)
        collector.statements(tree.body)
        facts.bound |= collector.stores | collector.declared_global_stores
        for line, what in collector.opened:
            facts.opened.append(((cell.number, line), what))
        walker = _Walker(cell.number, facts, future_annotations)
        walker.module(tree)
        facts.definitions.extend(d.frozen(cell.number) for d in walker.definitions)
        facts.events.extend(_with_magics(cell, walker.events, facts))
    for cell in unparsed:
        facts.unparsed_words |= set(IDENTIFIER.findall(cell.raw or cell.source))
    facts.reads.sort(key=lambda r: r.position)
    facts.opened.sort()
    return facts


def _has_future_annotations(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(a.name == "annotations" for a in node.names)
        for node in tree.body
    )


def _with_magics(cell: Cell, events: list[Event], facts: NameFacts) -> list[Event]:
    """The cell's events with its magics' bindings in line order (`%%capture` binds when the cell ends)."""
    out = list(events)
    for magic in cell.magics:
        where = (cell.number, magic.line)
        if magic.name == "run":
            facts.opened.append((where, f"`%run {magic.argument}` in cell {cell.number}"))
        elif magic.name == "store" and magic.argument.split() == ["-r"]:
            facts.opened.append((where, f"`%store -r` in cell {cell.number}"))
        names = list(magic_bindings(magic))
        facts.bound.update(names)
        at = (
            len(out)
            if magic.name == "capture"
            else next((i for i, e in enumerate(out) if e.line > magic.line), len(out))
        )
        out[at:at] = [Event(cell.number, magic.line, "bind", name, "magic") for name in names]
    return out


def magic_bindings(magic: Magic) -> Iterator[str]:
    """Names an IPython magic assigns in the user namespace."""
    words = magic.argument.split()
    if magic.name == "capture" and words and not words[-1].startswith("-"):
        yield words[-1]
    elif magic.name == "store" and words[:1] == ["-r"]:
        yield from words[1:]
    elif magic.name == "sql" and (match := SQL_ASSIGN.match(magic.argument)) is not None:
        yield match.group(1)
    elif magic.name in STATEMENT_MAGICS:
        statement = " ".join(w for w in words if not w.startswith("-")) if magic.name == "timeit" else magic.argument
        try:
            tree = ast.parse(statement)
        except SyntaxError:
            return
        collector = Bindings(module=True)
        collector.statements(tree.body)
        yield from collector.stores


class Bindings:
    """The names one scope binds (nested scopes excluded), and what it declares global or nonlocal.
    Python decides a name's scope from the whole body before any of it runs, so the walk asks this first."""

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
                    self.stores.add(_imported_name(alias))
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


def _imported_name(alias: ast.alias) -> str:
    return alias.asname or alias.name.split(".")[0]


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
class _Definition:
    qualname: str
    kind: DefinitionKind
    line: int
    top_level: bool
    runs_now: bool
    globals_used: set[str] = field(default_factory=set)

    def frozen(self, cell: int) -> Definition:
        used = frozenset(self.globals_used)
        return Definition(self.qualname, self.kind, cell, self.line, used, self.top_level, self.runs_now)


@dataclass
class _Scope:
    kind: Literal["module", "function", "class", "comprehension"]
    local: set[str]
    declared_global: set[str] = field(default_factory=set)
    declared_nonlocal: set[str] = field(default_factory=set)
    definition: _Definition | None = None
    bound_so_far: set[str] = field(default_factory=set)
    """Class bodies: names bound by the statements walked so far (a name the body has not bound yet is
    looked up in the notebook namespace: `flags = dict(flags)` reads the global)."""
    """Where reads in this scope are counted: its own definition, or the enclosing one's."""


class _Walker:
    """One cell, in execution order: events, global reads and definitions."""

    def __init__(self, cell: int, facts: NameFacts, future_annotations: bool) -> None:
        self.cell = cell
        self.facts = facts
        self.future_annotations = future_annotations
        self.events: list[Event] = []
        self.definitions: list[_Definition] = []
        self.scopes: list[_Scope] = []
        self.guarded = 0

    @property
    def now(self) -> bool:
        """Code that runs when the cell runs (module level, class bodies, comprehensions), not in a function."""
        return all(s.kind != "function" for s in self.scopes)

    def _event(self, node: ast.AST, kind: EventKind, name: str, how: str = "") -> None:
        self.events.append(Event(self.cell, getattr(node, "lineno", 1), kind, name, how))

    # -- scopes ---------------------------------------------------------------------------------

    def module(self, tree: ast.Module) -> None:
        self.scopes = [_Scope("module", set())]
        self.statements(tree.body)

    def _define(self, kind: DefinitionKind, name: str, line: int, runs_now: bool = False) -> _Definition | None:
        """A new definition, or None for a lambda inside one (it is part of the enclosing definition)."""
        enclosing = self.scopes[-1].definition
        if kind == "lambda" and enclosing is not None:
            return None
        qualname = f"{enclosing.qualname}.{name}" if enclosing else name
        definition = _Definition(qualname, kind, line, enclosing is None, runs_now)
        self.definitions.append(definition)
        return definition

    def _signature(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        """What a def or lambda evaluates where it is written: decorators, defaults, annotations."""
        args = node.args
        parts: list[ast.expr | None] = []
        if not isinstance(node, ast.Lambda):
            parts += node.decorator_list
        parts += [*args.defaults, *args.kw_defaults]
        if not isinstance(node, ast.Lambda) and not self.future_annotations:
            every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
            parts += [a.annotation for a in every if a is not None]
            parts.append(node.returns)
        for part in parts:
            if part is not None:
                self.expr(part)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, runs_now: bool = False) -> None:
        args = node.args
        params = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
        params |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
        params |= {p.name for p in getattr(node, "type_params", []) if hasattr(p, "name")}
        bindings = Bindings()
        body: list[ast.stmt] = [ast.Expr(node.body)] if isinstance(node, ast.Lambda) else node.body
        bindings.statements(body)
        if isinstance(node, ast.Lambda):
            definition = self._define("lambda", "lambda", node.lineno, runs_now) or self.scopes[-1].definition
        else:
            definition = self._define("function", node.name, node.lineno)
        scope = _Scope(
            "function", params | bindings.local, bindings.declared_global, bindings.declared_nonlocal, definition
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
        definition = self._define("class", node.name, node.lineno)
        self.scopes.append(
            _Scope("class", bindings.local, bindings.declared_global, bindings.declared_nonlocal, definition)
        )
        self.statements(node.body)
        self.scopes.pop()
        self._bind(node, node.name, "class")

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp) -> None:
        self.expr(node.generators[0].iter)  # evaluated in the enclosing scope
        local = {n.id for g in node.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)}
        self.scopes.append(_Scope("comprehension", local, definition=self.scopes[-1].definition))
        for i, generator in enumerate(node.generators):
            if i:
                self.expr(generator.iter)
            if not isinstance(generator.target, ast.Name):
                self.expr(generator.target)
            for condition in generator.ifs:
                self.expr(condition)
        parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        for part in parts:
            self.expr(part)
        self.scopes.pop()

    # -- statements -----------------------------------------------------------------------------

    def statements(self, body: Iterable[ast.stmt]) -> None:
        for statement in body:
            self.statement(statement)

    def statement(self, node: ast.stmt) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self._signature(node)
            self._bind(node, node.name, "def")
            self._function(node)
        elif isinstance(node, ast.ClassDef):
            self._class(node)
        elif isinstance(node, ast.Assign):
            self.expr(node.value)
            for target in node.targets:
                self.target(target, "assign")
        elif isinstance(node, ast.AugAssign):
            self.expr(node.value)
            if isinstance(node.target, ast.Name):
                self._read(node.target)
            self.target(node.target, "augassign")
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self.expr(node.value)
            if self.now and not self.future_annotations:
                self.expr(node.annotation)  # module and class annotations run; a local variable's does not
            if node.value is not None or not isinstance(node.target, ast.Name):
                self.target(node.target, "assign")
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            self.expr(node.iter)
            self.target(node.target, "for")
            self.statements(node.body)
            self.statements(node.orelse)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                self.expr(item.context_expr)
                if item.optional_vars is not None:
                    self.target(item.optional_vars, "with")
            self.statements(node.body)
        elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            self._try(node)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:  # `from x import *` binds "*": any name may exist from here on
                self._bind(node, "*" if alias.name == "*" else _imported_name(alias), "import")
        elif isinstance(node, ast.Match):
            self.expr(node.subject)
            for case in node.cases:
                self._pattern(case.pattern)
                if case.guard is not None:
                    self.expr(case.guard)
                self.statements(case.body)
        elif not isinstance(node, (ast.Global, ast.Nonlocal)):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    self.statement(child)
                elif isinstance(child, ast.expr):
                    self.expr(child)

    def _try(self, node: ast.stmt) -> None:
        handlers: list[ast.ExceptHandler] = getattr(node, "handlers", [])
        guarded = any(_guards(h) for h in handlers)
        self.guarded += guarded
        self.statements(getattr(node, "body", []))
        self.guarded -= guarded
        for handler in handlers:
            if handler.type is not None:
                self.expr(handler.type)
            if handler.name:
                self._bind(handler, handler.name, "except")
            self.statements(handler.body)
        self.statements(getattr(node, "orelse", []))
        self.statements(getattr(node, "finalbody", []))

    def _pattern(self, pattern: ast.pattern) -> None:
        for sub in ast.walk(pattern):
            if isinstance(sub, ast.expr) and not isinstance(sub, ast.Name):
                continue
            if isinstance(sub, ast.Name):
                self._read(sub)
            bound = getattr(sub, "name", None) or getattr(sub, "rest", None)
            if isinstance(sub, ast.pattern) and isinstance(bound, str):
                self._bind(sub, bound, "match")

    def target(self, node: ast.expr, how: str) -> None:
        if isinstance(node, ast.Name):
            self._bind(node, node.id, how)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for element in node.elts:
                self.target(element, how)
        elif isinstance(node, ast.Starred):
            self.target(node.value, how)
        else:  # attribute or subscript: reads its base
            self.expr(node)

    # -- expressions ----------------------------------------------------------------------------

    def expr(self, node: ast.expr) -> None:
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, (ast.Load, ast.Del)):
                self._read(node)
        elif isinstance(node, ast.NamedExpr):
            self.expr(node.value)
            self.target(node.target, "walrus")
        elif isinstance(node, ast.Lambda):
            self._signature(node)
            self._function(node)
        elif isinstance(node, COMPREHENSIONS):
            self._comprehension(node)
        elif isinstance(node, ast.Call):
            self._call(node)
        else:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self.expr(child)
                elif isinstance(child, ast.keyword):
                    self.expr(child.value)

    def _call(self, node: ast.Call) -> None:
        self.expr(node.func)
        callee = node.func.attr if isinstance(node.func, ast.Attribute) else _called(node) or None
        runs_now = callee is not None and callee not in DEFERRED_CALLEES
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            if isinstance(arg, ast.Lambda):
                self._signature(arg)
                self._function(arg, runs_now)
            else:
                self.expr(arg)
        if isinstance(node.func, ast.Name) and self.now and self._is_global(node.func.id):
            self._event(node, "call", node.func.id)

    # -- names ----------------------------------------------------------------------------------

    def _read(self, node: ast.Name) -> None:
        name = node.id
        if name == "__class__" or not self._is_global(name):
            return
        definition = self.scopes[-1].definition
        if definition is not None:
            definition.globals_used.add(name)
        if self.now:
            self._event(node, "read", name)
        deferred = not self.now
        scope = definition.qualname if deferred and definition is not None else ""
        self.facts.reads.append(NameRead(self.cell, node.lineno, name, deferred, scope, self.guarded > 0))

    def _bind(self, node: ast.AST, name: str, how: str) -> None:
        """A binding in the current scope (walrus: in the nearest enclosing non-comprehension scope)."""
        scopes = [s for s in self.scopes if s.kind != "comprehension"] if how == "walrus" else self.scopes
        scope = scopes[-1]
        if scope.kind == "class":
            scope.bound_so_far.add(name)
        if scope.kind != "module" and name not in scope.declared_global:
            return
        definition = self.scopes[-1].definition
        if definition is not None:
            definition.globals_used.add(name)
        if self.now:
            self._event(node, "bind", name, how)

    def _is_global(self, name: str) -> bool:
        innermost = self.scopes[-1]
        if name in innermost.declared_global:
            return True
        if innermost.kind == "class" and name in innermost.local:
            return name not in innermost.bound_so_far
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
