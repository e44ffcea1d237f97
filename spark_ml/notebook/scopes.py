"""Where each name read in a notebook resolves: Python's scope rules, applied to every Python cell.

`analyze` walks every cell's `ast` with a stack of scopes (module, function/lambda, class,
comprehension) and returns the reads that reach the notebook's global namespace, in source order,
and every name bound there. Parameters, locals, comprehension variables, `global`/`nonlocal`, walrus
targets (bound in the enclosing function or module), `except ... as`, `match` captures, `del` and
class bodies follow the language; attribute names (`df.foo`) and keyword names (`f(x=1)`) are not
names at all in the `ast`, so they are never reads.

Things that can put any name into the namespace are recorded as "open" positions: `from x import *`,
`%run`, `%store -r` without names, `exec(...)` and `globals()`. IPython magics that bind names are
read too: `%%capture out`, `%store -r a b`, `%sql out << ...`, `%time x = ...`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator

from spark_ml.notebook.model import Cell, Magic
from spark_ml.notebook.scope_walk import (
    IDENTIFIER,
    SQL_ASSIGN,
    STATEMENT_MAGICS,
    Bindings,
    NameFacts,
    NameRead,
    Position,
    Visitor,
)

__all__ = ["NameFacts", "NameRead", "Position", "analyze", "magic_bindings"]


def analyze(cells: Iterable[tuple[Cell, ast.Module]], unparsed: Iterable[Cell] = ()) -> NameFacts:
    facts = NameFacts()
    parsed = list(cells)
    future_annotations = any(_has_future_annotations(tree) for _, tree in parsed)
    for cell, tree in parsed:
        _magic_facts(cell, facts)
        collector = Bindings(module=True)
        collector.statements(tree.body)
        facts.bound |= collector.stores | collector.declared_global_stores
        for line, what in collector.opened:
            facts.opened.append(((cell.number, line), what))
        visitor = Visitor(cell.number, facts, future_annotations)
        visitor.module(tree)
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


def _magic_facts(cell: Cell, facts: NameFacts) -> None:
    for magic in cell.magics:
        where = (cell.number, magic.line)
        for name in magic_bindings(magic):
            facts.bound.add(name)
        if magic.name == "run":
            facts.opened.append((where, f"`%run {magic.argument}` in cell {cell.number}"))
        elif magic.name == "store" and magic.argument.split()[:1] == ["-r"] and len(magic.argument.split()) == 1:
            facts.opened.append((where, f"`%store -r` in cell {cell.number}"))


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
