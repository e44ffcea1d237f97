"""`spark-ml notebook check` and nborder 0.1.4 side by side on the project's notebooks (no Spark needed).

    python -m benchmarks.notebooks [--no-install]

Installs nborder==0.1.4 into its own venv (.venv-nborder at the repository root, made with
`python3 -m venv`; reused when it already has that version), runs both tools over
tests/fixtures/notebooks and notebooks/, and judges every finding against the fixtures' ground truth
(`EXPECTED` in tests/unit/notebook/fixture_spec.py; notebooks/explore_flights.ipynb has no problem: it
runs top to bottom in tests/runtime/test_notebook.py). A finding is a true positive when the ground
truth has an issue of the same concern in the same cell (same line first); anything else is a false
positive. Writes benchmarks/notebooks-results.md and benchmarks/notebooks-results.json.

nborder's rules map onto ours by concern: its NB101 (non-monotonic counts) is our NB101, its NB201
(use before assign) our NB201, its NB102 (name never defined) our NB202, its NB103 (stochastic call
before a seed) our NB505. It reads .ipynb files only.
"""

from __future__ import annotations

import argparse
import ast
import json
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
NBORDER_VERSION = "0.1.4"
NBORDER_VENV = REPO / ".venv-nborder"
FOLDERS = ("tests/fixtures/notebooks", "notebooks")
OUT_MD = REPO / "benchmarks" / "notebooks-results.md"
OUT_JSON = REPO / "benchmarks" / "notebooks-results.json"
# nborder rule -> the concern (our rule id) it reports
NBORDER_CONCERNS = {"NB101": "NB101", "NB201": "NB201", "NB102": "NB202", "NB103": "NB505"}
CONCERN_NAMES = {
    "NB101": "out-of-order execution",
    "NB201": "used before defined",
    "NB202": "undefined name",
    "NB505": "unseeded randomness",
}
# notebooks/ outside the fixtures: no known problem (they run top to bottom in the runtime tests)
# flight_delays_before shows on purpose the hidden state `notebook extract` removes
PROJECT_NOTEBOOKS_TRUTH: dict[str, list[tuple[str, int, int]]] = {
    "explore_flights": [],
    "flight_delays_before": [("NB301", 4, 10), ("NB302", 10, 1), ("NB302", 10, 2)],
}


@dataclass(frozen=True)
class Found:
    concern: str
    cell: int
    line: int
    rule: str
    message: str


@dataclass
class Judged:
    true_positives: list[Found] = field(default_factory=list)
    false_positives: list[Found] = field(default_factory=list)
    missed: list[tuple[str, int, int]] = field(default_factory=list)
    outside_rules: list[tuple[str, int, int]] = field(default_factory=list)


# -- nborder ---------------------------------------------------------------------------------------


def nborder_bin() -> Path:
    return NBORDER_VENV / ("Scripts" if sys.platform == "win32" else "bin")


def installed_nborder() -> str | None:
    python = nborder_bin() / "python"
    if not python.exists():
        return None
    out = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('nborder'))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip() if out.returncode == 0 else None


