"""The settings schema: one frozen pydantic model per section of conf/*.yml.

Sections owned by a higher layer (the notebook checker's `notebook:`) are kept here as plain
mappings and validated by their owner with `Settings.section(...)`, so this package never imports
upward and their errors still name the file and key.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field, PrivateAttr, SecretStr, ValidationError, field_validator, model_validator

from spark_ml.config.base import ColumnType, Identifier, Model, Month, TableName
from spark_ml.config.checks import Check, ReferentialCheck, RowRule
from spark_ml.config.layout import Layout, TableRef
from spark_ml.config.secrets import MASK, mask_secret_keys
from spark_ml.config.training import TASK_METRICS, MetricName, TrainSettings
from spark_ml.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class ProjectSettings(Model):
    """`name`: the use case's name, shown in summaries, reports and run manifests."""

    name: str = "spark_ml"


class LakehouseSettings(Model):
    root: str = "./lakehouse"
    catalog: str | None = None
    landing: str | None = None

    @property
    def landing_dir(self) -> str:
        return self.landing or f"{self.root.rstrip('/')}/landing"


class SparkSettings(Model):
    mode: Literal["auto", "local", "connect"] = "auto"
    master: str = "local[2]"
    remote: str | None = None
    app_name: str = "spark-ml"
    shuffle_partitions: int | None = Field(default=None, ge=1)
    delta_packages: bool = True
    conf: dict[str, str] = Field(default_factory=dict)


class LoggingSettings(Model):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class MlflowSettings(Model):
    tracking_uri: str | None = None
    registry_uri: str | None = None
    experiment: str = "spark_ml"


class ModelSettings(Model):
    name: Identifier = "model"
    champion_alias: Identifier = "champion"
    challenger_alias: Identifier = "challenger"


class TableSpec(Model):
    """`properties`: Delta table properties set when spark_ml creates the table (an existing table
    keeps its own, as with retention), e.g. `delta.dataSkippingNumIndexedCols`."""

    description: str = ""
    partition_by: tuple[Identifier, ...] = ()
    location: str | None = None
    properties: dict[str, str] = Field(default_factory=dict)


class OpsSettings(Model):
    """Operational tables every run writes to: run manifests, data-quality results, ingested files."""

    runs_table: TableName = "ml.runs"
    quality_table: TableName = "ml.data_quality"
    ingested_files_table: TableName = "bronze.ingested_files"


class RetentionSettings(Model):
    """Delta retention, set as table properties when spark_ml creates a table (an existing table
    keeps its own: ALTER TABLE ... SET TBLPROPERTIES). A version can be read by time travel, and so
    reproduced, while its log entry exists (at least `log_retention_days` after its commit) and
    its data files exist (at least `deleted_file_retention_days` after a later commit replaced
    them, once VACUUM runs): the smaller of the two is the guaranteed reproduction window."""

    log_retention_days: int = Field(default=30, ge=1)
    deleted_file_retention_days: int = Field(default=7, ge=0)


class SourceSpec(Model):
    path: str
    pattern: str = "*.csv"
    columns: dict[Identifier, ColumnType]
    required: tuple[Identifier, ...] = ()
    rules: tuple[RowRule, ...] = ()
    target: TableName
    quarantine: TableName
    null_value: str = "NA"
    delimiter: str = ","
    timestamp_format: str | None = None

    @model_validator(mode="after")
    def _required_are_columns(self) -> SourceSpec:
        unknown = [c for c in self.required if c not in self.columns]
        if unknown:
            raise ValueError(f"required columns {unknown} are not in columns {list(self.columns)}")
        bad = [r.column for r in self.rules if r.column not in self.columns]
        if bad:
            raise ValueError(f"rules name columns {bad} that are not in columns {list(self.columns)}")
        return self


class IngestSettings(Model):
    sources: dict[Identifier, SourceSpec] = Field(default_factory=dict)


