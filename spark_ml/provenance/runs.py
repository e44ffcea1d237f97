"""The runs table (`ops.runs_table`, default `ml.runs`): writing manifests and querying them.

A manifest is written through its own `Lakehouse` (same run id and task), so the task's recorded
reads and writes never include the manifest write itself: one append, one Delta commit per run.
`lineage` walks these rows upstream; `reproduce` re-trains from them. Time-travel checks live
here too: whether a recorded table version can still be read.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from spark_ml.config import Settings
from spark_ml.errors import ReproducibilityError, condition, parameters
from spark_ml.io import tracking
from spark_ml.io.delta import Lakehouse, TableRead, TableWrite, is_missing_table
from spark_ml.provenance.manifest import ARTIFACT, COLUMN_TYPES, SCHEMA, SUMMARY_COLUMNS, LandingFileRecord, Manifest

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

# Error conditions of a time-travel read whose log entries or data files are gone.
LOG_GONE = frozenset({"DELTA_VERSION_NOT_FOUND", "DELTA_NO_COMMITS_FOUND", "DELTA_CANNOT_TIME_TRAVEL_VIEWS"})
FILES_GONE = frozenset({"FAILED_READ_FILE", "FILE_NOT_EXIST", "DELTA_FILE_NOT_FOUND", "DELTA_FILE_NOT_FOUND_DETAILED"})


def write(spark: SparkSession, settings: Settings, manifest: Manifest) -> TableWrite:
    """Append the manifest row to the runs table: one Delta commit, recorded nowhere else."""
    lake = Lakehouse(spark, settings, run_id=manifest.run_id, task=manifest.task)
    frame = spark.createDataFrame([manifest.to_row()], SCHEMA)
    try:
        return lake.write(frame, settings.ops.runs_table, mode="append")
    except Exception:
        missing = _missing_columns(lake, settings.ops.runs_table)
        if not missing:
            raise
    # A runs table written by an earlier release lacks the columns added since: add them (existing
    # rows read them as null), then append.
    columns = ", ".join(f"`{name}` {COLUMN_TYPES[name]}" for name in missing)
    spark.sql(f"ALTER TABLE {lake.ref(settings.ops.runs_table).sql} ADD COLUMNS ({columns})")
    log.info("%s: added the column(s) %s", settings.ops.runs_table, ", ".join(missing))
    return lake.write(frame, settings.ops.runs_table, mode="append")


def _missing_columns(lake: Lakehouse, table: str) -> list[str]:
    """Manifest columns the existing runs table lacks (none when it does not exist)."""
    if lake.latest_version(table) is None:
        return []
    present = set(lake.read(table).columns)
    return [name for name in COLUMN_TYPES if name not in present]


def log_to_mlflow(settings: Settings, manifest: Manifest) -> None:
    """Attach the manifest to its MLflow run: a JSON artifact and a few searchable tags."""
    if not manifest.mlflow_run_id:
        return
    tracking.log_dict(settings, manifest.mlflow_run_id, manifest.as_dict(), ARTIFACT)
    tracking.set_run_tags(
        settings,
        manifest.mlflow_run_id,
        {
            "spark_ml.config_hash": manifest.config_hash,
            "spark_ml.runs_table": settings.ops.runs_table,
            "spark_ml.git_commit": manifest.git_commit or "unknown",
        },
    )


def load_from_mlflow(settings: Settings, mlflow_run_id: str) -> dict[str, Any] | None:
    """The manifest logged to an MLflow run; None only when the run has no manifest artifact
    (trained before manifests existed). Any other failure is raised."""
    return tracking.load_dict(settings, mlflow_run_id, ARTIFACT)


def landing_files(
    lake: Lakehouse, run_id: str, reads: list[TableRead], writes: list[TableWrite]
) -> list[LandingFileRecord]:
    """Every landing file behind the bronze tables as of this run: the latest fingerprint of each
    file in the ingestion log at the version this run wrote (or read), with the run that ingested it."""
    from pyspark.sql import functions as F

    log_table = lake.settings.ops.ingested_files_table
    written = [w.version for w in writes if w.table == log_table]
    read = [r.version for r in reads if r.table == log_table]
    version = max(written) if written else (max(read) if read else None)
    if version is None:
        return []
    rows = (
        lake.read(log_table, version)
        .groupBy("source", "source_file")
        .agg(F.max_by(F.struct("sha256", "ingest_run_id"), "ingested_at").alias("latest"))
        .select("source", "source_file", "latest.sha256", "latest.ingest_run_id")
        .orderBy("source", "source_file")
        .collect()
    )
    return [LandingFileRecord(r["source"], r["source_file"], r["sha256"], r["ingest_run_id"]) for r in rows]


class RunsTable:
    """Queries on the runs table, pinned to the version current when it is opened."""

    def __init__(self, lake: Lakehouse) -> None:
        self.lake = lake
        self.name = lake.settings.ops.runs_table
        self.version = lake.latest_version(self.name)

    def _frame(self) -> DataFrame | None:
        """The pinned table, with the columns an earlier release did not write as nulls."""
        from pyspark.sql import functions as F

        if self.version is None:
            return None
        frame = self.lake.read(self.name, self.version)
        for name in [n for n in COLUMN_TYPES if n not in frame.columns]:
            frame = frame.withColumn(name, F.lit(None).cast(COLUMN_TYPES[name]))
        return frame

    def by_run_id(self, run_id: str, with_config: bool = False) -> dict[str, Any] | None:
        """The manifest of a run (its last row when a run was recorded twice)."""
        from pyspark.sql import functions as F

        frame = self._frame()
        if frame is None:
            return None
        columns = [*SUMMARY_COLUMNS, "config"] if with_config else list(SUMMARY_COLUMNS)
        found = (
            frame.where(F.col("run_id") == run_id).orderBy(F.col("ended_at").desc()).select(*columns).limit(1).collect()
        )
        return _as_dict(found[0]) if found else None

    def writer_of(self, table: str, version: int | None = None) -> dict[str, Any] | None:
        """The successful run that wrote `table` at `version` (default: the highest version any
        recorded run wrote). The pipeline's own row, which repeats its steps' writes, is skipped."""
        from pyspark.sql import functions as F

        frame = self._frame()
        if frame is None:
            return None
        wrote = F.filter("outputs", lambda o: o["table"] == F.lit(table))
        if version is not None:
            wrote = F.filter(wrote, lambda o: o["version"] == F.lit(int(version)))
        candidates = (
            frame.where((F.col("task") != "pipeline") & (F.col("status") == "success"))
            .withColumn("_written", F.array_max(F.transform(wrote, lambda o: o["version"])))
            .where(F.col("_written").isNotNull())
            .orderBy(F.col("_written").desc(), F.col("ended_at").desc())
            .select(*SUMMARY_COLUMNS)
            .limit(1)
            .collect()
        )
        return _as_dict(candidates[0]) if candidates else None


def _as_dict(row: Any) -> dict[str, Any]:
    data: dict[str, Any] = row.asDict(recursive=True)
    return data


def written_version(record: dict[str, Any], table: str) -> int | None:
    versions_written = [int(o["version"]) for o in record.get("outputs") or [] if o["table"] == table]
    return max(versions_written) if versions_written else None


def run_id_of_commit(commit: dict[str, Any]) -> str | None:
    """The spark-ml run id a Delta commit's userMetadata names, if any."""
    try:
        meta = json.loads(commit.get("userMetadata") or "{}")
    except ValueError:
        return None
    run_id = meta.get("run_id") if isinstance(meta, dict) else None
    return str(run_id) if run_id else None


