"""What the notebook tools work on: a parsed notebook, its cells and magics, and the findings.

Cell numbers are 1-based positions among all cells (markdown included), as Jupyter and Databricks
("Cmd 3") show them. Lines are 1-based within the cell, so a Jupyter notebook and its Databricks
source-format twin give the same findings; `file_line` adds the line in a Databricks .py file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Severity = Literal["info", "warning", "error"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "error": 2, "never": 3}
NotebookFormat = Literal["jupyter", "databricks"]
CellKind = Literal["code", "markdown", "raw"]


@dataclass(frozen=True)
class Magic:
    """A `%name argument` line or `%%name` cell magic (`!cmd` is recorded as name `!`)."""

    line: int
    name: str
    argument: str


@dataclass(frozen=True)
class Cell:
    number: int
    kind: CellKind
    source: str
    """Python source with magics replaced by no-ops (same line numbers); empty for other languages."""
    language: str = "python"
    execution_count: int | None = None
    magics: tuple[Magic, ...] = ()
    raw: str = ""
    """The cell text as written (magics included), for scans that are not Python-specific."""
    first_line: int | None = None
    """Line in the file of the cell's line 1 (Databricks source format only)."""

    @property
    def is_python(self) -> bool:
        return self.kind == "code" and self.language == "python"


@dataclass(frozen=True)
class Notebook:
    path: Path
    format: NotebookFormat
    cells: tuple[Cell, ...]
    language: str = "python"

    @property
    def code_cells(self) -> tuple[Cell, ...]:
        return tuple(c for c in self.cells if c.kind == "code")


@dataclass(frozen=True)
class RuleInfo:
    id: str
    name: str
    severity: Severity
    summary: str


@dataclass(frozen=True)
class Hit:
    """What a rule reports; the checker adds the path, the configured severity and the file line."""

    rule: str
    cell: int
    line: int
    message: str
    fix: str


@dataclass(frozen=True, order=True)
class Finding:
    path: str
    cell: int
    line: int
    rule: str
    name: str = field(compare=False)
    severity: Severity = field(compare=False)
    message: str = field(compare=True)
    fix: str = field(compare=False)
    file_line: int | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "cell": self.cell,
            "line": self.line,
            "file_line": self.file_line,
            "rule": self.rule,
            "name": self.name,
            "severity": self.severity,
            "message": self.message,
            "fix": self.fix,
        }

    def text(self) -> str:
        where = f"{self.path}:{self.file_line}" if self.file_line is not None else self.path
        return (
            f"{where}: cell {self.cell}, line {self.line}: {self.rule} {self.severity}: {self.message}\n"
            f"    fix: {self.fix}"
        )
