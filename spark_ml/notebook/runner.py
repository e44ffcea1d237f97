"""`notebook run`: execute a Jupyter notebook top to bottom in a fresh kernel (nbclient), optionally
comparing the new outputs with the saved ones.

The file is never modified. The kernel starts in the notebook's folder. `--compare` compares code
cell outputs after normalizing what changes from run to run: execution counts, output metadata,
stderr, ANSI colours, memory addresses (`0x7f...`), ISO timestamps, UUIDs, %time/%timeit timings;
images and other binary outputs are compared by type only. A cell tagged `nbval-ignore-output`
(nbval's tag) is not compared; a cell tagged `raises-exception` may fail (nbclient's tag).
"""

from __future__ import annotations

import copy
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spark_ml.errors import ConfigError, first_line
from spark_ml.notebook.readers import NotebookReadError, import_nbformat, is_databricks_source

TEXT_MIMES = frozenset({"text/plain", "text/html", "text/markdown", "text/latex", "application/json"})
IGNORE_OUTPUT_TAG = "nbval-ignore-output"
_VOLATILE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\x1b\[[0-9;]*[A-Za-z]"), ""),
    (re.compile(r"\b0x[0-9a-fA-F]{4,}\b"), "0x..."),
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?"), "<timestamp>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (re.compile(r"(?m)^(CPU times|Wall time):.*$"), r"\1: <timing>"),
    (re.compile(r"(?m)^.*\bper loop \(mean ± std\. dev\..*$"), "<timing>"),
    (re.compile(r"[ \t]+(?=\n|$)"), ""),
)


@dataclass(frozen=True)
class RunResult:
    path: str
    code_cells: int
    seconds: float
    failed_cell: int | None = None
    error: str | None = None
    differing_cell: int | None = None
    difference: str | None = None
    outputs: tuple[str, ...] = ()
    """What each code cell printed (stdout) and the text form of its result, top to bottom."""

    @property
    def ok(self) -> bool:
        return self.failed_cell is None and self.error is None and self.differing_cell is None

    def text(self) -> str:
        if self.failed_cell is not None or self.error is not None:
            where = f"cell {self.failed_cell} failed" if self.failed_cell is not None else "failed"
            return f"{self.path}: {where}: {self.error}\n"
        ran = f"ran {self.code_cells} code cells top to bottom in {self.seconds:.1f} s"
        if self.differing_cell is not None:
            differs = f"outputs differ from the saved ones at cell {self.differing_cell}: {self.difference}"
            return f"{self.path}: {ran}, but {differs}\n"
        return f"{self.path}: {ran}: ok\n"


def run_notebook(path: Path, *, compare: bool = False, timeout: int = 600, kernel_name: str | None = None) -> RunResult:
    """Execute `path`; a failing cell or differing outputs are in the result, not raised."""
    if not path.is_file():
        raise ConfigError(f"no such file: {path}")
    if is_databricks_source(path):
        raise ConfigError(f"{path} is a Databricks source notebook: notebook run executes Jupyter .ipynb files")
    if path.suffix != ".ipynb":
        raise ConfigError(f"{path} is not a Jupyter notebook (.ipynb)")
    nbformat = import_nbformat()
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:  # NotJSONError, ValueError...
        raise NotebookReadError(f"{path} is not a readable Jupyter notebook: {exc}") from exc
    saved = copy.deepcopy(nb)
    executed = execute(nb, label=str(path), cwd=path.resolve().parent, timeout=timeout, kernel_name=kernel_name)
    code_cells = sum(c.get("cell_type") == "code" for c in nb.cells)
    if executed.failed_cell is not None:
        return RunResult(str(path), code_cells, executed.seconds, executed.failed_cell, executed.error)
    seconds = executed.seconds
    shown = tuple(_text_of(c) for c in nb.cells if c.get("cell_type") == "code")
    if compare:
        found = first_difference(saved.cells, nb.cells)
        if found is not None:
            return RunResult(
                str(path), code_cells, seconds, differing_cell=found[0], difference=found[1], outputs=shown
            )
    return RunResult(str(path), code_cells, seconds, outputs=shown)


