"""Every rule's findings on every notebook in the repository, compared with a recorded file.

The rules share one name-resolution engine; any change to it must leave these findings as they are
(no new false positive, nothing missed). The record is tests/fixtures/notebooks/findings.json,
written by:

    .venv/bin/python -m tests.unit.notebook.test_findings_recorded

Rewrite it only when a finding is meant to change, and review the diff.

Fixtures are checked against the stand-in package (so NB402 has something to find); notebooks/ is
checked with the default configuration, as `make lint` checks it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from spark_ml.notebook.checker import check_file
from tests.unit.notebook.conftest import findings_for
from tests.unit.notebook.fixture_spec import FIXTURES_DIR

ROOT = FIXTURES_DIR.parents[2]
RECORD = FIXTURES_DIR / "findings.json"
NOTEBOOK_SUFFIXES = (".ipynb", ".py")


def fixture_notebooks() -> list[Path]:
    return sorted(p for p in FIXTURES_DIR.iterdir() if p.is_file() and p.suffix in NOTEBOOK_SUFFIXES)


def project_notebooks() -> list[Path]:
    return sorted(p for p in (ROOT / "notebooks").rglob("*") if p.is_file() and p.suffix in NOTEBOOK_SUFFIXES)


def current_findings() -> dict[str, list[dict[str, Any]]]:
    """relative path -> [{rule, cell, line, message}] for every notebook, in the checker's order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for path, found in [
        *((p, findings_for(p)) for p in fixture_notebooks()),
        *((p, check_file(p)) for p in project_notebooks()),
    ]:
        out[path.relative_to(ROOT).as_posix()] = [
            {"rule": f.rule, "cell": f.cell, "line": f.line, "message": f.message} for f in found
        ]
    return out


def test_every_notebooks_findings_match_the_record() -> None:
    recorded = json.loads(RECORD.read_text(encoding="utf-8"))
    current = current_findings()
    assert sorted(current) == sorted(recorded), "notebooks added or removed: regenerate the record"
    for path in sorted(recorded):
        assert current[path] == recorded[path], path


def test_the_record_covers_every_fixture_in_both_formats() -> None:
    recorded = json.loads(RECORD.read_text(encoding="utf-8"))
    stems = {Path(p).stem for p in recorded if p.startswith("tests/")}
    assert {Path(p).name for p in recorded if p.startswith("tests/")} == {
        f"{stem}{suffix}" for stem in stems for suffix in NOTEBOOK_SUFFIXES
    }
    assert any(p.startswith("notebooks/") for p in recorded)


if __name__ == "__main__":
    RECORD.write_text(json.dumps(current_findings(), indent=1) + "\n", encoding="utf-8")
    print(RECORD)
