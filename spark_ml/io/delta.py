"""Delta tables by logical name: versioned reads, atomic writes, conflict retries.

`Lakehouse` is the only code that reads or writes tables. Every read is pinned to an explicit Delta
version and every write reports the version it created and the rows it wrote, so a task can say
exactly what it consumed and produced. Only SQL and DataFrame APIs are used (no DeltaTable JVM
handles), so the same code runs under Spark Connect.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from spark_ml.config import Settings
from spark_ml.errors import ConcurrentWriteError, SparkMLError, TableNotFoundError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

# Error classes of Delta's optimistic-concurrency conflicts (the Python exception classes of
# delta.exceptions share no base class, and under Spark Connect only the error class is known).
CONFLICT_MARKERS = (
    "DELTA_CONCURRENT_APPEND",
    "DELTA_CONCURRENT_DELETE_READ",
    "DELTA_CONCURRENT_DELETE_DELETE",
    "DELTA_CONCURRENT_TRANSACTION",
    "DELTA_CONCURRENT_WRITE",
    "DELTA_METADATA_CHANGED",
    "DELTA_PROTOCOL_CHANGED",
    "ConcurrentAppendException",
    "ConcurrentDeleteReadException",
    "ConcurrentDeleteDeleteException",
    "ConcurrentTransactionException",
    "MetadataChangedException",
    "ProtocolChangedException",
)
EXISTS_MARKERS = ("TABLE_OR_VIEW_ALREADY_EXISTS", "DELTA_PATH_EXISTS", "already exists")
MISSING_MARKERS = (
    "DELTA_TABLE_ONLY_OPERATION",
    "DELTA_MISSING_DELTA_TABLE",
    "TABLE_OR_VIEW_NOT_FOUND",
    "PATH_NOT_FOUND",
    "is not a Delta table",
)


def delta_conflict_types() -> tuple[type[BaseException], ...]:
    """The concrete Delta conflict exception classes available in this environment."""
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
    if isinstance(exc, delta_conflict_types()):
        return True
    text = f"{type(exc).__name__} {exc}"
    return any(marker in text for marker in CONFLICT_MARKERS)


def _has(exc: BaseException, markers: tuple[str, ...]) -> bool:
    text = f"{type(exc).__name__} {exc}"
    return any(marker in text for marker in markers)


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
        delta_conflict_types()  # importing delta.exceptions installs its exception conversion

    # -- naming ---------------------------------------------------------------------------------

    def location(self, name: str) -> str:
        return self.settings.table_location(name)

    def ident(self, name: str) -> str:
        """A SQL identifier for the table: catalog.schema.table, or delta.`path`."""
        location = self.location(name)
        if self.settings.uses_catalog:
            return ".".join(f"`{part}`" for part in location.split("."))
        return f"delta.`{location}`"

    # -- metadata -------------------------------------------------------------------------------

    def latest_version(self, name: str) -> int | None:
        """The current version of the table, or None when it does not exist yet."""
        try:
            rows = self.spark.sql(f"DESCRIBE HISTORY {self.ident(name)} LIMIT 1").select("version").collect()
        except Exception as exc:
            if _has(exc, MISSING_MARKERS):
                return None
            raise
        return int(rows[0]["version"]) if rows else None

    def exists(self, name: str) -> bool:
        return self.latest_version(name) is not None

    def history(self, name: str, limit: int = 50) -> list[dict[str, Any]]:
        """Recent commits, newest first: version, timestamp, operation, userMetadata, metrics."""
        cols = ["version", "timestamp", "operation", "operationParameters", "userMetadata", "operationMetrics"]
        rows = self.spark.sql(f"DESCRIBE HISTORY {self.ident(name)} LIMIT {int(limit)}").select(*cols).collect()
        return [r.asDict() for r in rows]

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
            if _has(exc, MISSING_MARKERS):
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
        replace_where: str | None = None,
    ) -> TableWrite:
        """Append or overwrite (all, or the rows matching `replace_where`) in one Delta commit.

        Conflicts with concurrent writers are retried with exponential backoff; an overwrite or
        replaceWhere commit is all-or-nothing, so a failed write leaves the previous version.
        """
        if mode not in ("append", "overwrite"):
            raise SparkMLError(f"write mode must be 'append' or 'overwrite', got {mode!r}")
        if replace_where and mode != "overwrite":
            raise SparkMLError("replace_where needs mode='overwrite'")
        last: BaseException | None = None
        for attempt in range(self.max_retries + 1):
            try:
                written = self._write_once(df, name, mode, replace_where)
                self.writes.append(written)
                return written
            except Exception as exc:
                retryable = is_conflict(exc) or _has(exc, EXISTS_MARKERS)
                if not retryable:
                    raise
                last = exc
                self.conflicts += 1
                delay = self.backoff_seconds * (2**attempt) * (1 + random.random())
                log.warning(
                    "write to %s conflicted with another writer (attempt %d of %d): retrying in %.1f s",
                    name,
                    attempt + 1,
                    self.max_retries + 1,
                    delay,
                )
                time.sleep(delay)
        raise ConcurrentWriteError(
            f"write to {name} still conflicted with concurrent writers after {self.max_retries + 1} attempts "
            f"({type(last).__name__}); nothing was committed by this run, rerun it"
        ) from last

    def _write_once(self, df: DataFrame, name: str, mode: str, replace_where: str | None) -> TableWrite:
        if not self.exists(name):
            return self._create(df, name)
        token = uuid.uuid4().hex
        writer = df.write.format("delta").mode(mode).option("userMetadata", self._metadata(token))
        if replace_where:
            writer = writer.option("replaceWhere", replace_where)
        if self.settings.uses_catalog:
            writer.saveAsTable(self.location(name))
        else:
            writer.save(self.location(name))
        history = self.history(name, limit=20)
        for commit in history:
            if token in (commit.get("userMetadata") or ""):
                return self._as_write(name, commit)
        # Delta skips the commit of a write that changes nothing (no rows to add or remove).
        latest = int(history[0]["version"]) if history else 0
        log.debug("write to %s changed nothing: no commit (table stays at version %d)", name, latest)
        return TableWrite(table=name, version=latest, rows=0, operation="NO-OP")

    def _create(self, df: DataFrame, name: str) -> TableWrite:
        from pyspark.sql import functions as F

        spec = self.settings.tables[name]
        if self.settings.uses_catalog:
            catalog, schema, _ = self.location(name).split(".")
            self.spark.sql(f"CREATE SCHEMA IF NOT EXISTS `{catalog}`.`{schema}`")
        retention = self.settings.retention
        writer = (
            df.writeTo(self.ident(name))
            .using("delta")
            .tableProperty("delta.logRetentionDuration", f"interval {retention.log_retention_days} days")
            .tableProperty(
                "delta.deletedFileRetentionDuration", f"interval {retention.deleted_file_retention_days} days"
            )
            .tableProperty("comment", spec.description or name)
        )
        if spec.partition_by:
            writer = writer.partitionedBy(*[F.col(c) for c in spec.partition_by])
        writer.create()
        first = self.spark.sql(f"DESCRIBE HISTORY {self.ident(name)}").where("version = 0").collect()
        return self._as_write(name, first[0].asDict())

    def _metadata(self, token: str) -> str:
        return json.dumps({"run_id": self.run_id, "task": self.task, "write": token})

    @staticmethod
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