# -- time travel -----------------------------------------------------------------------------------


def table_retention(lake: Lakehouse, table: str) -> dict[str, str]:
    """The table's retention properties (as set on it, which may differ from today's config)."""
    keys = ("delta.logRetentionDuration", "delta.deletedFileRetentionDuration")
    rows = lake.spark.sql(f"SHOW TBLPROPERTIES {lake.ident(table)}").collect()
    return {r["key"]: r["value"] for r in rows if r["key"] in keys}


def check_readable(lake: Lakehouse, table: str, version: int) -> None:
    """Read every data file of `table` at `version` once (the largest hash of one column: Delta's
    statistics cannot answer it, unlike a count); raise ReproducibilityError naming the table and
    version when its log entry was cleaned up or its data files were vacuumed."""
    from pyspark.sql import functions as F

    if lake.latest_version(table) is None:
        raise ReproducibilityError(f"{table} does not exist at {lake.location(table)}: cannot read version {version}")
    try:
        frame = lake.spark.sql(f"SELECT * FROM {lake.ident(table)} VERSION AS OF {int(version)}")
        frame.select(F.max(F.xxhash64(frame.columns[0]))).collect()
    except Exception as exc:
        if is_missing_table(exc):
            raise
        found = condition(exc)
        props = ", ".join(f"{k} = {v}" for k, v in table_retention(lake, table).items()) or "retention unknown"
        if found in LOG_GONE:
            params = parameters(exc)
            available = (
                f"{params['earliest']} to {params['latest']}" if {"earliest", "latest"} <= params.keys() else "unknown"
            )
            raise ReproducibilityError(
                f"{table} version {version} is no longer in the Delta log (available versions: {available}; "
                f"{props}): the log entry was cleaned up, so the recorded data cannot be read; "
                "raise retention.log_retention_days to keep versions longer"
            ) from exc
        if found in FILES_GONE:
            raise ReproducibilityError(
                f"{table} version {version} can no longer be read: its data files were removed by VACUUM "
                f"({props}); raise retention.deleted_file_retention_days and vacuum with a retention at least as "
                "long to keep versions reproducible"
            ) from exc
        raise