@dataclass(frozen=True)
class Executed:
    seconds: float
    failed_cell: int | None = None
    """1-based position in the executed notebook's cells (markdown included) of the cell that failed."""
    error: str | None = None


def execute(
    nb: Any,
    *,
    label: str,
    cwd: Path,
    timeout: int,
    kernel_name: str | None = None,
    env: dict[str, str] | None = None,
) -> Executed:
    """Run the cells of `nb` (an nbformat notebook, updated in place with the outputs) in a fresh
    kernel started in `cwd`, with `env` as the kernel's environment (default: this process's). A
    failing cell is in the result; a missing kernel is a ConfigError naming `label`."""
    try:
        from jupyter_client.kernelspec import NoSuchKernel
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    except ImportError as exc:
        raise ConfigError("notebook run needs nbclient and ipykernel: pip install 'spark-ml[notebook]'") from exc
    current: dict[str, int] = {}

    def on_cell_start(cell: Any, cell_index: int) -> None:
        current["index"] = cell_index

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel_name or "",
        resources={"metadata": {"path": str(cwd)}},
        on_cell_start=on_cell_start,
    )
    started = time.perf_counter()
    try:
        client.execute(**({"env": env} if env is not None else {}))
    except NoSuchKernel as exc:
        raise ConfigError(
            f"no Jupyter kernel named {exc.name!r} for {label}: pass --kernel NAME, or install one with "
            "python -m ipykernel install --sys-prefix"
        ) from exc
    except CellExecutionError as exc:
        return Executed(_since(started), current.get("index", 0) + 1, f"{exc.ename}: {first_line(exc.evalue)}")
    except CellTimeoutError:
        return Executed(_since(started), current.get("index", 0) + 1, f"timed out after {timeout} s")
    except DeadKernelError as exc:
        return Executed(_since(started), current.get("index", 0) + 1, f"the kernel died: {first_line(str(exc))}")
    return Executed(_since(started))


def _text_of(cell: Any) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            parts.append(str(output.get("text", "")))
        elif "data" in output and "text/plain" in output["data"]:
            parts.append(str(output["data"]["text/plain"]))
    return "".join(parts)


def _since(started: float) -> float:
    return time.perf_counter() - started


def first_difference(saved: list[Any], executed: list[Any]) -> tuple[int, str] | None:
    """(cell number, what differs) for the first code cell whose normalized outputs differ."""
    for number, (old, new) in enumerate(zip(saved, executed, strict=False), 1):
        if old.get("cell_type") != "code" or IGNORE_OUTPUT_TAG in old.get("metadata", {}).get("tags", []):
            continue
        before, after = normalized_outputs(old), normalized_outputs(new)
        if before != after:
            return number, _describe(before, after)
    return None


def normalized_outputs(cell: Any) -> list[str]:
    out: list[str] = []
    for output in cell.get("outputs", []):
        kind = output.get("output_type")
        if kind == "stream":
            if output.get("name") == "stderr":
                continue
            text = _text(output.get("text", ""))
            if out and out[-1].startswith("stdout: "):
                out[-1] += text
            else:
                out.append(f"stdout: {text}")
        elif kind in ("execute_result", "display_data"):
            data = output.get("data", {})
            parts = [
                f"{mime}: {_text(data[mime])}" if mime in TEXT_MIMES else f"{mime}: <binary>" for mime in sorted(data)
            ]
            out.append("\n".join(parts))
        elif kind == "error":
            out.append(f"error: {output.get('ename')}: {output.get('evalue')}")
    return [normalize(text) for text in out]


def normalize(text: str) -> str:
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return text.rstrip("\n")


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    if isinstance(value, (dict, int, float)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _describe(before: list[str], after: list[str]) -> str:
    old_lines = "\n".join(before).splitlines()
    new_lines = "\n".join(after).splitlines()
    for old, new in zip(old_lines, new_lines, strict=False):
        if old != new:
            return f"saved {old[:120]!r}, now {new[:120]!r}"
    if len(old_lines) > len(new_lines):
        return f"saved {old_lines[len(new_lines)][:120]!r}, now no more output"
    return f"saved no more output, now {new_lines[len(old_lines)][:120]!r}"
