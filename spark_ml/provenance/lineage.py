"""`spark-ml lineage <table | models:/name@alias>`: what produced a table version or a model version.

From the target, the chain goes upstream through the run manifests (`ml.runs`): the run that wrote
the table version (or trained the model version), the table versions that run read, the runs that
wrote those versions, and so on down to the landing files, with their content hashes, behind the
bronze tables. A version written by an append or a replaceWhere also keeps the rows of the version
before it, so that version is followed too ("builds on").
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from pyspark.sql import SparkSession

from spark_ml.config import Settings
from spark_ml.errors import ConfigError, ReproducibilityError, TableNotFoundError
from spark_ml.io import registry
from spark_ml.io.delta import Lakehouse
from spark_ml.provenance import runs
from spark_ml.provenance.compute import Compute

MODEL_URI = re.compile(r"^models:/(?P<name>[^@/\s]+)(?:@(?P<alias>[A-Za-z_][A-Za-z0-9_]*)|/(?P<version>\d+))$")
TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
DEFAULT_DEPTH = 12


@dataclass
class RunNode:
    """A task run from its manifest, with the table versions it read."""

    run_id: str
    task: str
    status: str
    started_at: str
    git_commit: str | None
    spark_ml_version: str | None
    config_hash: str | None
    mlflow_run_id: str | None = None
    model: str | None = None
    compute: str | None = None  # where it ran (spark_ml.provenance.compute), None in earlier releases' rows
    inputs: list[TableNode] = field(default_factory=list)
    landing_files: list[dict[str, str]] = field(default_factory=list)
    shown_above: bool = False


@dataclass
class TableNode:
    """A table at one Delta version and the run that wrote it."""

    table: str
    version: int
    operation: str | None = None
    rows: int | None = None
    partial: bool = False
    run: RunNode | None = None
    builds_on: TableNode | None = None
    note: str = ""


@dataclass
class Lineage:
    target: str
    model: dict[str, Any] | None
    root: TableNode | RunNode

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "model": self.model, "lineage": asdict(self.root)}

    def text(self) -> str:
        lines: list[str] = []
        if self.model is not None:
            m = self.model
            aliases = f" ({', '.join(m['aliases'])})" if m.get("aliases") else ""
            lines.append(f"{self.target} = {m['name']} version {m['version']}{aliases}")
            assert isinstance(self.root, RunNode)
            _run_lines(self.root, lines, "  ", verb="trained by")
        else:
            assert isinstance(self.root, TableNode)
            _table_lines(self.root, lines, "")
        return "\n".join(lines)


# -- building --------------------------------------------------------------------------------------


class _Builder:
    def __init__(self, lake: Lakehouse, depth: int) -> None:
        self.lake = lake
        self.runs = runs.RunsTable(lake)
        self.depth = depth
        self.expanded: set[str] = set()
        self.log_table = lake.settings.ops.ingested_files_table
        self.targets = {spec.target: name for name, spec in lake.settings.ingest.sources.items()}

    def table(self, table: str, version: int, level: int) -> TableNode:
        node = TableNode(table, version)
        commit = self.lake.commit(table, version)
        if commit is None:
            node.note = "this version is no longer in the Delta log"
        else:
            node.operation = str(commit.get("operation") or "")
            params = commit.get("operationParameters") or {}
            node.partial = params.get("mode") == "Append" or bool(params.get("predicate"))
        record = self.runs.writer_of(table, version)
        if record is None and commit is not None:
            record = self._by_commit_metadata(commit)
        if record is None:
            node.note = node.note or "not written by a recorded spark-ml run"
            return node
        node.rows = next(
            (int(o["rows"]) for o in record["outputs"] or [] if o["table"] == table and int(o["version"]) == version),
            None,
        )
        node.run = self.run(record, level, only_source=self.targets.get(table))
        if node.partial and version > 0 and not node.run.landing_files and level < self.depth:
            node.builds_on = self.table(table, version - 1, level + 1)
        return node

    def run(self, record: dict[str, Any], level: int, only_source: str | None = None) -> RunNode:
        model = (
            f"{record['model_name']} version {record['model_version']}"
            if record.get("model_name") and record.get("model_version")
            else None
        )
        node = RunNode(
            run_id=record["run_id"],
            task=record["task"],
            status=record["status"],
            started_at=_stamp(record["started_at"]),
            git_commit=record.get("git_commit"),
            spark_ml_version=record.get("spark_ml_version"),
            config_hash=record.get("config_hash"),
            mlflow_run_id=record.get("mlflow_run_id"),
            model=model,
            compute=Compute(**record["compute"]).text() if record.get("compute") else None,
        )
        node.landing_files = [
            {**f, "ingested_by_this_run": f["ingest_run_id"] == node.run_id}
            for f in record.get("landing_files") or []
            if only_source is None or f["source"] == only_source
        ]
        if node.run_id in self.expanded:
            node.shown_above = True
            return node
        self.expanded.add(node.run_id)
        if level >= self.depth:
            return node
        own = {(str(o["table"]), int(o["version"])) for o in record.get("outputs") or []}
        for read in record.get("inputs") or []:
            table, version = str(read["table"]), int(read["version"])
            if table in (self.lake.settings.ops.runs_table, self.log_table) or (table, version) in own:
                continue  # bookkeeping (the ingestion log is shown as landing files), or read back after writing it
            node.inputs.append(self.table(table, version, level + 1))
        return node

    def _by_commit_metadata(self, commit: dict[str, Any]) -> dict[str, Any] | None:
        run_id = runs.run_id_of_commit(commit)
        return self.runs.by_run_id(run_id) if run_id else None


def _stamp(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


# -- entry -----------------------------------------------------------------------------------------


def check_target(cfg: Settings, target: str) -> re.Match[str] | None:
    """A model URI (returned as its match) or a declared table; anything else is a ConfigError."""
    found = MODEL_URI.match(target)
    if found:
        return found
    if target.startswith("models:"):
        raise ConfigError(f"bad model URI {target!r}: expected models:/<name>@<alias> or models:/<name>/<version>")
    if not TABLE_NAME.match(target):
        raise ConfigError(
            f"bad lineage target {target!r}: expected a table <schema>.<table> (e.g. gold.flight_features) "
            "or a model URI models:/<name>@<alias>"
        )
    cfg.table(target)  # an undeclared table is a ConfigError naming the closest one
    return None


def run(
    spark: SparkSession, cfg: Settings, target: str, *, version: int | None = None, depth: int = DEFAULT_DEPTH
) -> Lineage:
    """The lineage of a table (its latest recorded version, or `version`) or of a model version."""
    if depth < 1:
        raise ConfigError(f"--depth must be at least 1, got {depth}")
    found = check_target(cfg, target)
    lake = Lakehouse(spark, cfg, task="lineage")
    builder = _Builder(lake, depth)
    if builder.runs.version is None:
        raise ReproducibilityError(
            f"no run manifests yet: {cfg.ops.runs_table} does not exist at {lake.location(cfg.ops.runs_table)} "
            "(every task run appends one; run a task first)"
        )
    if found:
        if version is not None:
            raise ConfigError("--version applies to tables; a model URI names its version: models:/<name>/<version>")
        return _model_lineage(cfg, builder, target, found)
    latest = lake.latest_version(target)
    if latest is None:
        raise TableNotFoundError(f"table {target} does not exist yet at {lake.location(target)}: nothing produced it")
    if version is not None:
        if not 0 <= version <= latest:
            raise ConfigError(f"table {target} has versions 0 to {latest}; version {version} does not exist")
        return Lineage(target, None, builder.table(target, version, 0))
    record = builder.runs.writer_of(target)
    recorded = runs.written_version(record, target) if record else None
    node = builder.table(target, recorded if recorded is not None else latest, 0)
    if recorded is not None and recorded < latest:
        node.note = f"versions {recorded + 1} to {latest} were not written by a recorded spark-ml run"
    return Lineage(target, None, node)


def resolve_model(cfg: Settings, found: re.Match[str]) -> dict[str, Any]:
    """The registered model version a models:/ URI names (MLflow only: no Spark needed)."""
    return registry.model_version_record(cfg, found["name"], found["alias"], found["version"])


def _model_lineage(cfg: Settings, builder: _Builder, target: str, found: re.Match[str]) -> Lineage:
    model = resolve_model(cfg, found)
    run_id = model["tags"].get("spark_ml.run_id")
    record = builder.runs.by_run_id(run_id) if run_id else None
    if record is None:
        raise ReproducibilityError(
            f"{model['name']} version {model['version']} has no recorded training run "
            f"(spark_ml.run_id tag {run_id or 'missing'}, MLflow run {model['mlflow_run_id']}): "
            f"no manifest in {cfg.ops.runs_table}"
        )
    return Lineage(target, model, builder.run(record, 0))


# -- text ------------------------------------------------------------------------------------------


def _table_lines(node: TableNode, lines: list[str], indent: str) -> None:
    facts = [f for f in (node.operation, f"{node.rows:,} rows" if node.rows is not None else None) if f]
    if node.partial:
        facts.append("append/replaceWhere: keeps earlier rows")
    lines.append(f"{indent}{node.table} version {node.version}" + (f" ({', '.join(facts)})" if facts else ""))
    if node.note:
        lines.append(f"{indent}  ! {node.note}")
    if node.run is not None:
        _run_lines(node.run, lines, indent + "  ", verb="written by")
    if node.builds_on is not None:
        lines.append(f"{indent}  builds on:")
        _table_lines(node.builds_on, lines, indent + "    ")


def _run_lines(run: RunNode, lines: list[str], indent: str, verb: str) -> None:
    head = f"{indent}{verb} {run.task} run {run.run_id[:12]}"
    if run.shown_above:
        lines.append(f"{head} (shown above)")
        _landing_lines(run, lines, indent)
        return
    lines.append(f"{head}, {run.started_at} UTC, {run.status}")
    lines.append(
        f"{indent}  code spark_ml {run.spark_ml_version} (git {(run.git_commit or 'unknown')[:12]}), "
        f"config {(run.config_hash or '?')[:12]}"
    )
    if run.compute:
        lines.append(f"{indent}  ran on {run.compute}")
    if run.mlflow_run_id:
        lines.append(f"{indent}  MLflow run {run.mlflow_run_id}" + (f", model {run.model}" if run.model else ""))
    elif run.model:
        lines.append(f"{indent}  model {run.model}")
    _landing_lines(run, lines, indent)
    if run.inputs:
        lines.append(f"{indent}  read:")
        for child in run.inputs:
            _table_lines(child, lines, indent + "    ")


def _landing_lines(run: RunNode, lines: list[str], indent: str) -> None:
    if not run.landing_files:
        return
    lines.append(f"{indent}  landing files ({len(run.landing_files)}):")
    for f in run.landing_files:
        by = "this run" if f["ingested_by_this_run"] else f"run {f['ingest_run_id'][:12]}"
        lines.append(f"{indent}    {f['source_file']}  sha256 {f['sha256'][:16]}  ingested by {by}")