class SilverStep(Model):
    """One silver table: the silver builder `builder` (registered by a use case, see
    spark_ml/features/registry.py) turns the rows of `source` into the rows of `target`."""

    source: TableName
    target: TableName
    builder: Identifier


# The flight use case's silver tables: the default, so that a conf folder without `silver.steps`
# (0.1.0's) builds what it always built. Written in this order: dimensions first.
FLIGHT_SILVER_STEPS = tuple(
    SilverStep(source=f"bronze.{table}", target=f"silver.{table}", builder=table)
    for table in ("airlines", "airports", "planes", "weather", "flights")
)


class SilverSettings(Model):
    """The `silver` task: `steps` lists the bronze -> silver tables and the builder of each, in the
    order they are written; `timezone` is the zone local clock times of the data are in."""

    timezone: str = "America/New_York"
    steps: tuple[SilverStep, ...] = FLIGHT_SILVER_STEPS

    @field_validator("steps")
    @classmethod
    def _one_step_per_target(cls, steps: tuple[SilverStep, ...]) -> tuple[SilverStep, ...]:
        targets = [s.target for s in steps]
        repeated = sorted({t for t in targets if targets.count(t) > 1})
        if repeated:
            raise ValueError(f"each silver table is written by one step, but {repeated} appear more than once")
        return steps


class FeatureSettings(Model):
    """The `features` task. `builder` names the feature builder (the registry in
    spark_ml/features/registry.py); `params` are that builder's own parameters, validated by it.
    The flight-delay builder (`flights`, the default) reads the keys after `params` instead, kept
    at the top of the section for the configurations written before builders existed."""

    builder: Identifier = "flights"
    output: TableName = "gold.flight_features"
    months: tuple[Month, ...] = ()
    params: dict[str, Any] = Field(default_factory=dict)
    # -- the flights builder's parameters --
    delay_threshold_minutes: int = 15
    weather_tolerance_hours: int = Field(default=3, ge=0)
    carrier_window_days: int = Field(default=7, ge=1)
    route_window_days: int = Field(default=28, ge=1)
    origin_window_days: int = Field(default=7, ge=1)
    reference_year: int = 2013


class PromoteSettings(Model):
    """The gate. `metric`: compared with the champion's on the same test rows, in its direction
    (lower RMSE and log loss are better); default the train task's `select_by`. `min` / `max`:
    absolute bounds per metric of the task. 0.1.0's `min_auc_roc` / `min_auc_pr` keep working
    for the binary task (`min` overrides them). `max_regression`: how much worse than the champion
    a challenger may be on `metric`."""

    metric: MetricName = "auc_roc"
    min: dict[MetricName, float] = Field(default_factory=dict)
    max: dict[MetricName, float] = Field(default_factory=dict)
    min_auc_roc: float = Field(default=0.6, ge=0.0, le=1.0)
    min_auc_pr: float = Field(default=0.0, ge=0.0, le=1.0)
    max_regression: float = Field(default=0.005, ge=0.0)

    def bounds(self, task: str) -> list[tuple[str, str, float]]:
        """(metric, 'min' | 'max', bound) of the gate for `task`, in a stable order."""
        minimums: dict[str, float] = (
            {"auc_roc": self.min_auc_roc, "auc_pr": self.min_auc_pr} if task == "binary" else {}
        )
        minimums.update({str(k): v for k, v in self.min.items()})
        return [(m, "min", v) for m, v in minimums.items()] + [(m, "max", v) for m, v in self.max.items()]


class ScoreSettings(Model):
    table: TableName | None = None
    month: Month = "2013-12"
    output: TableName
    alias: Identifier = "champion"
    # A binary logistic-regression pipeline is applied as SQL columns (spark_ml.ml.compiled: the
    # same values, about 3x faster); false applies every model with PipelineModel.transform.
    compiled: bool = True


