"""`notebook check`: read notebooks, run the enabled rules, apply severities, decide the exit code."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spark_ml.errors import EXIT_FAILURE, EXIT_OK
from spark_ml.notebook.analysis import Context, Options
from spark_ml.notebook.model import SEVERITY_RANK, Finding, Hit, Notebook, Severity
from spark_ml.notebook.readers import NotebookReadError, discover, read_notebook
from spark_ml.notebook.rules import CHECKS, RULES, resolve_rules, resolve_severities
from spark_ml.notebook.settings import NotebookSettings


@dataclass(frozen=True)
class CheckConfig:
    options: Options = field(default_factory=Options)
    disabled: frozenset[str] = frozenset()
    severity: Mapping[str, Severity] = field(default_factory=dict)
    fail_on: str = "warning"

    @classmethod
    def from_settings(
        cls, settings: NotebookSettings, fail_on: str | None = None, package_root: Path | None = None
    ) -> CheckConfig:
        """Validates rule ids and names in the settings (ConfigError naming the key otherwise)."""
        options = Options(settings.max_definition_lines, frozenset(settings.allowed_globals), package_root)
        return cls(
            options,
            resolve_rules(settings.disabled_rules, "notebook.disabled_rules"),
            resolve_severities(settings.severity, "notebook.severity"),
            fail_on or settings.fail_on,
        )

    def severity_of(self, rule: str) -> Severity:
        return self.severity.get(rule, RULES[rule].severity)


@dataclass(frozen=True)
class Report:
    notebooks: tuple[str, ...]
    findings: tuple[Finding, ...]
    fail_on: str

    @property
    def failing(self) -> tuple[Finding, ...]:
        threshold = SEVERITY_RANK[self.fail_on]
        return tuple(f for f in self.findings if SEVERITY_RANK[f.severity] >= threshold)

    @property
    def exit_code(self) -> int:
        return EXIT_FAILURE if self.failing else EXIT_OK

    def counts(self) -> dict[str, int]:
        return {level: sum(f.severity == level for f in self.findings) for level in ("error", "warning", "info")}

    def text(self) -> str:
        lines = [f.text() for f in self.findings]
        n = len(self.notebooks)
        checked = f"{n} notebook{'s' if n != 1 else ''} checked"
        if not self.findings:
            lines.append(f"{checked}: no findings")
        else:
            counts = ", ".join(f"{v} {k}" for k, v in self.counts().items() if v)
            gate = (
                "no failure threshold (--fail-on never)"
                if self.fail_on == "never"
                else f"{len(self.failing)} at or above {self.fail_on}"
            )
            total = len(self.findings)
            lines.append(f"{checked}: {total} finding{'s' if total != 1 else ''} ({counts}); {gate}")
        return "\n".join(lines) + "\n"

    def to_sarif(self, cwd: Path | None = None) -> str:
        """SARIF 2.1.0 (see spark_ml.notebook.sarif); locations relative to `cwd` (default: the current directory)."""
        from spark_ml.notebook.sarif import to_sarif

        return to_sarif(self.findings, self.exit_code, cwd)

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "notebooks": list(self.notebooks),
            "findings": [f.to_dict() for f in self.findings],
            "counts": self.counts(),
            "fail_on": self.fail_on,
            "exit_code": self.exit_code,
        }
        return json.dumps(data, indent=2) + "\n"


def check_notebook(notebook: Notebook, config: CheckConfig = CheckConfig()) -> list[Finding]:
    ctx = Context.build(notebook, config.options)
    hits: list[Hit] = list(ctx.syntax_errors)
    for rule_ids, check in CHECKS:
        if rule_ids - config.disabled:
            hits.extend(check(ctx))
    first_lines = {c.number: c.first_line for c in notebook.cells}
    findings = {
        _finding(str(notebook.path), hit, config.severity_of(hit.rule), first_lines.get(hit.cell))
        for hit in hits
        if hit.rule not in config.disabled
    }
    return sorted(findings)


def _finding(path: str, hit: Hit, severity: Severity, first_line: int | None) -> Finding:
    rule = RULES[hit.rule]
    file_line = first_line + hit.line - 1 if first_line is not None else None
    return Finding(path, hit.cell, hit.line, hit.rule, rule.name, severity, hit.message, hit.fix, file_line)


def check_file(path: Path, config: CheckConfig = CheckConfig()) -> list[Finding]:
    try:
        notebook = read_notebook(path)
    except NotebookReadError as exc:
        if "NB001" in config.disabled:
            return []
        hit = Hit("NB001", 1, 1, str(exc), "repair the file (or remove it) so it opens as a notebook")
        return [_finding(str(path), hit, config.severity_of("NB001"), None)]
    return check_notebook(notebook, config)


def check_paths(
    paths: Iterable[str | Path], config: CheckConfig = CheckConfig(), *, skip_non_notebooks: bool = False
) -> Report:
    """Check files and folders; ConfigError naming the path when one does not exist or is not a notebook
    (with `skip_non_notebooks`, files named directly that are not notebooks are left out instead)."""
    files = discover(paths, skip_non_notebooks=skip_non_notebooks)
    findings: list[Finding] = []
    for path in files:
        findings.extend(check_file(path, config))
    return Report(tuple(str(p) for p in files), tuple(findings), config.fail_on)
