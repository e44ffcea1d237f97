"""How `make bench-cluster` judges its curve and how `make bench-io`'s overhead step splits a run."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.cluster import render, verdict
from benchmarks.common import median_of
from benchmarks.overhead import Spans
from benchmarks.run import median_run


def row(size: int, total: float, jvm: int = 2000, python: int = 400, heap: int | None = None) -> dict[str, Any]:
    steps = {"features": {"s": total / 2, "shuffle_bytes": 0}, "train": {"s": total / 4, "shuffle_bytes": 0}}
    steps["score"] = {"s": total / 4, "shuffle_bytes": 2**20}
    return {"size": size, "flights": size * 336_776, "steps": steps, "total_s": total, "shuffle_bytes": 2**20,
            "peak_jvm_mb": jvm, "peak_python_mb": python, "peak_driver_heap_mb": heap}  # fmt: skip


def test_linear_past_x4_and_flat_memory_are_met_at_the_bounds() -> None:
    rows = [row(1, 50.0), row(4, 100.0), row(16, 400.0, jvm=2200, python=440), row(64, 1600.0)]
    judged = verdict(rows)
    assert judged["time_vs_x4"] == {"x16": 4.0, "x64": 16.0}
    assert (judged["linear_met"], judged["memory_met"]) == (True, True)


@pytest.mark.parametrize(
    ("x64", "jvm", "python", "heap", "linear", "memory"),
    [
        (1601.0, 2000, 400, 300, False, True),  # slower than linear from x4
        (1000.0, 2201, 400, 300, True, False),  # the driver's JVM grew by more than 10%
        (1000.0, 2000, 441, 300, True, False),  # the driver's Python grew by more than 10%
        (1000.0, 2000, 400, 331, True, False),  # its heap used grew by more than 10% (a capped resident JVM)
    ],
)
def test_a_curve_past_a_bound_is_not_met(
    x64: float, jvm: int, python: int, heap: int, linear: bool, memory: bool
) -> None:
    judged = verdict([row(1, 50.0), row(4, 100.0, heap=300), row(64, x64, jvm=jvm, python=python, heap=heap)])
    assert (judged["linear_met"], judged["memory_met"]) == (linear, memory)


def test_without_x4_and_a_larger_size_nothing_is_judged() -> None:
    assert verdict([row(1, 50.0), row(4, 100.0)])["linear_met"] is None
    assert verdict([row(1, 50.0), row(16, 100.0)])["memory_met"] is None


def test_the_table_names_each_size_and_the_verdicts() -> None:
    rows = [row(1, 50.0), row(4, 100.0), row(16, 500.0), row(64, 2000.0, heap=712)]
    text = render({"when": "2026-12-03 08:00 UTC", "cluster": "2 workers", "sizes": rows, "verdict": verdict(rows)})
    assert "| x16 | 5,388,416 | 250.0 s | 125.0 s | 125.0 s | 500.0 s | 10.00 | 1 MiB | 2,000 / 400 MB | n/a |" in text
    x64 = "| x64 | 21,553,664 | 1000.0 s | 500.0 s | 500.0 s | 2000.0 s | 40.00 | 1 MiB | 2,000 / 400 MB | 712 MB |"
    assert x64 in text
    assert "x16 5.00 (rows 4), x64 20.00 (rows 16): at most linear NOT met" in text


def test_spans_count_an_inner_span_for_the_outer_one_only() -> None:
    now = [0.0]
    spans = Spans(clock=lambda: now[0])
    with spans.span("manifest"):
        with spans.span("history"):  # a commit lookup inside the manifest's write
            now[0] += 2.0
        now[0] += 1.0
    with spans.span("history"):
        now[0] += 0.5
    assert spans.seconds == {"history": 0.5, "model_load": 0.0, "manifest": 3.0}


def test_the_overhead_row_is_one_whole_run_of_median_process_time() -> None:
    runs = [{"process_s": 30.0, "rest_s": 9.0}, {"process_s": 10.0, "rest_s": 1.0}, {"process_s": 20.0, "rest_s": 7.0}]
    assert median_run(runs) == {"process_s": 20.0, "rest_s": 7.0, "all": runs}
    assert median_run(runs[:2])["process_s"] == 10.0  # an even count: the lower middle run, never a mix


def test_a_wrapped_function_keeps_its_result_and_errors() -> None:
    spans = Spans()

    def fails() -> None:
        raise ValueError("no such table")

    assert spans.wrap("history", lambda x: x + 1)(1) == 2
    with pytest.raises(ValueError, match="no such table"):
        spans.wrap("history", fails)()
    assert spans.depth == 0


def test_warm_up_runs_are_run_but_not_timed() -> None:
    calls: list[int] = []
    _, times = median_of(lambda: calls.append(1), 3, warmup=1)
    assert (len(calls), len(times)) == (4, 3)
