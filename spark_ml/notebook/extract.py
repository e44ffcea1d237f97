"""`spark-ml notebook extract NOTEBOOK --module PACKAGE.MODULE`: move a notebook's functions into a module.

    from spark_ml.notebook.extract import extract, write
    result = extract(Path("explore.ipynb"), "flights_pkg.steps", root=Path("."))
    write(result)  # <root>/flights_pkg/steps.py and explore.extracted.ipynb beside the original

The notebook must run top to bottom first: NB201 (used before defined), NB202 (undefined name),
NB101 (out-of-order execution) and NB002 (a cell that does not parse) refuse the extraction (exit 2,
naming the cell and the name) and nothing is written; other findings are returned as notes. Sections
of top-level DataFrame code become step defs first (spark_ml.notebook.extract_steps). What moves and how
each function's globals become parameters: spark_ml.notebook.extract_plan; the text written:
spark_ml.notebook.extract_rewrite; the `--job` file: spark_ml.notebook.extract_job. The original
notebook is never modified; existing outputs are overwritten only with `force`. Never imports Spark,
never runs the notebook.
"""

from __future__ import annotations

import difflib
import json
import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spark_ml.notebook.analysis import Context, Options
from spark_ml.notebook.checker import CheckConfig, check_notebook
from spark_ml.notebook.extract_job import check_job_name, job_text
from spark_ml.notebook.extract_plan import ExtractError, Plan, plan, positional_names, top_level_defs
from spark_ml.notebook.extract_rewrite import notebook_cells, render_module
from spark_ml.notebook.extract_steps import find_steps
from spark_ml.notebook.model import Finding, Notebook
from spark_ml.notebook.readers import COMMAND_SEPARATOR, MAGIC_PREFIX, import_nbformat, read_notebook

BLOCKING = frozenset({"NB002", "NB101", "NB201", "NB202"})
DEFAULT_LINE_LENGTH = 88
SECTION = re.compile(r"^\s*\[([^\[\]]+)\]\s*$")
LINE_LENGTH = re.compile(r"^\s*line-length\s*=\s*(\d+)\s*(?:#.*)?$")


@dataclass
class Extraction:
    source: Path
    module: str
    module_path: Path
    module_text: str
    notebook_path: Path
    notebook_text: str
    original_text: str
    functions: list[dict[str, Any]]
    reused: dict[str, str]
    """function -> package module it is imported from (same name and body, NB402)."""
    notes: list[Finding] = field(default_factory=list)
    packages: list[Path] = field(default_factory=list)
    """`__init__.py` files to create."""
    step_notes: list[str] = field(default_factory=list)
    """Sections kept in the notebook as they are, and why."""
    job_path: Path | None = None
    job_text: str = ""
    context: Context | None = None
    """The notebook as extracted (steps written as defs), for the tests (spark_ml.notebook.extract_tests)."""
    plan: Plan | None = None
    tests: list[tuple[Path, str]] = field(default_factory=list)
    """Test files to write: path and text."""

    def to_json(self) -> str:
        data = {
            "module": str(self.module_path) if self.module_text else None,
            "tests": [str(path) for path, _ in self.tests],
            "notebook": str(self.notebook_path),
            "job": str(self.job_path) if self.job_path is not None else None,
            "functions": self.functions,
        }
        return json.dumps(data, indent=2) + "\n"

    def text(self) -> str:
        written = [self.module_path, *self.packages] if self.module_text else []
        jobs = [self.job_path] if self.job_path is not None else []
        tests = [path for path, _ in self.tests]
        lines = [f"wrote {p}" for p in [*written, self.notebook_path, *jobs, *tests]]
        for function in self.functions:
            cells = function["cells"]
            where = f"cell {cells[0]}" if len(cells) == 1 else f"cells {', '.join(str(c) for c in cells)}"
            lines.append(f"  {function['name']}({', '.join(function['params'])}) from {where}")
        lines += [f"  {name} imported from {module} (same code there)" for name, module in self.reused.items()]
        return "\n".join(lines) + "\n"

    def dry_run(self) -> str:
        diff = difflib.unified_diff(
            self.original_text.splitlines(keepends=True),
            self.notebook_text.splitlines(keepends=True),
            fromfile=str(self.source),
            tofile=str(self.notebook_path),
        )
        job = f"\n# {self.job_path}\n{self.job_text}" if self.job_path is not None else ""
        tests = "".join(f"\n# {path}\n{text}" for path, text in self.tests)
        return f"# {self.module_path}\n{self.module_text}\n{''.join(diff)}{job}{tests}"


