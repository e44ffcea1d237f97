"""NB101-NB103: what the saved execution counts say about how a Jupyter notebook was run.

Only Jupyter notebooks save execution counts; a notebook saved with cleared outputs (nbstripout) or a
Databricks source-format notebook has none, and these rules stay silent on it. Empty code cells are
ignored (Jupyter does not number them).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import pairwise

from spark_ml.notebook.analysis import Context
from spark_ml.notebook.model import Cell, Hit

RESTART_FIX = "restart the kernel and run all cells top to bottom (Restart & Run All), then save"


def check_execution(ctx: Context) -> Iterator[Hit]:
    cells = [c for c in ctx.notebook.code_cells if c.raw.strip()]
    executed = [(c.number, c.execution_count) for c in cells if c.execution_count is not None]
    if not executed:
        return
    yield from _out_of_order(executed)
    yield from _skipped(cells)
    yield from _reruns(executed)


def _out_of_order(executed: list[tuple[int, int]]) -> Iterator[Hit]:
    order = ", ".join(str(count) for _, count in executed)
    for (above, above_count), (cell, count) in pairwise(executed):
        if count <= above_count:
            yield Hit(
                "NB101",
                cell,
                1,
                f"cell {cell} has execution count {count} but cell {above} above it has {above_count}: "
                f"cells ran out of order (saved counts top to bottom: {order})",
                RESTART_FIX,
            )


def _skipped(cells: Sequence[Cell]) -> Iterator[Hit]:
    for i, cell in enumerate(cells):
        if cell.execution_count is not None:
            continue
        below = [c.number for c in cells[i + 1 :] if c.execution_count is not None]
        if below:
            shown = ", ".join(str(n) for n in below[:5]) + (", ..." if len(below) > 5 else "")
            yield Hit(
                "NB102",
                cell.number,
                1,
                f"cell {cell.number} never ran, but cells below it did (cells {shown}): their saved state "
                f"does not include what cell {cell.number} does",
                f"{RESTART_FIX}; delete cell {cell.number} if it is not needed",
            )


def _reruns(executed: list[tuple[int, int]]) -> Iterator[Hit]:
    counts = sorted(count for _, count in executed)
    present = set(counts)
    missing = [n for n in range(1, counts[-1] + 1) if n not in present]
    if not missing:
        return
    by_count = {count: cell for cell, count in executed}
    reported: set[int] = set()
    for n in missing:
        next_count = min(c for c in counts if c > n)
        cell = by_count[next_count]
        if cell in reported:
            continue
        reported.add(cell)
        gap = [m for m in missing if m < next_count and by_count[min(c for c in counts if c > m)] == cell]
        runs = "run" if len(gap) == 1 else "runs"
        yield Hit(
            "NB103",
            cell,
            1,
            f"execution counts skip {_numbers(gap)} before cell {cell} (count {next_count}): {len(gap)} {runs} "
            "are missing from the saved notebook, so a cell ran more than once (or a deleted cell ran)",
            RESTART_FIX,
        )


def _numbers(numbers: list[int]) -> str:
    if len(numbers) > 1 and numbers[-1] - numbers[0] == len(numbers) - 1:
        return f"{numbers[0]}-{numbers[-1]}"
    return ", ".join(str(n) for n in numbers)
