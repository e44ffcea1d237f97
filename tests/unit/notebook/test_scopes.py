"""The name-resolution engine's answers, per cell and per definition (the rules' tests cover what they make of them)."""

from __future__ import annotations

import ast

from spark_ml.notebook.readers import code_cell
from spark_ml.notebook.scopes import NameFacts, analyze


def facts(*sources: str) -> NameFacts:
    cells = [code_cell(i, s, None) for i, s in enumerate(sources, 1)]
    return analyze((c, ast.parse(c.source)) for c in cells)


def events(*sources: str) -> list[tuple[int, int, str, str]]:
    return [(e.cell, e.line, e.kind, e.name) for e in facts(*sources).events]


def globals_of(*sources: str) -> dict[str, list[str]]:
    return {d.qualname: sorted(d.globals_used) for d in facts(*sources).definitions}


def test_events_are_module_level_reads_bindings_and_calls_in_execution_order() -> None:
    assert events("y = f(x)\nx = 1", "def g(a=x):\n    return z") == [
        (1, 1, "read", "f"),
        (1, 1, "read", "x"),
        (1, 1, "call", "f"),
        (1, 1, "bind", "y"),
        (1, 2, "bind", "x"),
        (2, 1, "read", "x"),  # a default runs at definition; the body (z) when called
        (2, 1, "bind", "g"),
    ]
    assert events("[h(v) for v in vs if v]") == [(1, 1, "read", "vs"), (1, 1, "read", "h"), (1, 1, "call", "h")]


def test_definitions_and_the_globals_each_reads() -> None:
    found = globals_of(
        "def outer(x):\n    k = 1\n    def inner(y):\n        return y * rate + k\n    return inner(x) + len(rows)",
        "class Scorer:\n    bias = base\n    def score(self, x):\n        return x > cutoff + self.bias",
        "scaled = lambda r: r * scale",
        "def counter():\n    global total\n    total = total + step",
    )
    assert found == {
        "outer": ["len", "rows"],
        "outer.inner": ["rate"],
        "Scorer": ["base"],
        "Scorer.score": ["cutoff"],
        "lambda": ["scale"],
        "counter": ["step", "total"],
    }


def test_a_class_body_reads_the_global_until_it_binds_the_name() -> None:
    assert globals_of("class A:\n    files = files\n    n = 1\n    m = n + 1") == {"A": ["files"]}
    assert events("class A:\n    files = files") == [(1, 2, "read", "files"), (1, 1, "bind", "A")]


def test_annotations_are_reads_only_where_they_run() -> None:
    source = "def f(a: Ann) -> Ret:\n    y: Local = 1\n    return y\nx: Top = 1"
    assert [(e.name, e.kind) for e in facts(source).events] == [
        ("Ann", "read"),
        ("Ret", "read"),
        ("f", "bind"),
        ("Top", "read"),
        ("x", "bind"),
    ]
    assert globals_of(source) == {"f": []}
    assert [e.name for e in facts("from __future__ import annotations", source).events if e.kind == "read"] == []


def test_lambdas_passed_to_a_call_that_runs_them_now() -> None:
    found = facts("top = sorted(xs, key=lambda k: k)\nf = F.udf(lambda v: v)\ng = lambda: 1")
    assert [(d.line, d.runs_now) for d in found.definitions] == [(1, True), (2, False), (3, False)]


def test_reads_in_functions_are_deferred_and_guarded_reads_are_marked() -> None:
    found = facts("def f():\n    return a", "try:\n    b\nexcept NameError:\n    pass")
    assert [(r.name, r.deferred, r.scope, r.guarded) for r in found.reads] == [
        ("a", True, "f", False),
        ("b", False, "", True),
        ("NameError", False, "", False),
    ]


def test_magics_bind_names_and_open_the_namespace() -> None:
    found = facts("%store -r saved\nprint(saved)", "%run ./setup")
    assert [(e.kind, e.name) for e in found.events if e.cell == 1] == [
        ("bind", "saved"),
        ("read", "print"),
        ("read", "saved"),
        ("call", "print"),
    ]
    assert "saved" in found.bound
    assert found.open_at((2, 1)) == "`%run ./setup` in cell 2"
