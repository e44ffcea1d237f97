"""`notebook check --format sarif`: SARIF 2.1.0 for code scanning (GitHub, Azure DevOps, GitLab...).

One run; `tool.driver.rules` lists every rule (id, name, summary, default level), each result points at
its rule by id and index. Levels: error -> error, warning -> warning, info -> note. Locations are
relative to the current directory when the notebook is under it (so run the check from the repository
root), an absolute file: URI otherwise. `region.startLine` is a line of the file: for a Databricks .py
notebook the line in the file, for a .ipynb file the line of the JSON file that holds that line of the
cell's source (nbformat writes one source line per file line), else the line within the cell. Every
result also names its cell in `logicalLocations` and `properties` (`cell`, `lineInCell`, `fix`).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import quote

from spark_ml.notebook.model import Finding
from spark_ml.notebook.rules import RULES
from spark_ml.versions import __version__

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}
_SOURCE_KEY = re.compile(r'"source"\s*:')


def information_uri() -> str | None:
    """The project's home page from the installed package metadata (Home-page or the first Project-URL)."""
    try:
        meta = metadata.metadata("spark-ml")
    except metadata.PackageNotFoundError:
        return None
    pages = [
        *(meta.get_all("Home-page") or []),
        *(u.split(",", 1)[1].strip() for u in meta.get_all("Project-URL") or [] if "," in u),
    ]
    home = pages[0] if pages else None
    return home if home and home.upper() != "UNKNOWN" else None


def sarif_log(findings: tuple[Finding, ...], exit_code: int, cwd: Path | None = None) -> dict[str, Any]:
    base = (cwd or Path.cwd()).resolve()
    index = {rule: i for i, rule in enumerate(RULES)}
    driver: dict[str, Any] = {
        "name": "spark-ml notebook check",
        "version": __version__,
        "semanticVersion": __version__,
        "rules": [
            {
                "id": rule.id,
                "name": rule.name,
                "shortDescription": {"text": rule.summary},
                "defaultConfiguration": {"level": LEVELS[rule.severity]},
            }
            for rule in RULES.values()
        ],
    }
    uri = information_uri()
    if uri:
        driver["informationUri"] = uri
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {"driver": driver},
                "invocations": [{"executionSuccessful": True, "exitCode": exit_code}],
                "results": [_result(f, index[f.rule], base) for f in findings],
            }
        ],
    }


def to_sarif(findings: tuple[Finding, ...], exit_code: int, cwd: Path | None = None) -> str:
    return json.dumps(sarif_log(findings, exit_code, cwd), indent=2) + "\n"


def _result(finding: Finding, rule_index: int, base: Path) -> dict[str, Any]:
    path = Path(finding.path)
    return {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": f"{finding.message}. Fix: {finding.fix}"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": artifact_uri(path, base)},
                    "region": {"startLine": file_line(finding)},
                },
                "logicalLocations": [{"name": f"cell {finding.cell}", "kind": "module"}],
            }
        ],
        "properties": {"cell": finding.cell, "lineInCell": finding.line, "fix": finding.fix},
    }


def artifact_uri(path: Path, base: Path) -> str:
    absolute = path if path.is_absolute() else base / path
    try:
        relative = absolute.resolve().relative_to(base)
    except ValueError:
        return absolute.resolve().as_uri()
    return quote(relative.as_posix(), safe="/")


def file_line(finding: Finding) -> int:
    if finding.file_line is not None:
        return finding.file_line
    if finding.path.endswith(".ipynb"):
        lines = jupyter_source_lines(finding.path)
        cell = lines.get(finding.cell)
        if cell:
            return cell[finding.line] if finding.line < len(cell) else cell[0]
    return max(finding.line, 1)


@lru_cache(maxsize=64)
def jupyter_source_lines(path: str) -> dict[int, tuple[int, ...]]:
    """cell number -> (line of its "source" key, then the file line of each source line) in a .ipynb file.

    Found by reading the file text cell by cell: the n-th `"source":` key belongs to the n-th cell and
    each source line is looked up, JSON-encoded, after it. A cell whose lines cannot all be found keeps
    only the key's line. Any surprise (unreadable file, a count that does not match) gives {}."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        cells = json.loads(text).get("cells", [])
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return {}
    keys = [m.end() for m in _SOURCE_KEY.finditer(text)]
    if len(keys) != len(cells):
        return {}
    out: dict[int, tuple[int, ...]] = {}
    for number, (cell, start) in enumerate(zip(cells, keys, strict=True), 1):
        key_line = text.count("\n", 0, start) + 1
        source = cell.get("source", "") if isinstance(cell, dict) else ""
        parts = source if isinstance(source, list) else [source]
        if len(parts) == 1 and not isinstance(source, list):  # one JSON string: every line is on the key's line
            out[number] = (key_line, *([key_line] * max(1, str(source).count("\n") + 1)))
            continue
        found: list[int] = []
        cursor = start
        for part in parts:
            at = _find_encoded(text, str(part), cursor)
            if at < 0:
                found = []
                break
            found.append(text.count("\n", 0, at) + 1)
            cursor = at + 1
        out[number] = (key_line, *found)
    return out


def _find_encoded(text: str, value: str, start: int) -> int:
    for ascii_only in (False, True):
        at = text.find(json.dumps(value, ensure_ascii=ascii_only), start)
        if at >= 0:
            return at
    return -1
