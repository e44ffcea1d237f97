"""What every task shares: its context (settings, session, lakehouse, run id) and its result."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from spark_ml.config import Settings
from spark_ml.errors import EXIT_OK
from spark_ml.io.delta import Lakehouse, TableRead, TableWrite

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)


@dataclass
class TaskResult:
    """What a task did: counts, Delta versions read and written, timings, metrics."""

    task: str
    env: str
    run_id: str
    started_at: datetime
    ended_at: datetime
    duration_s: float
    reads: list[TableRead] = field(default_factory=list)
    writes: list[TableWrite] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    status: str = "success"
    exit_code: int = EXIT_OK

    def rows_written(self, table: str) -> int:
        return sum(w.rows for w in self.writes if w.table == table)

    def version_written(self, table: str) -> int | None:
        versions = [w.version for w in self.writes if w.table == table]
        return max(versions) if versions else None

    def summary(self) -> str:
        """A short table: task, env, duration, then one line per table read or written."""
        head = f"{self.task} | env {self.env} | run {self.run_id[:12]} | {self.duration_s:.1f} s | {self.status}"
        rows: list[tuple[str, str, str, str]] = []
        for r in self.reads:
            rows.append((r.table, str(r.version), "", ""))
        for w in self.writes:
            rows.append((w.table, "", f"{w.rows:,}", f"{w.version} ({w.operation.lower()})"))
        lines = [head]
        if rows:
            widths = [max(len(x[i]) for x in [*rows, _HEADER]) for i in range(4)]
            lines.append("  ".join(h.ljust(widths[i]) for i, h in enumerate(_HEADER)).rstrip())
            lines.extend("  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip() for row in rows)
        lines.extend(self.notes)
        return "\n".join(lines)


_HEADER = ("table", "version read", "rows written", "version written")


class TaskContext:
    """Settings, session and lakehouse of one task run; builds the TaskResult at the end."""

    def __init__(self, task: str, spark: SparkSession, settings: Settings, run_id: str | None = None) -> None:
        self.task = task
        self.spark = spark
        self.settings = settings
        self.lakehouse = Lakehouse(spark, settings, task=task)
        if run_id:
            self.lakehouse.run_id = run_id
        self.run_id = self.lakehouse.run_id
        self.started_at = datetime.now(timezone.utc)
        self._t0 = time.perf_counter()
        self.notes: list[str] = []
        log.info("%s: run %s started (env %s)", task, self.run_id, settings.env)

    def note(self, line: str) -> None:
        log.info("%s: %s", self.task, line)
        self.notes.append(line)

    def result(self, metrics: dict[str, Any] | None = None, exit_code: int = EXIT_OK) -> TaskResult:
        return TaskResult(
            task=self.task,
            env=self.settings.env,
            run_id=self.run_id,
            started_at=self.started_at,
            ended_at=datetime.now(timezone.utc),
            duration_s=time.perf_counter() - self._t0,
            reads=list(self.lakehouse.reads),
            writes=list(self.lakehouse.writes),
            metrics=dict(metrics or {}),
            notes=list(self.notes),
            exit_code=exit_code,
        )
