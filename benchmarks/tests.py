"""The tests section of `make bench`: how fast the project answers, by command.

- `make test-fast` (ruff, import contracts, the unit tier), median of `repeats`, target <= 120 s;
- the edit-test loop: `pytest --spark-connect tests/unit/transforms/test_asof.py` with the dev server
  up (`spark-ml dev start`), median of `repeats`, target <= 10 s, beside the same file cold (a new
  local JVM with Delta);
- `make test` (lint, mypy, contracts, notebook check, unit + integration, the Connect pass) and
  `make test-system`, each `suite_repeats` times (default once: each takes minutes), target
  <= 600 s for `make test`.

Every figure is wall time from the prompt to the command's exit, on this machine, warm venv.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import REPO

SPARK_ML = str(Path(sys.executable).parent / "spark-ml")
PYTEST = str(Path(sys.executable).parent / "pytest")
LOOP_FILE = "tests/unit/transforms/test_asof.py"


def _wall(command: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    started = time.perf_counter()
    out = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - started
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {out.returncode}:\n{out.stdout[-3000:]}\n{out.stderr[-2000:]}")
    return seconds, out.stdout


def _summary(text: str) -> str:
    found = [line.strip("= ") for line in text.splitlines() if re.search(r"\d+ passed", line)]
    return found[-1] if found else ""


def _median(command: list[str], repeats: int, env: dict[str, str] | None = None) -> dict[str, Any]:
    runs = [_wall(command, env) for _ in range(repeats)]
    seconds = [s for s, _ in runs]
    return {"median_s": statistics.median(seconds), "runs_s": seconds, "summary": _summary(runs[-1][1])}


def run(repeats: int, suite_repeats: int = 1) -> dict[str, Any]:
    make = ["make", "--no-print-directory", f"VENV={Path(sys.executable).parent.parent}"]
    results: dict[str, Any] = {}
    fast = _median([*make, "test-fast"], repeats)
    results["test_fast"] = {**fast, "target": "<= 120 s", "met": fast["median_s"] <= 120}

    cold = _median([PYTEST, "-q", "-p", "no:randomly", LOOP_FILE], repeats)
    dev_root = REPO / "lakehouse"
    _, started = _wall([SPARK_ML, "dev", "start", "--set", f"lakehouse.root={dev_root}"])
    try:
        env = {**os.environ, "SPARK_ML_DEV_DIR": str(dev_root / "dev")}
        warm = _median([PYTEST, "-q", "-p", "no:randomly", "--spark-connect", LOOP_FILE], repeats, env)
    finally:
        if " started at " in started:  # a server the user had running stays up
            _wall([SPARK_ML, "dev", "stop", "--set", f"lakehouse.root={dev_root}"])
    results["loop"] = {
        "file": LOOP_FILE,
        "warm_s": warm["median_s"],
        "warm_runs_s": warm["runs_s"],
        "cold_s": cold["median_s"],
        "cold_runs_s": cold["runs_s"],
        "summary": warm["summary"],
        "target": "<= 10 s warm",
        "met": warm["median_s"] <= 10,
    }
    suite = _median([*make, "test"], suite_repeats)
    results["test"] = {**suite, "target": "<= 600 s", "met": suite["median_s"] <= 600}
    results["test_system"] = _median([*make, "test-system"], suite_repeats)
    return results


def render(t: dict[str, Any]) -> list[str]:
    def met(part: dict[str, Any]) -> str:
        return "met" if part["met"] else "NOT met"

    loop, fast, suite, system = t["loop"], t["test_fast"], t["test"], t["test_system"]
    return [
        "## Test suite",
        "",
        "| command | wall time | runs | target |",
        "| --- | --- | --- | --- |",
        f"| `make test-fast` | {fast['median_s']:.0f} s | {len(fast['runs_s'])} | {fast['target']}: {met(fast)} |",
        f"| `pytest --spark-connect {loop['file']}`, dev server up | {loop['warm_s']:.1f} s "
        f"| {len(loop['warm_runs_s'])} | {loop['target']}: {met(loop)} |",
        f"| `pytest {loop['file']}`, cold | {loop['cold_s']:.1f} s | {len(loop['cold_runs_s'])} | |",
        f"| `make test` | {suite['median_s']:.0f} s | {len(suite['runs_s'])} | {suite['target']}: {met(suite)} |",
        f"| `make test-system` | {system['median_s']:.0f} s | {len(system['runs_s'])} | |",
        "",
        f"Summaries: test-fast {fast['summary']}; make test {suite['summary']}; test-system {system['summary']}.",
        "",
    ]
