"""Run manifests: one row per task run in the `ops.runs_table` Delta table (default `ml.runs`).

A manifest says what produced a result: the code (package version, git commit, library versions),
the configuration (its content with secrets masked, and a sha256 of it), every table read with the
Delta version read, every table written with the version and rows written, the landing files behind
an ingestion, and for a training the MLflow run and model version. `spark-ml lineage` walks these
rows upstream; `spark-ml reproduce` re-trains from them.

The manifest is written through its own `Lakehouse` (same run id and task), so the task's recorded
reads and writes never include the manifest write itself: one append, one Delta commit per run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spark_ml.config import Settings
from spark_ml.errors import ReproducibilityError
from spark_ml.io.delta import Lakehouse, TableRead, TableWrite
from spark_ml.io.provenance import git_commit, versions

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

MANIFEST_ARTIFACT = "spark_ml/manifest.json"
MANIFEST_SCHEMA = (
    "run_id STRING, task STRING, status STRING, error STRING, exit_code INT, "
    "started_at TIMESTAMP, ended_at TIMESTAMP, duration_s DOUBLE, env STRING, "
    "spark_ml_version STRING, git_commit STRING, pyspark_version STRING, delta_version STRING, mlflow_version STRING, "
    "config_hash STRING, config STRING, "
    "inputs ARRAY<STRUCT<`table`: STRING, version: BIGINT>>, "
    "outputs ARRAY<STRUCT<`table`: STRING, version: BIGINT, `rows`: BIGINT, operation: STRING>>, "
    "landing_files ARRAY<STRUCT<source: STRING, source_file: STRING, sha256: STRING, ingest_run_id: STRING>>, "
    "mlflow_run_id STRING, model_name STRING, model_version STRING, metrics STRING, tags MAP<STRING, STRING>"
)
# Columns lineage needs (everything but the config content, the one large column).
SUMMARY_COLUMNS = (
    "run_id",
    "task",
    "status",
    "error",
    "started_at",
    "ended_at",
    "duration_s",
    "env",
    "spark_ml_version",
    "git_commit",
    "config_hash",
    "inputs",
    "outputs",
    "landing_files",
    "mlflow_run_id",
    "model_name",
    "model_version",
    "tags",
)
# Errors of a time-travel read whose log entries or data files are gone.
LOG_GONE_MARKERS = ("DELTA_VERSION_NOT_FOUND", "VersionNotFoundException", "Cannot time travel")
FILES_GONE_MARKERS = ("FILE_NOT_EXIST", "FileNotFoundException", "DELTA_FILE_NOT_FOUND")


@dataclass(frozen=True)
class LandingFileRecord:
    source: str
    source_file: str
    sha256: str
    ingest_run_id: str


@dataclass
class Manifest:
    """One task run; `to_row` gives the `ml.runs` row, `as_dict` the JSON logged to MLflow."""

    run_id: str
    task: str
    status: str
    started_at: datetime
    ended_at: datetime
    env: str
    config: str
    config_hash: str
    error: str | None = None
    exit_code: int = 0
    spark_ml_version: str | None = None
    git_commit: str | None = None
    pyspark_version: str | None = None
    delta_version: str | None = None
    mlflow_version: str | None = None
    inputs: list[TableRead] = field(default_factory=list)
    outputs: list[TableWrite] = field(default_factory=list)
    landing_files: list[LandingFileRecord] = field(default_factory=list)
    mlflow_run_id: str | None = None
    model_name: str | None = None
    model_version: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()

    def to_row(self) -> tuple[Any, ...]:
        return (
            self.run_id,
            self.task,
            self.status,
            self.error,
            self.exit_code,
            self.started_at,
            self.ended_at,
            self.duration_s,
            self.env,
            self.spark_ml_version,
            self.git_commit,
            self.pyspark_version,
            self.delta_version,
            self.mlflow_version,
            self.config_hash,
            self.config,
            [(r.table, r.version) for r in self.inputs],
            [(w.table, w.version, w.rows, w.operation) for w in self.outputs],
            [(f.source, f.source_file, f.sha256, f.ingest_run_id) for f in self.landing_files],
            self.mlflow_run_id,
            self.model_name,
            self.model_version,
            json.dumps(self.metrics, sort_keys=True, default=str),
            dict(self.tags),
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        data["ended_at"] = self.ended_at.isoformat()
        data["duration_s"] = round(self.duration_s, 3)
        return data


def canonical_config(settings: Settings) -> str:
    """The masked configuration as canonical JSON (sorted keys, no spaces): what is hashed and stored."""
    return json.dumps(settings.dump(masked=True), sort_keys=True, separators=(",", ":"), default=str)


def config_hash(config: str) -> str:
    return hashlib.sha256(config.encode("utf-8")).hexdigest()


def scalar_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """The numbers, strings and booleans of a task's metrics (nested values are left out)."""
    return {k: v for k, v in metrics.items() if isinstance(v, int | float | str | bool) or v is None}


