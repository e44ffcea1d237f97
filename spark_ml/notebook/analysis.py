"""What every rule gets: the notebook, its parsed Python cells, the options, and the name facts.

`Context.build` parses each Python cell once (cells that do not parse become NB002 hits); the name
facts (`Context.names`) come from the one name-resolution engine, spark_ml.notebook.scopes, and the
properties below are the views of them the rules share. Never executes notebook code.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from spark_ml.notebook.model import Cell, Hit, Notebook
from spark_ml.notebook.scopes import DEFINITION_KINDS, Definition, Event, NameFacts, analyze

_PARSE_FLAGS = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


@dataclass
class ParsedCell:
    cell: Cell
    tree: ast.Module


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
            assert isinstance(tree, ast.Module)
            ctx.cells.append(ParsedCell(cell, tree))
        return ctx

    @cached_property
    def names(self) -> NameFacts:
        """Which names each cell and each definition reads and binds (see spark_ml.notebook.scopes)."""
        parsed = {p.cell.number for p in self.cells}
        unparsed = [c for c in self.notebook.cells if c.is_python and c.number not in parsed]
        return analyze(((p.cell, p.tree) for p in self.cells), unparsed)

    @property
    def events(self) -> list[Event]:
        return self.names.events

    @property
    def definitions(self) -> list[Definition]:
        return self.names.definitions

    @cached_property
    def immediate_lambdas(self) -> frozenset[tuple[int, int]]:
        """(cell, line) of module-level lambdas that run on the spot (see Definition.runs_now), unless a
        lambda kept for later shares the line."""
        lambdas = [d for d in self.definitions if d.kind == "lambda"]
        stored = {(d.cell, d.line) for d in lambdas if not d.runs_now}
        return frozenset((d.cell, d.line) for d in lambdas if d.runs_now) - stored

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
