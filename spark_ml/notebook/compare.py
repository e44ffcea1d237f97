"""`spark-ml notebook run ORIGINAL --against OTHER` and `notebook extract --verify`: run two notebooks
(and a job) top to bottom, each in its own fresh Jupyter kernel, and compare what they show and write.

    comparison = compare_runs(Path("steps.py"), Path("steps.extracted.py"), RunOptions(setup=Path("seed.py")))
    print(comparison.text())  # ok, or each difference named

Each run gets a scratch folder of its own: `work/` (a copy of the notebook's folder, the kernel's
working directory), `warehouse/` (spark.sql.warehouse.dir) and `lakehouse/` (SPARK_ML_LAKEHOUSE), so
two runs cannot see each other's outputs. Inside the kernel, spark_ml.io.notebook_kernel defines
`spark` (a local Delta session), `display`, `dbutils.widgets` and the `%%sql` magic; a Databricks
source notebook is converted to cells in memory (`%sql` cells run as `%%sql`). The `setup` script
runs first in every kernel (to create the input tables); its outputs are not compared.

Compared, in this order: the text each code cell prints or shows (normalized as `notebook run
--compare` normalizes it; stderr is left out), in sequence across cells, since the rewritten
notebook has fewer cells; every catalog table and every Delta or Parquet folder under `work/` and
`lakehouse/` (schema, row count, rows ignoring their order); every other file created, changed or
deleted under `work/` (bytes). A job is compared on its tables and files only. The notebook files are
never modified; the scratch folders are removed afterwards.

This module never imports Spark: the kernels do.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spark_ml.errors import ConfigError
from spark_ml.notebook.readers import import_nbformat, is_databricks_source, read_databricks
from spark_ml.notebook.runner import execute, normalized_outputs

SNAPSHOT_MARKER = "--- spark-ml snapshot ---"  # spark_ml.io.notebook_kernel prints it
MAX_COPY_BYTES = 200 * 1024 * 1024
SKIPPED_NAMES = frozenset({"__pycache__", "spark-warehouse", "metastore_db", "derby.log", "node_modules"})
_JOB_OPTION = re.compile(r"""add_argument\(\s*["']--([A-Za-z_][\w-]*)["']""")


@dataclass(frozen=True)
class RunOptions:
    setup: Path | None = None
    """A Python script run first in every kernel (input tables); its outputs are not compared."""
    widgets: Mapping[str, str] = field(default_factory=dict)
    """Widget values (`dbutils.widgets.get`) that no `dbutils.widgets.text(...)` default gives."""
    pythonpath: tuple[Path, ...] = ()
    """Folders put first on the kernels' sys.path (where the extracted package is)."""
    timeout: int = 600
    kernel_name: str | None = None


@dataclass
class Capture:
    """What one run printed and wrote."""

    label: str
    outputs: list[tuple[int, str]] = field(default_factory=list)
    """(cell number, normalized output), in order."""
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    """Relative path under work/ -> sha256 of what the run left there, or "deleted"."""
    code_cells: int = 0
    seconds: float = 0.0
    failure: str | None = None


@dataclass
class Comparison:
    original: Capture
    others: list[Capture]
    differences: list[str]

    @property
    def ok(self) -> bool:
        return not self.differences

    def text(self) -> str:
        lines = [
            f"{c.label}: "
            + (f"failed: {c.failure}" if c.failure else f"ran {c.code_cells} code cells in {c.seconds:.1f} s")
            for c in [self.original, *self.others]
        ]
        if self.ok:
            outputs, tables, files = len(self.original.outputs), len(self.original.tables), len(self.original.files)
            lines.append(f"the same: {outputs} outputs, {tables} tables, {files} files written compared")
        else:
            lines.append("differs:")
            lines += [f"  {difference}" for difference in self.differences]
        return "\n".join(lines) + "\n"


def check_pair(original: Path, other: Path) -> None:
    """Usage errors of a comparison, before any kernel starts."""
    for path in (original, other):
        if not path.is_file():
            raise ConfigError(f"no such notebook: {path}")
        if path.suffix != ".ipynb" and not is_databricks_source(path):
            raise ConfigError(f"{path} is not a notebook (.ipynb or Databricks source .py)")
    if original.suffix != other.suffix:
        raise ConfigError(
            f"{original} and {other} are notebooks of two formats ({original.suffix}, {other.suffix}): "
            "compare a notebook with its rewrite in the same format"
        )


def compare_runs(original: Path, other: Path, options: RunOptions, *, job: Path | None = None) -> Comparison:
    """Run `original`, `other` (and the `job` file, if given) in fresh kernels and compare them."""
    check_pair(original, other)
    if options.setup is not None and not options.setup.is_file():
        raise ConfigError(f"--setup {options.setup}: no such file")
    if job is not None and not job.is_file():
        raise ConfigError(f"no such job: {job}")
    first = capture(original, options, label=f"original {original.name}")
    if first.failure is not None:
        return Comparison(first, [], [f"the original failed, so nothing was compared: {first.failure}"])
    second = capture(other, options, label=f"rewritten {other.name}")
    found = differences(first, second)
    others = [second]
    if job is not None:
        third = capture(original, options, label=f"job {job.name}", job=job)
        found += differences(first, third, outputs=False)
        others.append(third)
    return Comparison(first, others, found)


def capture(path: Path, options: RunOptions, *, label: str, job: Path | None = None) -> Capture:
    """Run the notebook at `path` (or, with `job`, that job file instead, in a copy of the notebook's
    folder) in a fresh kernel with a scratch folder of its own."""
    nbformat = import_nbformat()
    cells = [_job_cell(job, options.widgets)] if job is not None else notebook_cells(path)
    scratch = Path(tempfile.mkdtemp(prefix="spark-ml-run-"))
    try:
        work, warehouse, lakehouse = scratch / "work", scratch / "warehouse", scratch / "lakehouse"
        _copy_folder(path.resolve().parent, work)
        lakehouse.mkdir()
        before = _hashes(work, [])
        head = [_preamble(warehouse, lakehouse, options.widgets)]
        if options.setup is not None:
            head.append(options.setup.read_text(encoding="utf-8"))
        tail = f"from spark_ml.io.notebook_kernel import print_snapshot\nprint_snapshot({_roots(work, lakehouse)!r})"
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(s) for s in head] + cells + [nbformat.v4.new_code_cell(tail)]
        executed = execute(
            nb,
            label=str(path),
            cwd=work,
            timeout=options.timeout,
            kernel_name=options.kernel_name,
            env=_kernel_env(options.pythonpath, lakehouse),
        )
        own = nb.cells[len(head) : len(head) + len(cells)]
        result = Capture(label, code_cells=sum(c.get("cell_type") == "code" for c in own), seconds=executed.seconds)
        if executed.failed_cell is not None:
            result.failure = _where(executed.failed_cell, len(head), len(cells), options.setup) + f": {executed.error}"
            return result
        result.outputs = [
            (number, text)
            for number, cell in enumerate(own, 1)
            if cell.get("cell_type") == "code"
            for text in normalized_outputs(cell)
        ]
        result.tables = _snapshot_of(nb.cells[-1])
        folders = [key.split(" folder work/", 1)[1] for key in result.tables if " folder work/" in key]
        after = _hashes(work, folders)
        changed = {p: h for p, h in after.items() if before.get(p) != h}
        deleted = {p: "deleted" for p in before if p not in after and not _inside(p, folders)}
        result.files = {**changed, **deleted}
        return result
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def notebook_cells(path: Path) -> list[Any]:
    """The cells of a .ipynb, or of a Databricks source notebook converted to Jupyter cells (same
    numbering: markdown cells kept)."""
    nbformat = import_nbformat()
    if path.suffix == ".ipynb":
        return list(nbformat.read(str(path), as_version=4).cells)
    cells = []
    for cell in read_databricks(path).cells:
        if cell.kind == "markdown":
            head, _, rest = cell.raw.partition("\n")
            cells.append(nbformat.v4.new_markdown_cell(rest if head.strip().startswith("%md") else cell.raw))
        elif cell.language == "python":
            cells.append(nbformat.v4.new_code_cell(cell.raw))
        elif cell.language in ("sql", "sh"):
            head, _, rest = cell.raw.partition("\n")
            argument = head.strip().split(maxsplit=1)[1:]
            cells.append(nbformat.v4.new_code_cell("\n".join([f"%%{cell.language}", *argument, rest])))
        else:
            raise ConfigError(
                f"{path}: cell {cell.number} is a {cell.language} cell: a compared run executes Python, "
                "%sql and %sh cells only"
            )
    return cells


def differences(original: Capture, other: Capture, *, outputs: bool = True) -> list[str]:
    """Each difference of `other` from `original`, named: the first differing output, then each
    table and file."""
    if other.failure is not None:
        return [f"{other.label} failed: {other.failure}"]
    found = []
    if outputs and (output := _output_difference(original, other)) is not None:
        found.append(output)
    for name in sorted(original.tables.keys() | other.tables.keys()):
        if (table := _table_difference(name, original, other)) is not None:
            found.append(table)
    for name in sorted(original.files.keys() | other.files.keys()):
        before, after = original.files.get(name), other.files.get(name)
        if before != after:
            found.append(f"file {name}: {_file_state(before)} by the original, {_file_state(after)} by {other.label}")
    return found


def _output_difference(original: Capture, other: Capture) -> str | None:
    for index, (old, new) in enumerate(zip(original.outputs, other.outputs, strict=False), 1):
        if old[1] != new[1]:
            old_line, new_line = _first_differing_line(old[1], new[1])
            return (
                f"output {index} differs: the original's cell {old[0]} shows {old_line!r}, "
                f"{other.label}'s cell {new[0]} shows {new_line!r}"
            )
    shared = min(len(original.outputs), len(other.outputs))
    if len(original.outputs) > shared:
        cell, text = original.outputs[shared]
        return f"{other.label} shows nothing after output {shared}; the original's cell {cell} shows {_head(text)!r}"
    if len(other.outputs) > shared:
        cell, text = other.outputs[shared]
        return f"the original shows nothing after output {shared}; {other.label}'s cell {cell} shows {_head(text)!r}"
    return None


def _first_differing_line(old: str, new: str) -> tuple[str, str]:
    old_lines, new_lines = old.splitlines(), new.splitlines()
    for before, after in zip(old_lines, new_lines, strict=False):
        if before != after:
            return before[:160], after[:160]
    shared = min(len(old_lines), len(new_lines))
    return _line(old_lines, shared), _line(new_lines, shared)


def _line(lines: list[str], index: int) -> str:
    return lines[index][:160] if len(lines) > index else "<no more lines>"


def _head(text: str) -> str:
    return text.splitlines()[0][:160] if text else ""


def _table_difference(name: str, original: Capture, other: Capture) -> str | None:
    old, new = original.tables.get(name), other.tables.get(name)
    if old is None or new is None:
        return f"{name}: written by {'the original' if new is None else other.label} only"
    if old["schema"] != new["schema"]:
        return f"{name}: schema {old['schema']} in the original, {new['schema']} in {other.label}"
    if old["rows"] != new["rows"]:
        return f"{name}: {old['rows']} rows in the original, {new['rows']} in {other.label}"
    if old["sample"] is not None and new["sample"] is not None and old["sample"] != new["sample"]:
        only_old = Counter(old["sample"]) - Counter(new["sample"])
        only_new = Counter(new["sample"]) - Counter(old["sample"])
        return (
            f"{name}: row {min(only_old)} in the original only, row {min(only_new)} in {other.label} only "
            f"({sum(only_old.values())} rows differ)"
        )
    if old["checksum"] != new["checksum"]:
        return f"{name}: {old['rows']} rows in both, but not the same rows (order-independent checksums differ)"
    return None


def _file_state(digest: str | None) -> str:
    return {None: "not written", "deleted": "deleted"}.get(digest, f"written (sha256 {str(digest)[:12]})")


def _preamble(warehouse: Path, lakehouse: Path, widgets: Mapping[str, str]) -> str:
    return (
        "from spark_ml.io.notebook_kernel import start as _spark_ml_start\n"
        f"_spark_ml_start(globals(), warehouse={str(warehouse)!r}, lakehouse={str(lakehouse)!r}, "
        f"widgets={dict(widgets)!r})\n"
        "del _spark_ml_start"
    )


def _job_cell(job: Path, widgets: Mapping[str, str]) -> Any:
    """A cell that runs the job file as `python JOB --name VALUE ...` would, in this kernel (whose
    session the job's `SparkSession.builder.getOrCreate()` finds)."""
    nbformat = import_nbformat()
    options = set(_JOB_OPTION.findall(job.read_text(encoding="utf-8")))
    argv = [str(job)] + [word for name, value in widgets.items() if name in options for word in (f"--{name}", value)]
    source = (
        "import runpy, sys\n"
        f"sys.argv = {argv!r}\n"
        "try:\n"
        f"    runpy.run_path({str(job)!r}, run_name='__main__')\n"
        "except SystemExit as exc:\n"
        "    if exc.code not in (None, 0):\n"
        "        raise RuntimeError(f'the job exited with {exc.code}') from None"
    )
    return nbformat.v4.new_code_cell(source)


def _roots(work: Path, lakehouse: Path) -> dict[str, str]:
    return {"work": str(work), "lakehouse": str(lakehouse)}


def _kernel_env(pythonpath: tuple[Path, ...], lakehouse: Path) -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(p.resolve()) for p in pythonpath] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths)
    env["SPARK_ML_LAKEHOUSE"] = str(lakehouse)
    return env


