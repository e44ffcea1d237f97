"""NB201, NB301, NB302: hidden state between cells.

- NB201: a name read (directly, or by a notebook function called at that point) above the cell that
  first defines it: the notebook only works because cells ran out of order.
- NB301: a function, lambda or class that reads notebook-level variables instead of parameters.
  Imports, functions and classes defined in the notebook, UPPER_CASE constants and
  `notebook.allowed_globals` are not variables.
- NB302: a variable assigned (`=`, `+=`, `:=`) in more than one cell and read by a cell that did not
  assign it first (`df = df.filter(...)` in a second cell, a threshold changed further down). A name
  every cell assigns before using (`fig, ax = plt.subplots()`) is not reported.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator

from spark_ml.notebook.analysis import Context
from spark_ml.notebook.model import Hit
from spark_ml.notebook.scopes import ASSIGNMENT_KINDS, Definition, Event

BUILTINS = frozenset(dir(builtins))


def _quoted(names: list[str] | tuple[str, ...]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def check_used_before_defined(ctx: Context) -> Iterator[Hit]:
    first_bind: dict[str, Event] = {}
    for event in ctx.events:
        if event.kind == "bind":
            first_bind.setdefault(event.name, event)
    defined: set[str] = set()
    reported: set[str] = set()
    for event in ctx.events:
        if event.kind == "bind":
            defined.add(event.name)
            continue
        if event.kind == "read":
            candidates: list[tuple[str, str | None]] = [(event.name, None)]
        elif event.name in defined:
            candidates = [(name, event.name) for name in sorted(ctx.transitive_globals(event.name))]
        else:
            candidates = []
        for name, via in candidates:
            if name in defined or name in reported or name not in first_bind or name in BUILTINS or "*" in defined:
                continue
            reported.add(name)
            yield _used_before(event, first_bind[name], name, via)


def _used_before(event: Event, bind: Event, name: str, via: str | None) -> Hit:
    used = (
        f"`{via}()` is called in cell {event.cell} and reads `{name}`"
        if via
        else f"`{name}` is used in cell {event.cell}"
    )
    if bind.cell == event.cell:
        where = f"{used} at line {event.line} before it is assigned at line {bind.line} of the same cell"
        fix = f"assign `{name}` before line {event.line}"
    else:
        where = (
            f"{used}, which is first defined in cell {bind.cell}"
            if via
            else f"{used} but first defined in cell {bind.cell}"
        )
        fix = f"move the cell that defines `{name}` (cell {bind.cell}) above cell {event.cell}, or this code below it"
    return Hit(
        "NB201",
        event.cell,
        event.line,
        f"{where}: a fresh top-to-bottom run fails with NameError",
        fix,
    )


def check_functions_read_globals(ctx: Context) -> Iterator[Hit]:
    variables = ctx.variables - ctx.imported
    allowed = ctx.options.allowed_globals
    for definition in ctx.definitions:
        if definition.kind == "lambda" and (definition.cell, definition.line) in ctx.immediate_lambdas:
            continue
        names = sorted(
            n
            for n in definition.globals_used
            if n in variables and not n.isupper() and n not in allowed and not n.startswith("__")
        )
        if names:
            yield _reads_globals(definition, names)


def _reads_globals(definition: Definition, names: list[str]) -> Hit:
    plural = "s" if len(names) > 1 else ""
    if definition.kind == "lambda":
        subject = f"lambda at line {definition.line}"
        fix = (
            f"take {_quoted(names)} as parameter{plural} "
            f"(or bind the current value as a default: lambda ..., {names[0]}={names[0]}: ...)"
        )
    else:
        subject = f"{definition.kind} `{definition.qualname}`"
        short = definition.qualname.rsplit(".", 1)[-1]
        fix = (
            f"take {_quoted(names)} as parameter{plural} (def {short}(..., {', '.join(names)})) and pass the "
            "values where it is called; UPPER_CASE names are treated as constants"
        )
    return Hit(
        "NB301",
        definition.cell,
        definition.line,
        f"{subject} reads notebook variable{plural} {_quoted(names)} instead of taking "
        f"{'them as parameters' if plural else 'it as a parameter'}: its result depends on whichever cell last "
        f"assigned {'them' if plural else 'it'}",
        fix,
    )


def check_reassigned(ctx: Context) -> Iterator[Hit]:
    assigned: dict[str, list[Event]] = {}
    for event in ctx.events:
        if event.kind == "bind" and event.how in ASSIGNMENT_KINDS and event.name != "_":
            assigned.setdefault(event.name, []).append(event)
    carried = _read_from_other_cells(ctx)
    hits = []
    for name, events in assigned.items():
        cells = sorted({e.cell for e in events})
        if len(cells) < 2 or name.startswith("__") or name not in carried:
            continue
        second = next(e for e in events if e.cell == cells[1])
        readers = ", ".join(f"cell {c}" for c in sorted(carried[name]))
        hits.append(
            Hit(
                "NB302",
                second.cell,
                second.line,
                f"`{name}` is assigned in cells {', '.join(map(str, cells))} and read across cells (in {readers}): "
                "what a cell sees depends on which assignment ran last (hidden state)",
                f"assign `{name}` in one cell and give each later step its own name (e.g. {name}_clean)",
            )
        )
    yield from sorted(hits, key=lambda h: (h.cell, h.line, h.message))


def _read_from_other_cells(ctx: Context) -> dict[str, set[int]]:
    """name -> cells that read it (directly or through a notebook function they call) before binding it
    themselves, i.e. that depend on a value left by another cell."""
    carried: dict[str, set[int]] = {}
    bound_here: set[str] = set()
    cell = None
    for event in ctx.events:
        if event.cell != cell:
            cell, bound_here = event.cell, set()
        if event.kind == "bind":
            bound_here.add(event.name)
            continue
        names = {event.name} if event.kind == "read" else ctx.transitive_globals(event.name)
        for name in names - bound_here:
            carried.setdefault(name, set()).add(event.cell)
    return carried
