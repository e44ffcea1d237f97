"""Find notebooks and read them into `Notebook`: Jupyter .ipynb (with nbformat) and Databricks source.

A Databricks source-format notebook is a .py file whose first line is ``# Databricks notebook source``;
cells are separated by ``# COMMAND ----------`` lines and magic cells hold ``# MAGIC`` lines. IPython
magics (``%run``, ``!pip``, ``%%sql``) are recorded and replaced by no-ops so the rest of a cell
parses as Python with unchanged line numbers.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from spark_ml.errors import EXIT_USAGE, ConfigError, SparkMLError, first_line
from spark_ml.notebook.model import Cell, Magic, Notebook

DATABRICKS_HEADER = "# Databricks notebook source"
COMMAND_SEPARATOR = "# COMMAND ----------"
MAGIC_PREFIX = "# MAGIC"
DBTITLE_PREFIX = "# DBTITLE"
# Cell magics whose body is still Python.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "python", "python3"})
# Databricks magic cells in another language: %md cells are markdown, the others are not Python.
DATABRICKS_LANGUAGES = {
    "md": "markdown",
    "md-sandbox": "markdown",
    "sql": "sql",
    "scala": "scala",
    "r": "r",
    "sh": "sh",
    "fs": "fs",
}
_ASSIGNED_MAGIC = re.compile(r"^(\s*[A-Za-z_][\w, ]*=\s*)[%!]")
_SKIPPED_DIRS = frozenset({"__pycache__", "node_modules", "site-packages"})


class NotebookReadError(SparkMLError):
    """A file named as a notebook cannot be read as one."""

    exit_code = EXIT_USAGE


def is_databricks_source(path: Path) -> bool:
    if path.suffix != ".py":
        return False
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            first = fh.readline()
    except OSError:
        return False
    return first.lstrip("\ufeff").strip() == DATABRICKS_HEADER


def is_notebook(path: Path) -> bool:
    return path.suffix == ".ipynb" or is_databricks_source(path)


def discover(paths: Iterable[str | Path], *, skip_non_notebooks: bool = False) -> list[Path]:
    """Notebook files named directly or found under folders (hidden folders and checkpoints skipped).

    A file named directly that is not a notebook is a ConfigError, or left out with `skip_non_notebooks`
    (what a pre-commit hook needs: it is handed every staged .py file)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise ConfigError(f"no such file or folder: {raw}")
        if path.is_dir():
            found.extend(_walk(path))
        elif is_notebook(path):
            found.append(path)
        elif not skip_non_notebooks:
            raise ConfigError(
                f"{raw} is not a notebook: expected a .ipynb file or a .py file whose first line is "
                f"'{DATABRICKS_HEADER}'"
            )
    return list(dict.fromkeys(found))


