"""NB401, NB402: code that belongs in the package.

- NB401: a module-level def or class longer than `notebook.max_definition_lines` (decorators included).
- NB402: a def or class whose name and body (normalized AST: docstrings, comments and formatting
  ignored) are the same as a function, method or class in the spark_ml package. The package is read
  from its source files with `ast`; nothing is imported.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from spark_ml.notebook.analysis import Context
from spark_ml.notebook.model import Hit

Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


@dataclass(frozen=True)
class PackageDefinition:
    module: str
    qualname: str
    body: str


def default_package_root() -> Path:
    return Path(__file__).resolve().parents[1]


def module_level_defs(body: list[ast.stmt]) -> Iterator[Definition]:
    """def/class statements executed at module level (also inside if/try/with/for blocks)."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node
            continue
        for name in ("body", "orelse", "finalbody"):
            yield from module_level_defs(getattr(node, name, []))
        for handler in getattr(node, "handlers", []):
            yield from module_level_defs(handler.body)


def _kind(node: Definition) -> str:
    return "class" if isinstance(node, ast.ClassDef) else "function"


def check_long_definitions(ctx: Context) -> Iterator[Hit]:
    limit = ctx.options.max_definition_lines
    for parsed in ctx.cells:
        for node in module_level_defs(parsed.tree.body):
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            length = (node.end_lineno or node.lineno) - start + 1
            if length > limit:
                yield Hit(
                    "NB401",
                    parsed.cell.number,
                    start,
                    f"{_kind(node)} `{node.name}` is {length} lines long (limit {limit}): "
                    "code this size belongs in the package, with a test",
                    f"move `{node.name}` into a spark_ml module, test it, and import it here "
                    "(or raise notebook.max_definition_lines)",
                )


def check_duplicates(ctx: Context) -> Iterator[Hit]:
    names = frozenset(node.name for parsed in ctx.cells for node in module_level_defs(parsed.tree.body))
    if not names:
        return
    root = ctx.options.package_root or default_package_root()
    index = package_index(str(root.resolve()), names)
    for parsed in ctx.cells:
        for node in module_level_defs(parsed.tree.body):
            body = normalized_body(node)
            if not body:
                continue
            for found in index.get(node.name, ()):
                if found.body == body:
                    target = f"{found.module}.{found.qualname}"
                    importable = "." not in found.qualname
                    fix = (
                        f"delete it and import the package's: from {found.module} import {node.name}"
                        if importable
                        else f"delete it and use {target} from the package"
                    )
                    yield Hit(
                        "NB402",
                        parsed.cell.number,
                        node.lineno,
                        f"{_kind(node)} `{node.name}` duplicates {target} (same name and body): two copies drift apart",
                        fix,
                    )
                    break


def is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def normalized_body(node: Definition) -> str:
    """The body as an AST dump without positions, docstrings or comments."""
    body = list(node.body)
    if body and is_docstring(body[0]):
        body = body[1:]
    return "\n".join(ast.dump(statement, include_attributes=False) for statement in body)


@lru_cache(maxsize=4)
def package_index(root: str, names: frozenset[str]) -> dict[str, tuple[PackageDefinition, ...]]:
    """name -> definitions with that name in the package under `root` (module functions, classes,
    methods), for `names` only: a module is parsed only when its text defines one of them, which
    keeps the check starting in well under a second."""
    base = Path(root)
    defines = re.compile(rf"\b(?:def|class)\s+(?:{'|'.join(map(re.escape, sorted(names)))})\b")
    index: dict[str, list[PackageDefinition]] = {}
    for path in sorted(base.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        relative = path.relative_to(base.parent).with_suffix("")
        parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
        module = ".".join(parts)
        try:
            text = path.read_text(encoding="utf-8")
            if not defines.search(text):
                continue
            tree = ast.parse(text)
        except (OSError, SyntaxError, UnicodeDecodeError):
            continue
        for node in tree.body:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            if node.name in names:
                index.setdefault(node.name, []).append(PackageDefinition(module, node.name, normalized_body(node)))
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name in names:
                        qualname = f"{node.name}.{item.name}"
                        index.setdefault(item.name, []).append(
                            PackageDefinition(module, qualname, normalized_body(item))
                        )
    return {name: tuple(defs) for name, defs in index.items()}
