"""Two real processes writing one Delta table at the same time: different partitions both land;
the same partition never loses an update (the conflict is retried with backoff, a bounded number
of times, then fails with a clear message)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from spark_ml.config import load_settings
from spark_ml.io.delta import Lakehouse
from tests.helpers import CONF, REPO, overrides_for
from tests.integration.concurrent_writer import DECLARE, TABLE

pytestmark = [pytest.mark.system, pytest.mark.slow]
ROWS = 100_000  # enough that both writes are in flight together; the barrier makes them start together
# phase 0: different months; phase 1: the same month with 5 retries; phase 2: the same month, no retry
PHASES = {"a": "2:5,1:5,1:0", "b": "3:5,1:5,1:0"}
Reports = dict[int, dict[str, dict[str, object]]]


def _wait(barrier: Path, pattern: str, count: int) -> None:
    deadline = time.time() + 240
    while len(list(barrier.glob(pattern))) < count:
        assert time.time() < deadline, f"writers did not reach {pattern}"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def raced(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> tuple[Lakehouse, Reports, list[list]]:
    """Two writer processes; before each phase both are ready, then they write at the same instant.
    Table snapshots after each phase: (month, writer) -> rows. The writers are killed when the
    fixture fails, so none outlives the test."""
    root = tmp_path_factory.mktemp("concurrency")
    lake = Lakehouse(spark, load_settings("local", CONF, overrides_for(root, DECLARE)))
    lake.write(spark.range(10).selectExpr("1 AS month", "id", "'seed' AS writer"), TABLE, mode="overwrite")
    barrier = root / "barrier"
    barrier.mkdir()
    procs = {writer: _writer(root, barrier, writer, phases) for writer, phases in PHASES.items()}
    try:
        snapshots = []
        for phase in range(3):
            _wait(barrier, f"ready-{phase}-*", 2)
            (barrier / f"go-{phase}").touch()
            _wait(barrier, f"done-{phase}-*", 2)
            rows = lake.read(TABLE).groupBy("month", "writer").count().collect()
            snapshots.append(sorted((r["month"], r["writer"], r["count"]) for r in rows))
        reports: Reports = {0: {}, 1: {}, 2: {}}
        for writer, proc in procs.items():
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err[-2000:]
            for line in out.splitlines():
                if line.startswith("{"):
                    report = json.loads(line)
                    reports[int(report["phase"])][writer] = report
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
    return lake, reports, snapshots


def _writer(root: Path, barrier: Path, writer: str, phases: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "tests.integration.concurrent_writer", "--root", str(root), "--writer", writer]
    command += ["--rows", str(ROWS), "--phases", phases, "--barrier", str(barrier)]
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
    )


def test_writers_of_different_partitions_both_succeed(raced: tuple[Lakehouse, Reports, list[list]]) -> None:
    _, reports, snapshots = raced
    assert all("version" in r for r in reports[0].values())
    assert snapshots[0] == [(1, "seed", 10), (2, "a", ROWS), (3, "b", ROWS)]


def test_writers_of_the_same_partition_never_lose_an_update(raced: tuple[Lakehouse, Reports, list[list]]) -> None:
    _, reports, snapshots = raced
    phase = reports[1]
    assert all("version" in r for r in phase.values())  # both succeeded
    assert sum(int(r["conflicts"]) for r in phase.values()) >= 1  # the race happened and was retried
    assert sorted(int(r["version"]) for r in phase.values()) == [3, 4]  # one commit after the other
    last = max(phase.values(), key=lambda r: int(r["version"]))["writer"]
    # the later commit replaced month 1 whole: no mix of writers, no partial rows, months 2 and 3 kept
    assert snapshots[1] == [(1, last, ROWS), (2, "a", ROWS), (3, "b", ROWS)]


def test_conflicts_beyond_the_retry_budget_fail_with_a_clear_message(
    raced: tuple[Lakehouse, Reports, list[list]],
) -> None:
    _, reports, snapshots = raced
    phase = reports[2]
    failed = [r for r in phase.values() if "error" in r]
    won = [r for r in phase.values() if "version" in r]
    assert (len(failed), len(won)) == (1, 1)
    assert "still conflicted with concurrent writers after 1 attempts" in str(failed[0]["error"])
    assert "nothing was committed by this run, rerun it" in str(failed[0]["error"])
    assert snapshots[2][0] == (1, won[0]["writer"], ROWS)