def ensure_nborder(install: bool) -> tuple[Path | None, str]:
    """The nborder executable of .venv-nborder (created and installed when missing), or None and why not."""
    if installed_nborder() == NBORDER_VERSION:
        return nborder_bin() / "nborder", f"nborder {NBORDER_VERSION} in {NBORDER_VENV.name}"
    if not install:
        return None, f"nborder {NBORDER_VERSION} is not installed in {NBORDER_VENV.name} (--no-install)"
    python3 = shutil.which("python3") or sys.executable
    steps = [
        [python3, "-m", "venv", str(NBORDER_VENV)],
        [str(nborder_bin() / "python"), "-m", "pip", "install", "--quiet", f"nborder=={NBORDER_VERSION}"],
    ]
    for step in steps:
        out = subprocess.run(step, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            tail = (out.stderr or out.stdout).strip().splitlines()[-3:]
            return None, f"`{' '.join(step[-3:])}` failed: {' / '.join(tail)}"
    if installed_nborder() != NBORDER_VERSION:
        return None, f"nborder {NBORDER_VERSION} did not install into {NBORDER_VENV.name}"
    return nborder_bin() / "nborder", f"nborder {NBORDER_VERSION} installed into {NBORDER_VENV.name}"


def run_nborder(executable: Path, paths: list[Path]) -> tuple[dict[str, list[Found]], list[str]]:
    """Findings per file (path relative to the repo), and errors; one call, or one per file if that fails."""
    found: dict[str, list[Found]] = {}
    errors: list[str] = []

    def call(targets: list[Path]) -> bool:
        command = [str(executable), "check", *map(str, targets), "--output-format", "json", "--exit-zero"]
        out = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
        try:
            data = json.loads(out.stdout)
        except ValueError:
            errors.append(f"{' '.join(map(str, targets))}: exit {out.returncode}: {out.stderr.strip()[-300:]}")
            return False
        for item in data.get("diagnostics", []):
            path = str(Path(item["notebook_path"]).resolve().relative_to(REPO))
            concern = NBORDER_CONCERNS.get(item["code"], item["code"])
            found.setdefault(path, []).append(
                Found(concern, item["cell_index"] + 1, item["line"], item["code"], item["message"])
            )
        return True

    if not call(paths):
        errors.clear()
        for path in paths:
            call([path])
    return found, errors


# -- spark-ml ------------------------------------------------------------------------------------


def run_ours(paths: list[Path]) -> dict[str, list[Found]]:
    from spark_ml.notebook.analysis import Options
    from spark_ml.notebook.checker import CheckConfig, check_file

    fixtures = REPO / "tests" / "fixtures" / "notebooks"
    found: dict[str, list[Found]] = {}
    for path in paths:
        # NB402 compares the fixtures with their stand-in package, the project's notebooks with spark_ml
        root = fixtures / "package" / "flights_pkg" if fixtures in path.parents else None
        findings = check_file(path, CheckConfig(options=Options(package_root=root)))
        found[str(path.relative_to(REPO))] = [Found(f.rule, f.cell, f.line, f.rule, f.message) for f in findings]
    return found


def notebooks() -> list[Path]:
    from spark_ml.notebook.readers import discover

    return discover([REPO / folder for folder in FOLDERS])


# -- judging --------------------------------------------------------------------------------------


def ground_truth() -> dict[str, list[tuple[str, int, int]]]:
    """Repo-relative path -> (concern, cell, line) of its real problems."""
    sys.path.insert(0, str(REPO))
    from tests.unit.notebook.fixture_spec import EXPECTED, expected

    truth: dict[str, list[tuple[str, int, int]]] = {}
    for name in EXPECTED:
        for fmt in ("ipynb", "py"):
            truth[f"tests/fixtures/notebooks/{name}.{fmt}"] = expected(name, fmt)
    for name, issues in PROJECT_NOTEBOOKS_TRUTH.items():
        truth[f"notebooks/{name}.ipynb"] = issues
    return truth


def judge(found: list[Found], truth: list[tuple[str, int, int]], covered: set[str]) -> Judged:
    judged = Judged()
    open_issues = list(truth)
    rest: list[Found] = []
    for item in found:  # same concern, cell and line
        key = (item.concern, item.cell, item.line)
        if key in open_issues:
            open_issues.remove(key)
            judged.true_positives.append(item)
        else:
            rest.append(item)
    for item in rest:  # same concern and cell, another line
        match = next((i for i in open_issues if i[:2] == (item.concern, item.cell)), None)
        if match is None:
            judged.false_positives.append(item)
        else:
            open_issues.remove(match)
            judged.true_positives.append(item)
    judged.missed = [i for i in open_issues if i[0] in covered]
    judged.outside_rules = [i for i in open_issues if i[0] not in covered]
    return judged


def name_kind(path: Path, item: Found) -> str:
    """How the name an undefined-name finding quotes is used in that cell: what the false positive is."""
    from spark_ml.notebook.readers import read_notebook
    from spark_ml.notebook.rules_names import PROVIDED

    name = item.message.split("`")[1] if item.message.count("`") >= 2 else ""
    if name in PROVIDED:
        return "Databricks/IPython global"
    cell = next((c for c in read_notebook(path).cells if c.number == item.cell), None)
    try:
        tree = ast.parse(cell.source if cell else "")
    except SyntaxError:
        return "other"
    kinds = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == name:
            kinds.append("attribute name")
        elif isinstance(node, ast.keyword) and node.arg == name:
            kinds.append("keyword name")
        elif isinstance(node, ast.arg) and node.arg == name:
            kinds.append("parameter")
        elif isinstance(node, ast.Name) and node.id == name:
            kinds.append("name")
    return Counter(kinds).most_common(1)[0][0] if kinds else "other"


# -- timing ---------------------------------------------------------------------------------------


def wall_time(command: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, cwd=REPO, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# -- report ---------------------------------------------------------------------------------------


def by_rule(found: list[Found]) -> str:
    counts = Counter(f.rule for f in found)
    return ", ".join(f"{rule} x{n}" if n > 1 else rule for rule, n in sorted(counts.items())) or "-"


def build(install: bool, repeats: int) -> dict[str, Any]:
    paths = notebooks()
    truth = ground_truth()
    unknown = [str(p.relative_to(REPO)) for p in paths if str(p.relative_to(REPO)) not in truth]
    if unknown:
        raise SystemExit(f"no ground truth for {', '.join(unknown)}: add it to fixture_spec.EXPECTED")
    ours = run_ours(paths)
    executable, nborder_status = ensure_nborder(install)
    jupyter = [p for p in paths if p.suffix == ".ipynb"]
    theirs, nborder_errors = run_nborder(executable, jupyter) if executable else ({}, [])
    from spark_ml.notebook.rules import RULES

    tools: dict[str, dict[str, Any]] = {
        "spark-ml": {"covered": set(RULES), "found": ours, "reads": set(ours)},
        "nborder": {
            "covered": set(NBORDER_CONCERNS.values()),
            "found": theirs,
            "reads": {str(p.relative_to(REPO)) for p in jupyter} if executable else set(),
        },
    }
    files = []
    for path in paths:
        rel = str(path.relative_to(REPO))
        row: dict[str, Any] = {"file": rel, "truth": [list(i) for i in truth[rel]]}
        for tool, info in tools.items():
            if rel not in info["reads"]:
                row[tool] = None
                continue
            found = info["found"].get(rel, [])
            judged = judge(found, truth[rel], info["covered"])
            row[tool] = {
                "findings": [vars(f) for f in found],
                "by_rule": by_rule(found),
                "true_positives": len(judged.true_positives),
                "false_positives": [vars(f) | {"kind": _kind(path, f)} for f in judged.false_positives],
                "missed": [list(i) for i in judged.missed],
                "outside_rules": [list(i) for i in judged.outside_rules],
            }
        files.append(row)
    timing = {}
    if repeats:
        folders = [str(REPO / f) for f in FOLDERS]
        ours_cmd = [sys.executable, "-m", "spark_ml.cli", "notebook", "check", *folders, "--format", "json"]
        timing["spark-ml"] = wall_time([*ours_cmd, "--fail-on", "never"], repeats)
        if executable:
            timing["nborder"] = wall_time([str(executable), "check", *folders, "--output-format", "json"], repeats)
    return {
        "measured": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "nborder": nborder_status,
        "nborder_errors": nborder_errors,
        "files": files,
        "totals": totals(files),
        "concerns": concerns(files),
        "timing_s": timing,
        "timing_repeats": repeats,
    }


def _kind(path: Path, item: Found) -> str:
    return name_kind(path, item) if item.concern == "NB202" else "-"


def totals(files: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, int]]]:
    out: dict[str, dict[str, dict[str, int]]] = {}
    for tool in ("spark-ml", "nborder"):
        for fmt in ("ipynb", "py"):
            rows = [f for f in files if f["file"].endswith(f".{fmt}")]
            read = [f[tool] for f in rows if f[tool] is not None]
            out.setdefault(tool, {})[fmt] = {
                "files": len(rows),
                "read": len(read),
                "findings": sum(len(r["findings"]) for r in read),
                "true_positives": sum(r["true_positives"] for r in read),
                "false_positives": sum(len(r["false_positives"]) for r in read),
                "missed": sum(len(r["missed"]) for r in read),
                "outside_rules": sum(len(r["outside_rules"]) for r in read),
                "truth": sum(len(f["truth"]) for f in rows),
            }
    return out


