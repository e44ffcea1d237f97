"""What every task shares: its context (settings, session, lakehouse, run id) and its result.

A task runs inside `with TaskContext(...) as ctx:`; `ctx.result(...)` ends a successful run and
records its manifest, and an exception leaving the block records a failed manifest first.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Any

from spark_ml.config import Check, ReferentialCheck, Settings, quarantine_table, redact
from spark_ml.errors import EXIT_OK, DataLossError, SparkMLError, error_summary
from spark_ml.io.delta import Lakehouse, TableRead, TableWrite
from spark_ml.logs import text_table
from spark_ml.provenance import manifest, runs
from spark_ml.quality.checks import (
    GUARD_FAILED,
    QUARANTINED_BY,
    CheckResult,
    evaluate,
    good_rows,
    guardable,
    guarded,
    has_rows,
    min_rows_needed,
    passed,
    prepare,
    quarantined_rows,
    raise_on_errors,
)
from spark_ml.transforms.frames import one_task_per_value

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

log = logging.getLogger(__name__)

QUALITY_SCHEMA = (
    "run_id STRING, task STRING, table_name STRING, check_name STRING, kind STRING, severity STRING, "
    "status STRING, failed_rows BIGINT, total_rows BIGINT, details STRING"
)


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
    quality: list[CheckResult] = field(default_factory=list)
    status: str = "success"
    exit_code: int = EXIT_OK
    manifest_version: int | None = None
    list_tables: bool = True  # False: the summary counts the tables instead of listing them

    def rows_written(self, table: str) -> int:
        return sum(w.rows for w in self.writes if w.table == table)

    def version_written(self, table: str) -> int | None:
        versions = [w.version for w in self.writes if w.table == table]
        return max(versions) if versions else None

    def summary(self) -> str:
        """A short table: task, env, duration, then one line per table read or written."""
        head = f"{self.task} | env {self.env} | run {self.run_id[:12]} | {self.duration_s:.1f} s | {self.status}"
        if not self.list_tables:
            written = len({w.table for w in self.writes})
            return "\n".join(
                [head, f"{written} tables written (rows and Delta versions: the report, spark-ml lineage)", *self.notes]
            )
        rows: list[tuple[str, str, str, str]] = []
        for table in dict.fromkeys([*(r.table for r in self.reads), *(w.table for w in self.writes)]):
            read = sorted({r.version for r in self.reads if r.table == table})
            writes = [w for w in self.writes if w.table == table]
            rows.append(
                (
                    table,
                    ", ".join(str(v) for v in read),
                    f"{sum(w.rows for w in writes):,}" if writes else "",
                    ", ".join(str(w.version) for w in writes),
                )
            )
        lines = [head]
        if rows:
            lines.extend(text_table(rows, _HEADER))
        lines.extend(self.notes)
        return "\n".join(lines)


_HEADER = ("table", "version read", "rows written", "version written")


def _laid_out(frame: DataFrame, files_by: Sequence[str], values: Sequence[Sequence[Any]] = ()) -> DataFrame:
    """`frame` repartitioned by `files_by` (one task, so one file, per value; with the values
    known, each in a task of its own: `transforms.frames.one_task_per_value`), or as it is."""
    return one_task_per_value(frame, files_by, values) if files_by else frame


class TaskContext:
    """Settings, session and lakehouse of one task run; builds the TaskResult at the end."""

    def __init__(self, task: str, spark: SparkSession | None, settings: Settings, run_id: str | None = None) -> None:
        """`spark` may be None for a task that runs without Spark (it then records no manifest)."""
        self.task = task
        self._spark = spark
        self.settings = settings
        self.run_id = run_id or uuid.uuid4().hex
        self._lakehouse: Lakehouse | None = None
        self.started_at = datetime.now(timezone.utc)
        self._t0 = time.perf_counter()
        self.notes: list[str] = []
        self.quality: list[CheckResult] = []
        self.tags: dict[str, str] = {}
        self.landing_files: list[manifest.LandingFileRecord] = []
        self.model: tuple[str, str] | None = None  # (registered name, version) a run trained or used
        self.mlflow_run_id: str | None = None
        self.finished = False
        log.info("%s: run %s started (env %s)", task, self.run_id, settings.env)

    @property
    def spark(self) -> SparkSession:
        if self._spark is None:
            raise SparkMLError(f"task {self.task} was started without a Spark session")
        return self._spark

    @property
    def lakehouse(self) -> Lakehouse:
        """The run's tables (every read and write recorded for the summary and the manifest)."""
        if self._lakehouse is None:
            self._lakehouse = Lakehouse(self.spark, self.settings, run_id=self.run_id, task=self.task)
        return self._lakehouse

    def _tables(self) -> tuple[list[TableRead], list[TableWrite]]:
        if self._lakehouse is None:
            return [], []
        return list(self._lakehouse.reads), list(self._lakehouse.writes)

    def __enter__(self) -> TaskContext:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc is not None and not self.finished:
            self.record_failure(exc)

    def note(self, line: str) -> None:
        log.info("%s: %s", self.task, line)
        self.notes.append(line)

    def include(self, result: TaskResult) -> None:
        """Count another run's reads and writes as this run's too (the pipeline and its steps)."""
        self.lakehouse.reads.extend(result.reads)
        self.lakehouse.writes.extend(result.writes)

    def checked_write(
        self,
        df: DataFrame,
        table: str,
        *,
        mode: str = "overwrite",
        where: Column | None = None,
        files_by: Sequence[str] = (),
        file_values: Sequence[Sequence[Any]] = (),
    ) -> TableWrite:
        """Run the table's configured quality checks on `df` (one pass over it), record the results,
        fail before writing anything on a failing check, else write the good rows to `table` and the
        rows a quarantine check rejects to `<table>_quarantine` (one commit each, same mode and
        filter). Every row is written once: rows in = rows written + rows quarantined. `files_by`:
        the rows are repartitioned by these columns just before the write (one file per value);
        `file_values`: the values of `files_by` the rows hold, when the caller knows them (each is
        then written by a task of its own, so the tasks are balanced over the cores).

        When every check is an error without a threshold, the checks run inside the write's own
        pass (`quality.checks.guarded`; min_rows first, by `quality.checks.has_rows` on `df` before
        its repartition): one failing row fails the job, which commits nothing, and the failures are
        then counted as below."""
        checks = self.settings.quality.get(table, ())
        if not checks:
            return self.lakehouse.write(_laid_out(df, files_by, file_values), table, mode=mode, where=where)
        refs = {c.ref_table: self.lakehouse.read(c.ref_table) for c in checks if isinstance(c, ReferentialCheck)}
        if guardable(checks):
            written = self._guarded_write(df, table, checks, refs, mode, where, files_by, file_values)
            if written is not None:
                return written
        prepared = prepare(_laid_out(df, files_by, file_values), table, checks, refs).persist()
        try:
            results = evaluate(prepared, table, checks)
            self.record_quality(results)
            raise_on_errors(results)
            if not any(c.severity == "quarantine" for c in checks):
                return self.lakehouse.write(prepared.select(*df.columns), table, mode=mode, where=where)
            return self._split_write(prepared, df.columns, table, results[0].total, mode, where)
        finally:
            prepared.unpersist()

    def _guarded_write(
        self,
        df: DataFrame,
        table: str,
        checks: Sequence[Check],
        refs: dict[str, DataFrame],
        mode: str,
        where: Column | None,
        files_by: Sequence[str],
        file_values: Sequence[Sequence[Any]],
    ) -> TableWrite | None:
        """The write with its checks in its own pass; None, with nothing committed, when a check fails.
        The min_rows probe reads `df` before its layout (neither a limit nor an aggregate passes a
        repartition: the probe would shuffle every row)."""
        if not has_rows(df, min_rows_needed(checks)):
            return None
        try:
            frame = guarded(_laid_out(df, files_by, file_values), table, checks, refs)
            written = self.lakehouse.write(frame, table, mode=mode, where=where)
        except Exception as exc:
            if GUARD_FAILED not in str(exc):
                raise
            log.info("%s: a row failed a data-quality check during the write (nothing committed)", table)
            return None
        self.record_quality(passed(table, checks, written.rows))
        return written

    def _split_write(
        self, prepared: DataFrame, columns: list[str], table: str, total: int, mode: str, where: Column | None
    ) -> TableWrite:
        from pyspark.sql import functions as F

        bad = quarantined_rows(prepared).select(
            *columns, QUARANTINED_BY, F.lit(self.run_id).alias("run_id"), F.lit(self.started_at).alias("quarantined_at")
        )
        set_aside = self.lakehouse.write(bad, quarantine_table(table), mode=mode, where=where)
        written = self.lakehouse.write(good_rows(prepared).select(*columns), table, mode=mode, where=where)
        if written.rows + set_aside.rows != total:
            raise DataLossError(
                f"{table}: {total:,} rows checked, but {written.rows:,} written and {set_aside.rows:,} quarantined"
            )
        if set_aside.rows:
            self.note(f"quality {table}: {set_aside.rows:,} rows quarantined to {quarantine_table(table)}")
        return written

    def record_quality(self, results: list[CheckResult]) -> None:
        """Append check results to the data-quality table and to the summary."""
        from pyspark.sql import functions as F

        if not results:
            return
        self.quality.extend(results)
        rows = [
            (self.run_id, self.task, r.table, r.check, r.kind, r.severity, r.status, r.failed, r.total, r.details)
            for r in results
        ]
        frame = self.spark.createDataFrame(rows, QUALITY_SCHEMA).withColumn("checked_at", F.lit(self.started_at))
        self.lakehouse.write(frame, self.settings.ops.quality_table, mode="append")
        for r in results:
            if r.status != "pass":
                self.note(f"quality {r.line()}")
        passed = sum(1 for r in results if r.status == "pass")
        self.note(f"quality {results[0].table}: {passed} of {len(results)} checks pass")

    def result(
        self, metrics: dict[str, Any] | None = None, exit_code: int = EXIT_OK, list_tables: bool = True
    ) -> TaskResult:
        """The run's TaskResult; its manifest is appended to the runs table (one Delta commit)."""
        result = TaskResult(
            task=self.task,
            env=self.settings.env,
            run_id=self.run_id,
            started_at=self.started_at,
            ended_at=datetime.now(timezone.utc),
            duration_s=time.perf_counter() - self._t0,
            reads=self._tables()[0],
            writes=self._tables()[1],
            metrics=dict(metrics or {}),
            notes=list(self.notes),
            quality=list(self.quality),
            exit_code=exit_code,
            list_tables=list_tables,
        )
        self.finished = True
        result.manifest_version = self._record("success", result.ended_at, result.metrics, exit_code, None)
        return result

    def record_failure(self, exc: BaseException) -> int | None:
        """Append a `failed` manifest with the error's first line (secrets redacted)."""
        self.finished = True
        error = redact(error_summary(exc), self.settings.secret_values())
        return self._record("failed", datetime.now(timezone.utc), {}, getattr(exc, "exit_code", 1), error)

    def _record(
        self, status: str, ended_at: datetime, metrics: dict[str, Any], exit_code: int, error: str | None
    ) -> int | None:
        """Write this run's manifest; a failure to record is logged, never raised (the run's own
        outputs are committed by then)."""
        outcome = manifest.Outcome(
            run_id=self.run_id,
            task=self.task,
            status=status,
            started_at=self.started_at,
            ended_at=ended_at,
            reads=self._tables()[0],
            writes=self._tables()[1],
            metrics=metrics,
            tags=dict(self.tags),
            error=error,
            exit_code=exit_code,
            landing_files=list(self.landing_files),
            model_name=self.model[0] if self.model else None,
            model_version=self.model[1] if self.model else None,
            mlflow_run_id=self.mlflow_run_id,
        )
        if self._spark is None:
            log.info("%s: run %s had no Spark session: no manifest recorded", self.task, self.run_id)
            return None
        try:
            from dataclasses import replace

            from spark_ml.provenance.compute import describe

            outcome = replace(outcome, compute=describe(self.spark, self.settings.spark.remote))
            record = manifest.build(self.settings, outcome)
            written = runs.write(self.spark, self.settings, record)
            runs.log_to_mlflow(self.settings, record)
        except Exception as exc:
            log.warning(
                "%s: run %s: could not record its manifest in %s: %s",
                self.task,
                self.run_id,
                self.settings.ops.runs_table,
                exc,
            )
            return None
        log.info("%s: manifest recorded in %s version %d", self.task, self.settings.ops.runs_table, written.version)
        return written.version
