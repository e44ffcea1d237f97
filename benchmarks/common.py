"""Timing and memory sampling shared by the benchmarks."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "benchmarks" / "work"
MAIN_LAKEHOUSE = REPO / "lakehouse"


@dataclass
class Peak:
    """Peak resident memory (MB) of this Python process and of its child JVM, sampled every 0.2 s."""

    python_mb: float = 0.0
    jvm_mb: float = 0.0
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)

    def sample(self) -> None:
        me = psutil.Process(os.getpid())
        while not self._stop.is_set():
            try:
                self.python_mb = max(self.python_mb, me.memory_info().rss / 2**20)
                jvm = sum(c.memory_info().rss for c in me.children(recursive=True) if "java" in c.name().lower())
                self.jvm_mb = max(self.jvm_mb, jvm / 2**20)
                self.samples += 1
            except psutil.Error:
                pass
            self._stop.wait(0.2)


@contextmanager
def peak_memory() -> Iterator[Peak]:
    peak = Peak()
    thread = threading.Thread(target=peak.sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        peak._stop.set()
        thread.join()


def replicated(flights: Any, size: int) -> Any:
    """silver.flights xN: copies get distinct natural keys (flight number + k * 10000) and keep
    carrier, origin, dest, dates and tail numbers, so joins and windows stay valid and every
    window holds N times more flights."""
    from pyspark.sql import functions as F

    copies = flights.sparkSession.range(size).withColumnRenamed("id", "__copy")
    return (
        flights.crossJoin(F.broadcast(copies))
        .withColumn("flight", F.col("flight") + F.col("__copy").cast("int") * 10000)
        .drop("__copy")
    )


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def median_of(fn: Callable[[], Any], repeats: int, warmup: int = 0) -> tuple[float, list[float]]:
    """The median wall time of `repeats` calls after `warmup` untimed ones, and every timed time."""
    for _ in range(warmup):
        fn()
    times = [timed(fn)[0] for _ in range(repeats)]
    return statistics.median(times), times


def json_line_of(what: str, *module_args: str) -> dict[str, Any]:
    """Run `python -m <module_args>` in a fresh process from the repo and return the last JSON line
    it printed; a failure raises naming `what` with the end of its stderr."""
    out = subprocess.run([sys.executable, "-m", *module_args], cwd=REPO, capture_output=True, text=True, check=False)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"{what} failed:\n{out.stderr[-3000:]}")
    row: dict[str, Any] = json.loads(lines[-1])
    return row
