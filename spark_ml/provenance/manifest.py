"""The run manifest: one record per task run, its schema defined once.

A manifest says what produced a result: the code (package version, git commit, library versions),
the configuration (its content with secrets masked, and a sha256 of it), every table read with the
Delta version read, every table written with the version and rows written, the landing files behind
an ingestion, and for a training the MLflow run and model version. The dataclass below is the one
definition: the Delta table's DDL, the row written to it and the columns lineage reads are derived
from its fields.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from datetime import datetime
from typing import Any

from spark_ml.config import Settings
from spark_ml.io.delta import TableRead, TableWrite
from spark_ml.provenance.code import git_commit
from spark_ml.provenance.compute import Compute
from spark_ml.versions import versions

ARTIFACT = "spark_ml/manifest.json"


@dataclass(frozen=True)
class LandingFileRecord:
    source: str
    source_file: str
    sha256: str
    ingest_run_id: str


def _column(ddl: str, *, large: bool = False) -> Any:
    """A manifest field: its Spark SQL type; `large` columns are left out of lineage queries."""
    return {"ddl": ddl, "large": large}


@dataclass(kw_only=True)
class Manifest:
    """One task run. Field order is column order in the runs table (kept as first released)."""

    run_id: str = field(metadata=_column("STRING"))
    task: str = field(metadata=_column("STRING"))
    status: str = field(metadata=_column("STRING"))
    error: str | None = field(default=None, metadata=_column("STRING"))
    exit_code: int = field(default=0, metadata=_column("INT"))
    started_at: datetime = field(metadata=_column("TIMESTAMP"))
    ended_at: datetime = field(metadata=_column("TIMESTAMP"))
    duration_s: float = field(default=0.0, metadata=_column("DOUBLE"))
    env: str = field(metadata=_column("STRING"))
    spark_ml_version: str | None = field(default=None, metadata=_column("STRING"))
    git_commit: str | None = field(default=None, metadata=_column("STRING"))
    pyspark_version: str | None = field(default=None, metadata=_column("STRING"))
    delta_version: str | None = field(default=None, metadata=_column("STRING"))
    mlflow_version: str | None = field(default=None, metadata=_column("STRING"))
    config_hash: str = field(metadata=_column("STRING"))
    config: str = field(metadata=_column("STRING", large=True))
    inputs: list[TableRead] = field(
        default_factory=list, metadata=_column("ARRAY<STRUCT<`table`: STRING, version: BIGINT>>")
    )
    outputs: list[TableWrite] = field(
        default_factory=list,
        metadata=_column("ARRAY<STRUCT<`table`: STRING, version: BIGINT, `rows`: BIGINT, operation: STRING>>"),
    )
    landing_files: list[LandingFileRecord] = field(
        default_factory=list,
        metadata=_column("ARRAY<STRUCT<source: STRING, source_file: STRING, sha256: STRING, ingest_run_id: STRING>>"),
    )
    mlflow_run_id: str | None = field(default=None, metadata=_column("STRING"))
    model_name: str | None = field(default=None, metadata=_column("STRING"))
    model_version: str | None = field(default=None, metadata=_column("STRING"))
    metrics: dict[str, Any] = field(default_factory=dict, metadata=_column("STRING"))
    tags: dict[str, str] = field(default_factory=dict, metadata=_column("MAP<STRING, STRING>"))
    compute: Compute | None = field(
        default=None,
        metadata=_column("STRUCT<master: STRING, remote: STRING, app_id: STRING, executors: INT, cores: INT>"),
    )

    def to_row(self) -> tuple[Any, ...]:
        """The runs-table row: nested records as tuples, metrics as JSON text."""
        values = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "metrics":
                value = json.dumps(value, sort_keys=True, default=str)
            elif isinstance(value, list):
                value = [tuple(asdict(item).values()) for item in value]
            elif isinstance(value, dict):
                value = dict(value)
            elif is_dataclass(value) and not isinstance(value, type):
                value = tuple(asdict(value).values())
            values.append(value)
        return tuple(values)

    def as_dict(self) -> dict[str, Any]:
        """The JSON logged to the training's MLflow run."""
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        data["ended_at"] = self.ended_at.isoformat()
        data["duration_s"] = round(self.duration_s, 3)
        return data


SCHEMA = ", ".join(f"`{f.name}` {f.metadata['ddl']}" for f in fields(Manifest))
COLUMN_TYPES = {f.name: f.metadata["ddl"] for f in fields(Manifest)}
SUMMARY_COLUMNS = tuple(f.name for f in fields(Manifest) if not f.metadata["large"])


def canonical_config(settings: Settings) -> str:
    """The masked configuration as canonical JSON (sorted keys, no spaces): what is hashed and stored."""
    return json.dumps(settings.dump(masked=True), sort_keys=True, separators=(",", ":"), default=str)


def config_hash(config: str) -> str:
    return hashlib.sha256(config.encode("utf-8")).hexdigest()


def scalar_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """The numbers, strings and booleans of a task's metrics (nested values are left out)."""
    return {k: v for k, v in metrics.items() if isinstance(v, int | float | str | bool) or v is None}


@dataclass(frozen=True)
class Outcome:
    """What a run did, as its task context recorded it: the input of `build`."""

    run_id: str
    task: str
    status: str
    started_at: datetime
    ended_at: datetime
    reads: list[TableRead]
    writes: list[TableWrite]
    metrics: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    exit_code: int = 0
    landing_files: list[LandingFileRecord] = field(default_factory=list)
    model_name: str | None = None
    model_version: str | None = None
    mlflow_run_id: str | None = None
    compute: Compute | None = None


def build(settings: Settings, outcome: Outcome) -> Manifest:
    """A manifest from what a run recorded; code and library versions come from this process."""
    found = versions()
    config = canonical_config(settings)
    return Manifest(
        run_id=outcome.run_id,
        task=outcome.task,
        status=outcome.status,
        started_at=outcome.started_at,
        ended_at=outcome.ended_at,
        env=settings.env,
        config=config,
        config_hash=config_hash(config),
        error=outcome.error,
        exit_code=outcome.exit_code,
        duration_s=(outcome.ended_at - outcome.started_at).total_seconds(),
        spark_ml_version=found["spark_ml"],
        git_commit=git_commit(),
        pyspark_version=found["pyspark"],
        delta_version=found["delta"],
        mlflow_version=found["mlflow"],
        inputs=list(dict.fromkeys(outcome.reads)),
        outputs=list(outcome.writes),
        landing_files=list(outcome.landing_files),
        mlflow_run_id=outcome.mlflow_run_id,
        model_name=outcome.model_name,
        model_version=outcome.model_version,
        metrics=scalar_metrics(outcome.metrics),
        tags=dict(outcome.tags),
        compute=outcome.compute,
    )