def module_path(root: Path, module: str) -> Path:
    parts = module.split(".")
    if len(parts) < 2 or not all(p.isidentifier() and not keyword.iskeyword(p) for p in parts):
        raise ExtractError(f"--module must be PACKAGE.MODULE (dotted Python identifiers), got {module!r}")
    return root.joinpath(*parts[:-1], f"{parts[-1]}.py")


def line_length(root: Path) -> int:
    """The project's ruff line-length (ruff.toml, .ruff.toml or pyproject.toml's [tool.ruff] at the root),
    else ruff's 88. Read with a pattern: Python 3.10 has no TOML parser and the wheel adds none."""
    for name, section in (("ruff.toml", ""), (".ruff.toml", ""), ("pyproject.toml", "tool.ruff")):
        path = root / name
        try:
            text = path.read_text(encoding="utf-8") if path.is_file() else ""
        except (OSError, UnicodeDecodeError):
            continue
        current = ""
        for line in text.splitlines():
            if (header := SECTION.match(line)) is not None:
                current = header.group(1).strip()
            elif current == section and (match := LINE_LENGTH.match(line)) is not None:
                return int(match.group(1))
    return DEFAULT_LINE_LENGTH


def refuse_if_it_would_not_run(notebook: Notebook, package_root: Path) -> list[Finding]:
    """The findings that do not block; ExtractError listing those that do."""
    findings = check_notebook(notebook, CheckConfig(options=Options(package_root=package_root)))
    blocking = [f for f in findings if f.rule in BLOCKING]
    if blocking:
        listed = "\n".join(f"  cell {f.cell}, line {f.line}: {f.rule} {f.message}" for f in blocking)
        raise ExtractError(
            f"{notebook.path} would not run top to bottom, so its functions cannot be extracted "
            f"(nothing written):\n{listed}\nfix these (spark-ml notebook check {notebook.path}), then extract"
        )
    return [f for f in findings if f.rule not in BLOCKING]


def extract(path: Path, module: str, root: Path, *, force: bool = False, job: str | None = None) -> Extraction:
    """Plan and render the extraction; nothing is written (see `write`). `job`: also render
    `<root>/jobs/<job>.py` (spark_ml.notebook.extract_job)."""
    if not root.is_dir():
        raise ExtractError(f"--root {root}: no such folder (run at the project's root or pass --root DIR)")
    target = module_path(root, module)
    if job is not None:
        check_job_name(job)
    if not path.is_file():
        raise ExtractError(f"no such notebook: {path}")
    notebook = read_notebook(path)
    package_root = root / module.split(".")[0]
    notes = refuse_if_it_would_not_run(notebook, package_root)
    options = Options(package_root=package_root)
    ctx = Context.build(notebook, options)
    frame_functions = plan(ctx, module, package_root).frame_functions if top_level_defs(ctx) else frozenset()
    steps = find_steps(ctx, frame_functions)
    if steps.steps:  # each step written as a def and its call; then extracted like any def
        ctx = Context.build(steps.notebook(notebook), options)
    planned = plan(ctx, module, package_root, steps.types())
    if not planned.functions:
        raise ExtractError(
            f"{path} has no module-level def and no step to extract (functions are written in cells as `def`; "
            "steps are top-level DataFrame statements under a `##` heading or a `# step: NAME` line)"
        )
    output = path.with_name(f"{path.stem}.extracted{path.suffix}")
    outputs = [target, output] if planned.extracted else [output]
    job_path = root / "jobs" / f"{job}.py" if job is not None else None
    outputs += [job_path] if job_path is not None else []
    for existing in outputs:
        if existing.exists() and not force:
            raise ExtractError(f"{existing} exists: pass --force to overwrite it (nothing written)")
    original = path.read_text(encoding="utf-8")
    first_party = {p.name for p in root.iterdir() if (p / "__init__.py").is_file()} | {module.split(".")[0]}
    module_text = (
        render_module(ctx, planned, path.name, line_length(root), frozenset(first_party)) if planned.extracted else ""
    )
    final = {**steps.sources, **notebook_cells(ctx, planned, module)}
    job_source = job_text(notebook, final, job, frozenset(first_party), path.name) if job is not None else ""
    parts = module.split(".")
    packages = [
        root.joinpath(*parts[:i], "__init__.py")
        for i in range(1, len(parts))
        if not root.joinpath(*parts[:i], "__init__.py").exists()
    ]
    return Extraction(
        path,
        module,
        target,
        module_text,
        output,
        _rewritten(notebook, original, final),
        original,
        _function_summaries(planned, {s.section.name: s.cells for s in steps.steps}),
        {f.name: f.reused_from for f in planned.functions.values() if f.reused_from is not None},
        notes,
        packages,
        steps.notes,
        job_path,
        job_source,
        ctx,
        planned,
    )