def _walk(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if any(p.startswith(".") or p in _SKIPPED_DIRS for p in parts) or not path.is_file():
            continue
        if is_notebook(path):
            yield path


def read_notebook(path: Path) -> Notebook:
    if path.suffix == ".ipynb":
        return read_jupyter(path)
    if is_databricks_source(path):
        return read_databricks(path)
    raise NotebookReadError(f"{path} is not a notebook (.ipynb or Databricks source .py)")


def import_nbformat() -> Any:
    try:
        import nbformat
    except ImportError as exc:
        raise ConfigError("reading .ipynb files needs nbformat: pip install 'spark-ml[notebook]'") from exc
    return nbformat


def read_jupyter(path: Path) -> Notebook:
    nbformat = import_nbformat()
    try:
        text = path.read_text(encoding="utf-8")
        # Validation problems are captured (not logged); Jupyter opens such files too.
        nb = nbformat.reads(text, as_version=4, capture_validation_error={})
    except Exception as exc:  # nbformat raises NotJSONError, ValueError, KeyError... on broken files
        raise NotebookReadError(
            f"{path} is not a readable Jupyter notebook: {first_line(exc) or type(exc).__name__}"
        ) from exc
    metadata = nb.get("metadata", {})
    language = str(
        metadata.get("language_info", {}).get("name") or metadata.get("kernelspec", {}).get("language") or "python"
    ).lower()
    cells: list[Cell] = []
    for number, cell in enumerate(nb.cells, 1):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        if cell.get("cell_type") == "code":
            cells.append(code_cell(number, source, cell.get("execution_count"), language=language))
        elif cell.get("cell_type") == "markdown":
            cells.append(Cell(number, "markdown", "", language="markdown", raw=source))
        else:
            cells.append(Cell(number, "raw", "", language="raw", raw=source))
    return Notebook(path, "jupyter", tuple(cells), language)


def read_databricks(path: Path) -> Notebook:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise NotebookReadError(f"{path} cannot be read: {exc}") from exc
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 2
    for number, line in enumerate(lines[1:], 2):
        if line.strip() == COMMAND_SEPARATOR:
            blocks.append((start, current))
            current, start = [], number + 1
        else:
            current.append(line)
    blocks.append((start, current))
    cells = [_databricks_cell(n, start, block) for n, (start, block) in enumerate(blocks, 1)]
    return Notebook(path, "databricks", tuple(cells), "python")


def _databricks_cell(number: int, start: int, block: list[str]) -> Cell:
    lead = 0
    while lead < len(block) and (not block[lead].strip() or block[lead].startswith(DBTITLE_PREFIX)):
        lead += 1
    end = len(block)
    while end > lead and not block[end - 1].strip():
        end -= 1
    body, first_line = block[lead:end], start + lead
    if body and all(line.startswith(MAGIC_PREFIX) for line in body):
        decoded = [line[len(MAGIC_PREFIX) :].removeprefix(" ") for line in body]
        head = decoded[0].strip()
        name = head[1:].split(maxsplit=1)[0] if head.startswith("%") and len(head) > 1 else ""
        text = "\n".join(decoded)
        if name.lower() in DATABRICKS_LANGUAGES:
            language = DATABRICKS_LANGUAGES[name.lower()]
            argument = head[1 + len(name) :].strip()
            if language == "markdown":
                return Cell(number, "markdown", "", language="markdown", raw=text, first_line=first_line)
            magic = Magic(1, name, argument)
            return Cell(number, "code", "", language=language, magics=(magic,), raw=text, first_line=first_line)
        if name == "python":
            text = "\n".join(["", *decoded[1:]])
        return code_cell(number, text, None, first_line=first_line, raw=text)
    return code_cell(number, "\n".join(body), None, first_line=first_line)


def code_cell(
    number: int,
    text: str,
    execution_count: int | None,
    *,
    language: str = "python",
    first_line: int | None = None,
    raw: str | None = None,
) -> Cell:
    """A code cell whose `source` parses as Python: magics recorded and replaced by `pass`/`None`."""
    raw = text if raw is None else raw
    if language != "python":
        return Cell(number, "code", "", language, execution_count, raw=raw, first_line=first_line)
    lines = text.split("\n")
    magics: list[Magic] = []
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        name, _, argument = lines[first].strip()[2:].partition(" ")
        magics.append(Magic(first + 1, name, argument.strip()))
        if name not in PYTHON_CELL_MAGICS:
            lang = {"bash": "sh", "script": "sh", "markdown": "markdown"}.get(name, name)
            return Cell(number, "code", "", lang, execution_count, tuple(magics), raw, first_line)
        lines[first] = ""
    if not _parses("\n".join(lines)):
        for i, line in enumerate(lines):
            stripped = line.lstrip()
            indent = line[: len(line) - len(stripped)]
            if stripped.startswith("%") or (stripped.startswith("!") and not stripped.startswith("!=")):
                magics.append(_line_magic(i + 1, stripped))
                lines[i] = f"{indent}pass"
            elif (match := _ASSIGNED_MAGIC.match(line)) is not None:
                magics.append(_line_magic(i + 1, line[match.end() - 1 :]))
                lines[i] = f"{match.group(1)}None"
    return Cell(number, "code", "\n".join(lines), "python", execution_count, tuple(magics), raw, first_line)


def _line_magic(line: int, text: str) -> Magic:
    if text.startswith("!"):
        return Magic(line, "!", text[1:].strip())
    name, _, argument = text.lstrip("%").partition(" ")
    return Magic(line, name, argument.strip())


def _parses(source: str) -> bool:
    try:
        ast.parse(source)
    except SyntaxError:
        return False
    return True