def build(
    settings: Settings,
    *,
    run_id: str,
    task: str,
    status: str,
    started_at: datetime,
    ended_at: datetime,
    reads: list[TableRead],
    writes: list[TableWrite],
    metrics: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
    error: str | None = None,
    exit_code: int = 0,
    landing_files: list[LandingFileRecord] | None = None,
) -> Manifest:
    """A manifest from what a run recorded; code and library versions come from this process."""
    found = versions()
    values = dict(metrics or {})
    config = canonical_config(settings)
    if task == "train":
        model_name, model_version = values.get("model"), values.get("version")
    else:
        model_version = values.get("model_version")
        model_name = settings.registered_model_name if model_version is not None else None
    return Manifest(
        run_id=run_id,
        task=task,
        status=status,
        started_at=started_at,
        ended_at=ended_at,
        env=settings.env,
        config=config,
        config_hash=config_hash(config),
        error=error,
        exit_code=exit_code,
        spark_ml_version=found["spark_ml"],
        git_commit=git_commit(),
        pyspark_version=found["pyspark"],
        delta_version=found["delta"],
        mlflow_version=found["mlflow"],
        inputs=list(dict.fromkeys(reads)),
        outputs=list(writes),
        landing_files=list(landing_files or []),
        mlflow_run_id=_text(values.get("mlflow_run_id")),
        model_name=_text(model_name),
        model_version=_text(model_version),
        metrics=scalar_metrics(values),
        tags=dict(tags or {}),
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def landing_files(
    lake: Lakehouse, log_table: str, run_id: str, reads: list[TableRead], writes: list[TableWrite]
) -> list[LandingFileRecord]:
    """Every landing file behind the bronze tables as of this run: the latest fingerprint of each
    file in the ingestion log at the version this run wrote (or read), with the run that ingested it."""
    from pyspark.sql import functions as F

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


def write(spark: SparkSession, settings: Settings, manifest: Manifest) -> TableWrite:
    """Append the manifest row to the runs table: one Delta commit, recorded nowhere else."""
    lake = Lakehouse(spark, settings, run_id=manifest.run_id, task=manifest.task)
    frame = spark.createDataFrame([manifest.to_row()], MANIFEST_SCHEMA)
    return lake.write(frame, settings.ops.runs_table, mode="append")


# -- MLflow ----------------------------------------------------------------------------------------


def log_to_mlflow(settings: Settings, manifest: Manifest) -> None:
    """Attach the manifest to its MLflow run: a JSON artifact and a few searchable tags."""
    from spark_ml.io import tracking

    if not manifest.mlflow_run_id:
        return
    client = tracking.client(settings)
    client.log_text(manifest.mlflow_run_id, json.dumps(manifest.as_dict(), indent=2, default=str), MANIFEST_ARTIFACT)
    for key, value in {
        "spark_ml.config_hash": manifest.config_hash,
        "spark_ml.runs_table": settings.ops.runs_table,
        "spark_ml.git_commit": manifest.git_commit or "unknown",
    }.items():
        client.set_tag(manifest.mlflow_run_id, key, value)


def load_from_mlflow(settings: Settings, mlflow_run_id: str) -> dict[str, Any] | None:
    """The manifest logged to an MLflow run, None when the run has none (trained before manifests)."""
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = mlflow.artifacts.download_artifacts(
                run_id=mlflow_run_id, artifact_path=MANIFEST_ARTIFACT, dst_path=tmp, tracking_uri=settings.tracking_uri
            )
        except Exception as exc:
            log.debug("no manifest artifact on MLflow run %s: %s", mlflow_run_id, exc)
            return None
        data: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return data


def load_artifact_text(settings: Settings, mlflow_run_id: str, artifact: str) -> str | None:
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = mlflow.artifacts.download_artifacts(
                run_id=mlflow_run_id, artifact_path=artifact, dst_path=tmp, tracking_uri=settings.tracking_uri
            )
        except Exception:
            return None
        return Path(path).read_text(encoding="utf-8")


# -- queries ---------------------------------------------------------------------------------------


class RunsTable:
    """Queries on the runs table, pinned to the version current when it is opened."""

    def __init__(self, lake: Lakehouse) -> None:
        self.lake = lake
        self.name = lake.settings.ops.runs_table
        self.version = lake.latest_version(self.name)

    def _frame(self) -> DataFrame | None:
        if self.version is None:
            return None
        return self.lake.read(self.name, self.version)

    def by_run_id(self, run_id: str, with_config: bool = False) -> dict[str, Any] | None:
        """The manifest of a run (its last row when a run was recorded twice)."""
        from pyspark.sql import functions as F

        frame = self._frame()
        if frame is None:
            return None
        columns = [*SUMMARY_COLUMNS, "config"] if with_config else list(SUMMARY_COLUMNS)
        rows = frame.where(F.col("run_id") == run_id).orderBy(F.col("ended_at").desc()).select(*columns).limit(1)
        found = rows.collect()
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


# -- time travel -----------------------------------------------------------------------------------


def commit_info(lake: Lakehouse, table: str, version: int) -> dict[str, Any] | None:
    """The commit of `table` at `version` from DESCRIBE HISTORY, None when the log no longer has it."""
    from pyspark.sql import functions as F

    cols = ["version", "timestamp", "operation", "operationParameters", "userMetadata", "operationMetrics"]
    rows = (
        lake.spark.sql(f"DESCRIBE HISTORY {lake.ident(table)}")
        .where(F.col("version") == int(version))
        .select(*cols)
        .collect()
    )
    return _as_dict(rows[0]) if rows else None


def table_retention(lake: Lakehouse, table: str) -> dict[str, str]:
    """The table's retention properties (as set on it, which may differ from today's config)."""
    keys = ("delta.logRetentionDuration", "delta.deletedFileRetentionDuration")
    try:
        rows = lake.spark.sql(f"SHOW TBLPROPERTIES {lake.ident(table)}").collect()
    except Exception:
        return {}
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
        text = f"{type(exc).__name__} {exc}"
        retention = table_retention(lake, table)
        props = ", ".join(f"{k} = {v}" for k, v in retention.items()) or "retention properties unknown"
        if any(m in text for m in LOG_GONE_MARKERS):
            available = text.split("Available versions:", 1)[1].split(".")[0].strip() if "Available" in text else "?"
            raise ReproducibilityError(
                f"{table} version {version} is no longer in the Delta log (available versions: {available}; "
                f"{props}): the log entry was cleaned up, so the recorded data cannot be read; "
                "raise retention.log_retention_days to keep versions longer"
            ) from exc
        if any(m in text for m in FILES_GONE_MARKERS):
            raise ReproducibilityError(
                f"{table} version {version} can no longer be read: its data files were removed by VACUUM "
                f"({props}); raise retention.deleted_file_retention_days and vacuum with a retention at least as "
                "long to keep versions reproducible"
            ) from exc
        raise


# -- registry --------------------------------------------------------------------------------------


def model_version_record(settings: Settings, name: str, alias: str | None, version: str | None) -> dict[str, Any]:
    """A registered model version by alias or number: its version, tags and run. An unknown model,
    alias or version is a ConfigError (bad usage) naming what exists."""
    from spark_ml.errors import ConfigError
    from spark_ml.io import tracking

    client = tracking.client(settings)
    full = settings.registered_model_name if name == settings.model.name else name
    try:
        model = client.get_registered_model(full)
    except Exception as exc:
        raise ConfigError(
            f"unknown model {name!r} in the registry {settings.registry_uri} (configured model: {settings.model.name})"
        ) from exc
    aliases = {str(k): str(v) for k, v in (getattr(model, "aliases", {}) or {}).items()}
    try:
        if alias is not None:
            found = client.get_model_version_by_alias(full, alias)
        else:
            found = client.get_model_version(full, str(version))
    except Exception as exc:
        known = ", ".join(f"{k} -> version {v}" for k, v in sorted(aliases.items())) or "none"
        what = f"alias '{alias}'" if alias is not None else f"version {version}"
        raise ConfigError(f"model {full} has no {what} (aliases: {known})") from exc
    return {
        "name": full,
        "version": str(found.version),
        "alias": alias,
        "aliases": sorted(k for k, v in aliases.items() if v == str(found.version)),
        "mlflow_run_id": found.run_id,
        "tags": dict(found.tags or {}),
    }


def training_run(settings: Settings, mlflow_run_id: str) -> dict[str, Any]:
    """An MLflow run's tags and metrics; an unknown run id is a ConfigError (bad usage)."""
    from spark_ml.errors import ConfigError
    from spark_ml.io import tracking

    client = tracking.client(settings)
    try:
        found = client.get_run(mlflow_run_id)
    except Exception as exc:
        raise ConfigError(
            f"unknown MLflow run {mlflow_run_id!r} in the tracking store {settings.tracking_uri}"
        ) from exc
    return {
        "run_id": found.info.run_id,
        "tags": dict(found.data.tags),
        "metrics": {k: float(v) for k, v in found.data.metrics.items()},
    }


def set_run_tags(settings: Settings, mlflow_run_id: str, tags: dict[str, str]) -> None:
    from spark_ml.io import tracking

    client = tracking.client(settings)
    for key, value in tags.items():
        client.set_tag(mlflow_run_id, key, value)