def _function_summaries(planned: Plan, step_cells: dict[str, list[int]]) -> list[dict[str, Any]]:
    out = []
    for function in planned.extracted:
        args = function.node.args
        own = [*positional_names(function.node), *(a.arg for a in args.kwonlyargs)]
        own += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
        cells = step_cells.get(function.name, [function.cell])
        out.append({"name": function.name, "params": [*own, *sorted(function.added)], "cells": cells})
    return out


def write(extraction: Extraction) -> list[Path]:
    written = []
    if extraction.module_text:
        for package in extraction.packages:
            package.parent.mkdir(parents=True, exist_ok=True)
            package.write_text("", encoding="utf-8")
        extraction.module_path.parent.mkdir(parents=True, exist_ok=True)
        extraction.module_path.write_text(extraction.module_text, encoding="utf-8")
        written += [*extraction.packages, extraction.module_path]
    extraction.notebook_path.write_text(extraction.notebook_text, encoding="utf-8")
    written.append(extraction.notebook_path)
    if extraction.job_path is not None:
        extraction.job_path.parent.mkdir(parents=True, exist_ok=True)
        extraction.job_path.write_text(extraction.job_text, encoding="utf-8")
        written.append(extraction.job_path)
    for path, text in extraction.tests:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def _rewritten(notebook: Notebook, original: str, cells: dict[int, str | None]) -> str:
    if notebook.format == "jupyter":
        nbformat = import_nbformat()
        nb = nbformat.reads(original, as_version=4)
        kept = []
        for number, cell in enumerate(nb.cells, 1):
            if number in cells:
                new = cells[number]
                if new is None:
                    continue
                cell["source"] = new
            kept.append(cell)
        nb.cells = kept
        return str(nbformat.writes(nb)) + "\n"
    return _rewritten_databricks(notebook, original, cells)


def _rewritten_databricks(notebook: Notebook, original: str, cells: dict[int, str | None]) -> str:
    lines = original.split("\n")
    blocks: list[list[str]] = [[]]
    starts = [2]
    for number, line in enumerate(lines[1:], 2):
        if line.strip() == COMMAND_SEPARATOR:
            blocks.append([])
            starts.append(number + 1)
        else:
            blocks[-1].append(line)
    kept: list[list[str]] = []
    for number, (block, block_start, cell) in enumerate(zip(blocks, starts, notebook.cells, strict=True), 1):
        if number in cells:
            new = cells[number]
            if new is None:
                continue
            lead = (cell.first_line or block_start) - block_start
            body_end = lead + len(cell.source.split("\n"))
            if any(line.startswith(MAGIC_PREFIX) for line in block[lead:body_end]):
                raise ExtractError(f"cell {number} is a `%python` magic cell: write it as a plain Python cell first")
            block = [*block[:lead], *new.split("\n"), *block[body_end:]]
        kept.append(block)
    return lines[0] + "\n" + f"\n{COMMAND_SEPARATOR}\n".join("\n".join(b) for b in kept)