class MonitorSettings(Model):
    output: TableName = "ml.monitoring"
    bins: int = Field(default=10, ge=2, le=100)
    psi_warn: float = Field(default=0.1, ge=0.0)
    psi_alert: float = Field(default=0.25, ge=0.0)
    # The drift status that retrains (train, then promote): `alert`, `warn` (warn or alert) or `never`.
    retrain_on: Literal["alert", "warn", "never"] = "never"

    @model_validator(mode="after")
    def _ordered(self) -> MonitorSettings:
        if self.psi_alert < self.psi_warn:
            raise ValueError("psi_alert must be >= psi_warn")
        return self


class PipelineSettings(Model):
    """`steps` are task names, checked against the task registry when the pipeline starts."""

    steps: tuple[str, ...] = ("ingest", "silver", "features", "train", "promote", "score", "monitor")
    report: bool = True


class Settings(Model):
    env: str = "local"
    project: ProjectSettings = ProjectSettings()
    lakehouse: LakehouseSettings = LakehouseSettings()
    spark: SparkSettings = SparkSettings()
    logging: LoggingSettings = LoggingSettings()
    mlflow: MlflowSettings = MlflowSettings()
    model: ModelSettings = ModelSettings()
    ops: OpsSettings = OpsSettings()
    retention: RetentionSettings = RetentionSettings()
    secrets: dict[Identifier, SecretStr] = Field(default_factory=dict)
    tables: dict[TableName, TableSpec] = Field(default_factory=dict)
    ingest: IngestSettings = IngestSettings()
    quality: dict[TableName, tuple[Check, ...]] = Field(default_factory=dict)
    silver: SilverSettings = SilverSettings()
    features: FeatureSettings = FeatureSettings()
    train: TrainSettings | None = None
    promote: PromoteSettings = PromoteSettings()
    score: ScoreSettings | None = None
    monitor: MonitorSettings = MonitorSettings()
    pipeline: PipelineSettings = PipelineSettings()
    notebook: dict[str, Any] = Field(default_factory=dict)

    # Where each dotted key came from (file or --set), for errors raised after loading.
    _origins: dict[str, str] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _gate_metric_of_the_task(cls, data: Any) -> Any:
        """Without `promote.metric`, a multiclass or regression conf gates on its `train.select_by`
        (the binary default stays auc_roc, as in 0.1.0)."""
        if not isinstance(data, dict):
            return data
        train, promote = data.get("train"), data.get("promote") or {}
        if isinstance(train, dict) and isinstance(promote, dict) and "metric" not in promote:
            task = train.get("task", "binary")
            if task in TASK_METRICS and task != "binary":
                return {**data, "promote": {**promote, "metric": train.get("select_by", TASK_METRICS[task][0])}}
        return data

    @model_validator(mode="after")
    def _gate_fits_the_task(self) -> Settings:
        if self.train is None:
            return self
        task, metrics = self.train.task, self.train.metrics
        named = [("promote.metric", self.promote.metric)]
        named += [(f"promote.{side}.{m}", m) for side in ("min", "max") for m in getattr(self.promote, side)]
        for key, metric in named:
            if metric not in metrics:
                raise ValueError(
                    f"{key}: {metric!r} is not a metric of task {task!r} (its metrics: {', '.join(metrics)})"
                )
        if task != "binary":
            old = sorted({"min_auc_roc", "min_auc_pr"} & self.promote.model_fields_set)
            if old:
                raise ValueError(
                    f"promote.{old[0]} gates a binary classifier: for task {task!r} remove it and use promote.min / "
                    "promote.max"
                )
        return self

    # -- the deployment layout --------------------------------------------------------------------

    @property
    def layout(self) -> Layout:
        return Layout(self.lakehouse.root, self.lakehouse.catalog, self.mlflow.tracking_uri, self.mlflow.registry_uri)

    def table(self, name: str) -> TableRef:
        """The address of a declared table (a Delta path locally, a Unity Catalog name on Databricks)."""
        spec = self.tables.get(name)
        if spec is None:
            from spark_ml.config.messages import suggest

            raise ConfigError(f"unknown table {name!r}{suggest(name, self.tables)}")
        return self.layout.table(name, spec.location)

    def table_location(self, name: str) -> str:
        """A table's Delta path, or its Unity Catalog name."""
        return self.table(name).location

    @property
    def uses_catalog(self) -> bool:
        return self.layout.uses_catalog

    @property
    def registered_model_name(self) -> str:
        return self.layout.model_name(self.model.name)

    @property
    def tracking_uri(self) -> str:
        return self.layout.tracking_uri

    @property
    def registry_uri(self) -> str:
        return self.layout.registry_uri

    @property
    def artifact_location(self) -> str:
        return self.layout.artifact_location

    # -- sections ---------------------------------------------------------------------------------

    def require_train(self) -> TrainSettings:
        if self.train is None:
            raise ConfigError("the configuration has no 'train' section")
        return self.train

    def require_score(self) -> ScoreSettings:
        if self.score is None:
            raise ConfigError("the configuration has no 'score' section")
        return self.score

    def section(self, name: str, model: type[M]) -> M:
        """A section kept as a mapping here (`notebook`, or a dotted key such as `features.params`),
        validated by the model of the package that owns it; errors name the file and the dotted key
        like any other configuration error."""
        from spark_ml.config.messages import format_validation

        value: Any = self
        for part in name.split("."):
            value = value.get(part, {}) if isinstance(value, dict) else getattr(value, part)
        try:
            return model.model_validate(value)
        except ValidationError as exc:
            raise ConfigError(format_validation(exc, self._origins, model, prefix=name)) from None

    def remember_origins(self, origins: dict[str, str]) -> None:
        """Keep where each dotted key came from (the loader calls this once)."""
        self._origins.update(origins)

    def origin(self, dotted: str) -> str:
        """The file (or --set) a dotted key came from, for messages raised after loading."""
        from spark_ml.config.messages import source_of

        return source_of(self._origins, dotted)

    def secret_values(self) -> tuple[str, ...]:
        return tuple(v.get_secret_value() for v in self.secrets.values() if v.get_secret_value())

    def dump(self, masked: bool = True) -> dict[str, Any]:
        """The resolved configuration as plain data; secrets replaced by '***' when masked."""
        data = self.model_dump(mode="json")
        data["secrets"] = {k: (MASK if masked else v.get_secret_value()) for k, v in self.secrets.items()}
        return mask_secret_keys(data) if masked else data