def concerns(files: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, int]]]:
    """For the concerns both tools have, on the .ipynb files both read."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    rows = [f for f in files if f["file"].endswith(".ipynb")]
    for concern in CONCERN_NAMES:
        entry: dict[str, dict[str, int]] = {"truth": {"issues": sum(i[0] == concern for f in rows for i in f["truth"])}}
        for tool in ("spark-ml", "nborder"):
            read = [f[tool] for f in rows if f[tool] is not None]
            found = [x for r in read for x in r["findings"] if x["concern"] == concern]
            fps = [x for r in read for x in r["false_positives"] if x["concern"] == concern]
            missed = [x for r in read for x in r["missed"] if x[0] == concern]
            entry[tool] = {
                "findings": len(found),
                "true_positives": len(found) - len(fps),
                "false_positives": len(fps),
                "missed": len(missed),
            }
        out[concern] = entry
    return out


def markdown(data: dict[str, Any]) -> str:
    lines = [
        f"# Notebook checks: spark-ml notebook check and nborder ({data['measured']}, {data['machine']})",
        "",
        "Reproduce: `python -m benchmarks.notebooks` (installs nborder into `.venv-nborder`). Ground truth:",
        "`EXPECTED` in tests/unit/notebook/fixture_spec.py (the rule tests assert it); `notebooks/` has no known",
        "problem. A finding that matches no ground-truth issue of its concern in its cell is a false positive.",
        f"nborder: {data['nborder']}; it reads .ipynb files only.",
        "",
        "## Totals",
        "",
        "| tool | files | read | findings | true positives | false positives | missed (its rules) "
        "| issues outside its rules |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for tool, formats in data["totals"].items():
        for fmt, t in formats.items():
            lines.append(
                f"| {tool} .{fmt} | {t['files']} | {t['read']} | {t['findings']} | {t['true_positives']} | "
                f"{t['false_positives']} | {t['missed']} | {t['outside_rules']} |"
            )
    lines += [
        "",
        "## The concerns both tools check (.ipynb files)",
        "",
        "| concern (ours / nborder) | issues | spark-ml found | spark-ml false pos. | spark-ml missed "
        "| nborder found | nborder false pos. | nborder missed |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    theirs = {v: k for k, v in NBORDER_CONCERNS.items()}
    for concern, entry in data["concerns"].items():
        ours, nb = entry["spark-ml"], entry["nborder"]
        lines.append(
            f"| {CONCERN_NAMES[concern]} ({concern} / {theirs[concern]}) | {entry['truth']['issues']} | "
            f"{ours['findings']} | {ours['false_positives']} | {ours['missed']} | "
            f"{nb['findings']} | {nb['false_positives']} | {nb['missed']} |"
        )
    for tool in ("spark-ml", "nborder"):
        kinds = Counter(
            fp["kind"]
            for f in data["files"]
            if f[tool]
            for fp in f[tool]["false_positives"]
            if fp["concern"] == "NB202"
        )
        if kinds:
            shown = ", ".join(f"{kind} {n}" for kind, n in kinds.most_common())
            lines += ["", f"{tool}'s undefined-name false positives by what the name is in its cell: {shown}."]
    lines += [
        "",
        "## Per file",
        "",
        "| file | ground truth | spark-ml | spark-ml false positives | nborder | nborder false positives |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in data["files"]:
        truth = ", ".join(f"{r} c{c}:{line}" for r, c, line in row["truth"]) or "clean"
        cells = []
        for tool in ("spark-ml", "nborder"):
            result = row[tool]
            if result is None:
                cells += ["not read", "-"]
                continue
            fps = ", ".join(
                f"{fp['rule']} c{fp['cell']}:{fp['line']}" + (f" `{_quoted(fp)}`" if _quoted(fp) else "")
                for fp in result["false_positives"]
            )
            cells += [result["by_rule"], fps or "0"]
        lines.append(f"| {row['file']} | {truth} | " + " | ".join(cells) + " |")
    if data["timing_s"]:
        lines += [
            "",
            f"Wall time over both folders, median of {data['timing_repeats']} (interpreter start included; "
            "nborder reads only the .ipynb half): "
            + ", ".join(f"{tool} {seconds:.2f} s" for tool, seconds in data["timing_s"].items())
            + ".",
        ]
    if data["nborder_errors"]:
        lines += ["", "nborder errors: " + "; ".join(data["nborder_errors"])]
    return "\n".join(lines) + "\n"


def _quoted(finding: dict[str, Any]) -> str:
    message = str(finding["message"])
    return message.split("`")[1] if finding["concern"] == "NB202" and message.count("`") >= 2 else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-install", action="store_true", help="do not create .venv-nborder if it is missing")
    parser.add_argument("--repeats", type=int, default=3, help="timing runs per tool (0: no timing)")
    args = parser.parse_args(argv)
    data = build(install=not args.no_install, repeats=args.repeats)
    OUT_JSON.write_text(json.dumps(data, indent=2) + "\n")
    OUT_MD.write_text(markdown(data))
    print(OUT_MD.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
