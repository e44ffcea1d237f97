"""Delta tables by logical name: versioned reads, atomic writes, conflict retries.

`Lakehouse` is the only code that reads or writes tables. Every read is pinned to an explicit Delta
version and every write reports the version it created and the rows it wrote, so a task can say
exactly what it consumed and produced. Only SQL and DataFrame APIs are used (no DeltaTable JVM
handles), so the same code runs under Spark Connect. Errors are told apart by their Spark error
condition, never by message text.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from spark_ml.config import Settings, TableRef
from spark_ml.errors import ConcurrentWriteError, SparkMLError, TableNotFoundError, has_condition

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

log = logging.getLogger(__name__)

# Delta's optimistic-concurrency conflicts. In a classic session delta.exceptions raises one Python
# class per conflict (they share no base class); under Spark Connect only the condition is known.
CONFLICTS = frozenset(
    {
        "DELTA_CONCURRENT_APPEND",
        "DELTA_CONCURRENT_DELETE_READ",
        "DELTA_CONCURRENT_DELETE_DELETE",
        "DELTA_CONCURRENT_TRANSACTION",
        "DELTA_CONCURRENT_WRITE",
        "DELTA_METADATA_CHANGED",
        "DELTA_PROTOCOL_CHANGED",
    }
)
# A table created by another writer between our existence check and our create.
ALREADY_EXISTS = frozenset({"TABLE_OR_VIEW_ALREADY_EXISTS", "DELTA_PATH_EXISTS", "DELTA_TABLE_ALREADY_EXISTS"})
MISSING = frozenset(
    {
        "TABLE_OR_VIEW_NOT_FOUND",
        "DELTA_MISSING_DELTA_TABLE",
        "DELTA_TABLE_NOT_FOUND",
        "DELTA_PATH_DOES_NOT_EXIST",
        "PATH_NOT_FOUND",
        "DELTA_TABLE_ONLY_OPERATION",
    }
)
LAST_COMMIT = "spark.databricks.delta.lastCommitVersionInSession"
FALLBACK_COMMITS = 20


def delta_conflict_types() -> tuple[type[BaseException], ...]:
    """The concrete Delta conflict exception classes of this environment (importing
    delta.exceptions also installs Delta's exception conversion in a classic session)."""
    try:
        from delta import exceptions as dx
    except ImportError:
        return ()
    names = (
        "ConcurrentAppendException",
        "ConcurrentDeleteReadException",
        "ConcurrentDeleteDeleteException",
        "ConcurrentTransactionException",
        "ConcurrentWriteException",
        "MetadataChangedException",
        "ProtocolChangedException",
    )
    return tuple(getattr(dx, n) for n in names if isinstance(getattr(dx, n, None), type))


def is_conflict(exc: BaseException) -> bool:
    return isinstance(exc, delta_conflict_types()) or has_condition(exc, CONFLICTS)


def is_missing_table(exc: BaseException) -> bool:
    return has_condition(exc, MISSING)


def _retryable(exc: BaseException) -> bool:
    return is_conflict(exc) or has_condition(exc, ALREADY_EXISTS)


@dataclass(frozen=True)
class TableRead:
    table: str
    version: int


@dataclass(frozen=True)
class TableWrite:
    table: str
    version: int
    rows: int
    operation: str


@dataclass
class Lakehouse:
    """Logical tables of one run; records every read and write for summaries and manifests."""

    spark: SparkSession
    settings: Settings
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    task: str = ""
    max_retries: int = 5
    backoff_seconds: float = 0.5
    reads: list[TableRead] = field(default_factory=list)
    writes: list[TableWrite] = field(default_factory=list)
    conflicts: int = 0

    def __post_init__(self) -> None:
        delta_conflict_types()

    # -- naming ---------------------------------------------------------------------------------

    def ref(self, name: str) -> TableRef:
        return self.settings.table(name)

    def location(self, name: str) -> str:
        return self.ref(name).location

    def ident(self, name: str) -> str:
        """A SQL identifier for the table: `catalog`.`schema`.`table`, or delta.`path`."""
        return self.ref(name).sql

    # -- metadata -------------------------------------------------------------------------------

    def latest_version(self, name: str) -> int | None:
        """The current version of the table, or None when it does not exist yet."""
        logged = self._logged_latest(name)
        if logged is not None:
            return logged
        try:
            rows = self.spark.sql(f"DESCRIBE HISTORY {self.ident(name)} LIMIT 1").select("version").collect()
        except Exception as exc:
            if is_missing_table(exc):
                return None
            raise
        return int(rows[0]["version"]) if rows else None

    def exists(self, name: str) -> bool:
        return self.latest_version(name) is not None

    def history(self, name: str, limit: int | None = 50) -> list[dict[str, Any]]:
        """Commits, newest first: version, timestamp, operation, parameters, userMetadata, metrics."""
        cols = ["version", "timestamp", "operation", "operationParameters", "userMetadata", "operationMetrics"]
        query = f"DESCRIBE HISTORY {self.ident(name)}" + (f" LIMIT {int(limit)}" if limit is not None else "")
        return [r.asDict() for r in self.spark.sql(query).select(*cols).collect()]

    def commit(self, name: str, version: int) -> dict[str, Any] | None:
        """The commit of `table` at `version`, None when the log no longer has it. Reads the history
        newest first, a few commits at a time (the version asked for is usually the latest)."""
        limit = 4
        while True:
            commits = self.history(name, limit=limit)
            found = [c for c in commits if int(c["version"]) == version]
            if found:
                return found[0]
            if len(commits) < limit or int(commits[-1]["version"]) < version:
                return None
            limit *= 4

    def partition_columns(self, name: str) -> list[str]:
        row = self.spark.sql(f"DESCRIBE DETAIL {self.ident(name)}").select("partitionColumns").collect()[0]
        return list(row["partitionColumns"] or [])

    # -- reads ----------------------------------------------------------------------------------

    def read(self, name: str, version: int | None = None) -> DataFrame:
        """The table at `version` (default: the latest now), pinned and recorded."""
        if version is None:
            version = self.latest_version(name)
            if version is None:
                raise TableNotFoundError(
                    f"table {name} does not exist yet at {self.location(name)} (run the task that writes it first)"
                )
        try:
            df = self.spark.sql(f"SELECT * FROM {self.ident(name)} VERSION AS OF {int(version)}")
        except Exception as exc:
            # A time travel on a path that holds no table raises an error without a condition.
            if is_missing_table(exc) or self.latest_version(name) is None:
                raise TableNotFoundError(f"table {name} does not exist at {self.location(name)}") from exc
            raise
        if not any(r.table == name and r.version == version for r in self.reads):
            self.reads.append(TableRead(name, int(version)))
        return df

    # -- writes ---------------------------------------------------------------------------------

    def write(
        self,
        df: DataFrame,
        name: str,
        *,
        mode: str = "append",
        where: Column | None = None,
        replace_where: str | None = None,
    ) -> TableWrite:
        """Append, or overwrite all rows or only those matching `where` (a Column; `replace_where`
        takes the same as SQL text), in one Delta commit. Every row written by a filtered overwrite
        must match the filter, or nothing is written.

        Conflicts with concurrent writers are retried with jittered exponential backoff; an
        overwrite commit is all-or-nothing, so a failed write leaves the previous version.
        """
        if mode not in ("append", "overwrite"):
            raise SparkMLError(f"write mode must be 'append' or 'overwrite', got {mode!r}")
        if where is not None and replace_where is not None:
            raise SparkMLError("give where= (a Column) or replace_where= (SQL text), not both")
        if replace_where is not None:
            from pyspark.sql import functions as F

            where = F.expr(replace_where)
        if where is not None and mode != "overwrite":
            raise SparkMLError("a row filter (where / replace_where) needs mode='overwrite'")

        def on_retry(state: RetryCallState) -> None:
            self.conflicts += 1
            log.warning(
                "write to %s conflicted with another writer (attempt %d of %d): retrying in %.1f s",
                name,
                state.attempt_number,
                self.max_retries + 1,
                state.upcoming_sleep,
            )

        retrying = Retrying(
            retry=retry_if_exception(_retryable),
            stop=stop_after_attempt(self.max_retries + 1),
            wait=wait_random_exponential(multiplier=self.backoff_seconds, max=30),
            before_sleep=on_retry,
        )
        try:
            written = retrying(self._write_once, df, name, mode, where)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            self.conflicts += 1
            raise ConcurrentWriteError(
                f"write to {name} still conflicted with concurrent writers after {self.max_retries + 1} attempts "
                f"({type(last).__name__}); nothing was committed by this run, rerun it"
            ) from last
        self.writes.append(written)
        return written

    def add_missing_columns(self, df: DataFrame, name: str) -> list[str]:
        """Add to an existing table the columns of `df` it lacks (ALTER TABLE ADD COLUMNS: rows
        already there read them as null), so a table written by an earlier release takes the rows
        of this one; the names added (none when the table does not exist yet)."""
        if self.latest_version(name) is None:
            return []
        sql = self.ref(name).sql
        present = {c.lower() for c in self.spark.sql(f"SELECT * FROM {sql} LIMIT 0").columns}
        missing = [f for f in df.schema.fields if f.name.lower() not in present]
        if missing:
            columns = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in missing)
            self.spark.sql(f"ALTER TABLE {sql} ADD COLUMNS ({columns})")
            log.info("%s: added the column(s) %s", name, ", ".join(f.name for f in missing))
        return [f.name for f in missing]

    def _write_once(self, df: DataFrame, name: str, mode: str, where: Column | None) -> TableWrite:
        ref = self.ref(name)
        token = uuid.uuid4().hex
        if where is not None and self.latest_version(name) is None:
            # a filtered overwrite resolves its filter against the table's columns: on a path that
            # holds no table yet it fails as an unresolved column, not as a missing table
            # (and pyspark logs that error on the console), so a first write creates it
            return self._create(df, name)
        writer = df.writeTo(ref.sql).option("userMetadata", self._metadata(token))
        try:
            if mode == "append":
                writer.append()
            else:
                writer.overwrite(where if where is not None else _all_rows())
        except Exception as exc:
            if not is_missing_table(exc):
                raise
            return self._create(df, name)
        return self._committed(name, token)

    def _create(self, df: DataFrame, name: str) -> TableWrite:
        from pyspark.sql import functions as F

        ref, spec, retention = self.ref(name), self.settings.tables[name], self.settings.retention
        if ref.schema_sql is not None:
            self.spark.sql(f"CREATE SCHEMA IF NOT EXISTS {ref.schema_sql}")
        writer = (
            df.writeTo(ref.sql)
            .using("delta")
            .tableProperty("delta.logRetentionDuration", f"interval {retention.log_retention_days} days")
            .tableProperty(
                "delta.deletedFileRetentionDuration", f"interval {retention.deleted_file_retention_days} days"
            )
            .tableProperty("comment", spec.description or name)
        )
        for key, value in spec.properties.items():
            writer = writer.tableProperty(key, value)
        if spec.partition_by:
            writer = writer.partitionedBy(*[F.col(c) for c in spec.partition_by])
        writer.create()
        # A create that succeeds writes version 0 (a create of an existing table fails instead).
        # Delta does not record userMetadata for CREATE TABLE AS SELECT, so the version says it.
        created = self._logged_commit(name, 0) or self.commit(name, 0)
        if created is None:
            raise SparkMLError(f"{name} was created, but its history has no version 0")
        return _as_write(name, created)

    def _committed(self, name: str, token: str) -> TableWrite:
        """The commit this write made, recognised by the write's token in its userMetadata.

        Delta records the version of the session's latest commit in `lastCommitVersionInSession`:
        when that commit carries the token it is this write's. Otherwise the write committed
        nothing (Delta skips a commit that changes no row), unless the runtime does not maintain
        that setting: then the table's newest commits are searched for the token."""
        value = self.spark.conf.get(LAST_COMMIT, None)
        if value not in (None, ""):
            version = int(str(value))
            commit = self._logged_commit(name, version) or self.commit(name, version)
            if commit is not None and token in (commit.get("userMetadata") or ""):
                return _as_write(name, commit)
        for commit in self.history(name, limit=FALLBACK_COMMITS):
            if token in (commit.get("userMetadata") or ""):
                return _as_write(name, commit)
        latest = self.latest_version(name)
        log.debug("write to %s changed nothing: no commit (table stays at version %s)", name, latest)
        return TableWrite(table=name, version=-1 if latest is None else latest, rows=0, operation="NO-OP")

    def _log_folder(self, name: str) -> Path | None:
        """The `_delta_log` folder of a path table under lakehouse.root, which this process sees as
        Spark does (the model staging folder under it already requires it: spark_ml.io.models);
        None for a catalog table or a table elsewhere."""
        path, root = self.ref(name).path, self.settings.lakehouse.root.rstrip("/")
        if path is None or not root.startswith("/") or not path.startswith(root + "/"):
            return None
        return Path(path) / "_delta_log"

    def _logged_latest(self, name: str) -> int | None:
        """The newest commit file's version in the table's `_delta_log` (the table's latest version
        in Delta's protocol; a listing where DESCRIBE HISTORY costs a Spark query); None when this
        process sees no commit file there, and the caller asks Spark."""
        log_folder = self._log_folder(name)
        if log_folder is None:
            return None
        try:
            names = [entry.name for entry in os.scandir(log_folder)]
        except OSError:
            return None
        versions = [int(n[:20]) for n in names if len(n) == 25 and n.endswith(".json") and n[:20].isdigit()]
        return max(versions) if versions else None

    def _logged_commit(self, name: str, version: int) -> dict[str, Any] | None:
        """The commit of a path table at `version` read from its commit file in `_delta_log` when
        this process sees the table's folder (a local disk, a mount, a volume): a file read where
        DESCRIBE HISTORY costs a Spark query (0.2-0.3 s each, two or three per task). None for a
        catalog table, a folder this process does not see, or a file without its commitInfo; the
        caller then reads the history."""
        log_folder = self._log_folder(name)
        if log_folder is None:
            return None
        try:
            lines = (log_folder / f"{version:020d}.json").read_text(encoding="utf-8").splitlines()
        except OSError:
            return None
        for line in lines:
            try:
                action = json.loads(line) if line.strip() else None
            except ValueError:
                return None  # not a commit file this reader understands: Spark reads the history
            info = action.get("commitInfo") if isinstance(action, dict) else None
            if isinstance(info, dict):
                return {
                    "version": version,
                    "operation": info.get("operation"),
                    "userMetadata": info.get("userMetadata"),
                    "operationMetrics": info.get("operationMetrics") or {},
                }
        return None

    def _metadata(self, token: str) -> str:
        return json.dumps({"run_id": self.run_id, "task": self.task, "write": token})


def _all_rows() -> Column:
    from pyspark.sql import functions as F

    return F.lit(True)


def _as_write(name: str, commit: dict[str, Any]) -> TableWrite:
    metrics = commit.get("operationMetrics") or {}
    return TableWrite(
        table=name,
        version=int(commit["version"]),
        rows=int(metrics.get("numOutputRows", 0)),
        operation=str(commit.get("operation", "")),
    )


def delta_roundtrip(spark: SparkSession, path: str) -> dict[str, int]:
    """Write 3 rows, append 2, read the latest and version 0 back: the doctor's Delta check."""
    from pyspark.sql import functions as F

    spark.range(3).withColumn("value", F.col("id") * 2).write.format("delta").mode("overwrite").save(path)
    v0 = spark.read.format("delta").load(path).count()
    spark.range(3, 5).withColumn("value", F.col("id") * 2).write.format("delta").mode("append").save(path)
    v1 = spark.read.format("delta").load(path).count()
    travel = spark.read.format("delta").option("versionAsOf", 0).load(path).count()
    return {"v0": v0, "v1": v1, "time_travel_v0": travel}