def table_references(settings: Settings, configured_features: bool) -> list[tuple[str, str]]:
    """(dotted key, table name) of every table a section names: all must be declared under `tables:`."""
    refs: list[tuple[str, str]] = []
    for name, src in settings.ingest.sources.items():
        refs += [(f"ingest.sources.{name}.target", src.target), (f"ingest.sources.{name}.quarantine", src.quarantine)]
        refs += [
            (f"ingest.sources.{name}.rules.{i}.ref_table", rule.ref_table)
            for i, rule in enumerate(src.rules)
            if isinstance(rule, ReferentialCheck)
        ]
    for table, checks in settings.quality.items():
        refs.append((f"quality.{table}", table))
        refs += [
            (f"quality.{table}.{i}.ref_table", check.ref_table)
            for i, check in enumerate(checks)
            if isinstance(check, ReferentialCheck)
        ]
    refs += [
        ("ops.runs_table", settings.ops.runs_table),
        ("ops.quality_table", settings.ops.quality_table),
        ("monitor.output", settings.monitor.output),
    ]
    if settings.ingest.sources:
        refs.append(("ops.ingested_files_table", settings.ops.ingested_files_table))
    if configured_features:
        refs.append(("features.output", settings.features.output))
    if "steps" in settings.silver.model_fields_set:  # the default steps are checked when silver runs
        for i, step in enumerate(settings.silver.steps):
            refs += [(f"silver.steps.{i}.source", step.source), (f"silver.steps.{i}.target", step.target)]
    if settings.train is not None:
        refs.append(("train.table", settings.train.table))
    if settings.score is not None:
        refs.append(("score.output", settings.score.output))
        if settings.score.table:
            refs.append(("score.table", settings.score.table))
    return refs