def _where(failed: int, head: int, cells: int, setup: Path | None) -> str:
    if failed == 1:
        return "the kernel's set-up (a local Spark session with Delta) failed"
    if failed <= head:
        return f"the --setup script {setup} failed"
    if failed > head + cells:
        return "listing the tables it wrote failed"
    return f"cell {failed - head} failed"


def _snapshot_of(cell: Any) -> dict[str, dict[str, Any]]:
    text = "".join(
        str(o.get("text", ""))
        for o in cell.get("outputs", [])
        if o.get("output_type") == "stream" and o.get("name") == "stdout"
    )
    _, marker, rest = text.partition(SNAPSHOT_MARKER)
    if not marker:
        raise ConfigError("the kernel printed no table snapshot: is spark_ml importable there?")
    data: dict[str, dict[str, Any]] = json.loads(rest.strip().splitlines()[0])
    return data


def _copy_folder(source: Path, target: Path) -> None:
    total = 0

    def ignore(folder: str, names: list[str]) -> list[str]:
        nonlocal total
        skipped = [n for n in names if n.startswith(".") or n in SKIPPED_NAMES]
        for name in names:
            path = Path(folder, name)
            if name not in skipped and path.is_file() and not path.is_symlink():
                total += path.stat().st_size
        if total > MAX_COPY_BYTES:
            raise ConfigError(
                f"{source} holds more than {MAX_COPY_BYTES // 2**20} MB: a compared run works in a copy of the "
                "notebook's folder, so move the notebook into a folder of its own"
            )
        return skipped

    shutil.copytree(source, target, symlinks=True, ignore=ignore)


def _hashes(root: Path, table_folders: list[str]) -> dict[str, str]:
    found = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in SKIPPED_NAMES]
        for name in files:
            path = Path(folder, name)
            relative = path.relative_to(root).as_posix()
            if name.startswith(".") or name in SKIPPED_NAMES or _inside(relative, table_folders) or path.is_symlink():
                continue
            found[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _inside(relative: str, folders: list[str]) -> bool:
    return any(relative == f or relative.startswith(f"{f}/") for f in folders)
