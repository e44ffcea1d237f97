"""Configuration: conf/ layers -> one frozen, typed `Settings` object. No pyspark import here.

Layers, later wins: ``<conf_dir>/base/*.yml`` then ``<conf_dir>/<env>/*.yml`` (deep merge, except ``train.params`` and
``train.grid``, which a later layer replaces whole), then
``--set a.b.c=value`` overrides. ``${env:NAME}`` (or ``${env:NAME:-default}``) in a string value is
replaced by the environment variable; an unset variable without default is a `ConfigError` naming it.
Every error names the file, the dotted key and what was expected.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
    model_validator,
)

from spark_ml.errors import ConfigError

ENV_PATTERN = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
SECRET_KEY_PATTERN = re.compile(r"(password|passwd|secret|token|api[_-]?key|credential)", re.IGNORECASE)
MASK = "***"
ESTIMATOR_NAMES = ("logistic_regression", "random_forest", "gbt", "xgboost")

Month = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
TableName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")]
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
ColumnType = Literal["string", "int", "bigint", "double", "boolean", "date", "timestamp"]


def default_conf_dir() -> Path:
    """The conf/ folder shipped inside the wheel (a link to the repository's conf/ in a checkout)."""
    return Path(__file__).resolve().parent / "conf"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProjectSettings(_Model):
    name: str = "spark_ml"


class LakehouseSettings(_Model):
    root: str = "./lakehouse"
    catalog: str | None = None
    landing: str | None = None

    @property
    def landing_dir(self) -> str:
        return self.landing or f"{self.root.rstrip('/')}/landing"


class SparkSettings(_Model):
    mode: Literal["auto", "local", "connect"] = "auto"
    master: str = "local[2]"
    remote: str | None = None
    app_name: str = "spark-ml"
    shuffle_partitions: int | None = Field(default=None, ge=1)
    delta_packages: bool = True
    conf: dict[str, str] = Field(default_factory=dict)


class LoggingSettings(_Model):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class MlflowSettings(_Model):
    tracking_uri: str | None = None
    registry_uri: str | None = None
    experiment: str = "spark_ml"


class ModelSettings(_Model):
    name: Identifier = "model"
    champion_alias: Identifier = "champion"
    challenger_alias: Identifier = "challenger"


class TableSpec(_Model):
    description: str = ""
    partition_by: tuple[Identifier, ...] = ()
    location: str | None = None


class OpsSettings(_Model):
    runs_table: TableName = "ml.runs"
    quality_table: TableName = "ml.data_quality"


class RetentionSettings(_Model):
    """Delta retention, set as table properties when spark_ml creates a table (an existing table
    keeps its own: ALTER TABLE ... SET TBLPROPERTIES). A version can be read by time travel, and so
    reproduced, while its log entry exists (at least `log_retention_days` after its commit) and
    its data files exist (at least `deleted_file_retention_days` after a later commit replaced
    them, once VACUUM runs): the smaller of the two is the guaranteed reproduction window."""

    log_retention_days: int = Field(default=30, ge=1)
    deleted_file_retention_days: int = Field(default=7, ge=0)


Severity = Literal["error", "warn"]


class _Check(_Model):
    severity: Severity = "error"
    name: str | None = None


class NotNullCheck(_Check):
    check: Literal["not_null"]
    columns: tuple[Identifier, ...] = Field(min_length=1)


class UniqueCheck(_Check):
    check: Literal["unique"]
    columns: tuple[Identifier, ...] = Field(min_length=1)


class AcceptedValuesCheck(_Check):
    check: Literal["accepted_values"]
    column: Identifier
    values: tuple[str | int | float, ...] = Field(min_length=1)


class RangeCheck(_Check):
    check: Literal["range"]
    column: Identifier
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _has_bound(self) -> RangeCheck:
        if self.min is None and self.max is None:
            raise ValueError("a range check needs min, max or both")
        return self


class MinRowsCheck(_Check):
    check: Literal["min_rows"]
    min: int = Field(ge=0)


class ReferentialCheck(_Check):
    check: Literal["referential"]
    column: Identifier
    ref_table: TableName
    ref_column: Identifier


Check = Annotated[
    NotNullCheck | UniqueCheck | AcceptedValuesCheck | RangeCheck | MinRowsCheck | ReferentialCheck,
    Field(discriminator="check"),
]


RowRule = Annotated[AcceptedValuesCheck | RangeCheck | ReferentialCheck, Field(discriminator="check")]


class SourceSpec(_Model):
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


class IngestSettings(_Model):
    sources: dict[Identifier, SourceSpec] = Field(default_factory=dict)


class SilverSettings(_Model):
    timezone: str = "America/New_York"


class FeatureSettings(_Model):
    output: TableName = "gold.flight_features"
    months: tuple[Month, ...] = ()
    delay_threshold_minutes: int = 15
    weather_tolerance_hours: int = Field(default=3, ge=0)
    carrier_window_days: int = Field(default=7, ge=1)
    route_window_days: int = Field(default=28, ge=1)
    origin_window_days: int = Field(default=7, ge=1)
    reference_year: int = 2013


class DateWindow(_Model):
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> DateWindow:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class SplitSettings(_Model):
    train: DateWindow
    validation: DateWindow
    test: DateWindow

    @model_validator(mode="after")
    def _in_order(self) -> SplitSettings:
        if not (self.train.end < self.validation.start and self.validation.end < self.test.start):
            raise ValueError("windows must be in time order without overlap: train < validation < test")
        return self


class TrainSettings(_Model):
    table: TableName
    label: Identifier
    keys: tuple[Identifier, ...] = Field(min_length=1)
    time_column: Identifier
    numeric: tuple[Identifier, ...] = ()
    categorical: tuple[Identifier, ...] = ()
    split: SplitSettings
    estimator: Literal["logistic_regression", "random_forest", "gbt", "xgboost"] = "logistic_regression"
    params: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    parallelism: int = Field(default=1, ge=1)
    class_weighting: bool = False
    seed: int = 42
    calibration_bins: int = Field(default=10, ge=2)

    @model_validator(mode="after")
    def _has_features(self) -> TrainSettings:
        if not self.numeric and not self.categorical:
            raise ValueError("train needs at least one numeric or categorical feature")
        overlap = set(self.numeric) & set(self.categorical)
        if overlap:
            raise ValueError(f"columns {sorted(overlap)} are both numeric and categorical")
        if self.label in self.numeric or self.label in self.categorical:
            raise ValueError(f"the label {self.label!r} is also listed as a feature")
        return self

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric + self.categorical


class PromoteSettings(_Model):
    metric: Literal["auc_roc", "auc_pr"] = "auc_roc"
    min_auc_roc: float = Field(default=0.6, ge=0.0, le=1.0)
    min_auc_pr: float = Field(default=0.0, ge=0.0, le=1.0)
    max_regression: float = Field(default=0.005, ge=0.0)


class ScoreSettings(_Model):
    table: TableName | None = None
    month: Month = "2013-12"
    output: TableName
    alias: Identifier = "champion"


class MonitorSettings(_Model):
    output: TableName = "ml.monitoring"
    bins: int = Field(default=10, ge=2, le=100)
    psi_warn: float = Field(default=0.1, ge=0.0)
    psi_alert: float = Field(default=0.25, ge=0.0)

    @model_validator(mode="after")
    def _ordered(self) -> MonitorSettings:
        if self.psi_alert < self.psi_warn:
            raise ValueError("psi_alert must be >= psi_warn")
        return self


PipelineStep = Literal["land-demo-data", "ingest", "silver", "features", "train", "promote", "score", "monitor"]


class PipelineSettings(_Model):
    steps: tuple[PipelineStep, ...] = ("ingest", "silver", "features", "train", "promote", "score", "monitor")
    report: bool = True


NotebookSeverity = Literal["info", "warning", "error"]


class NotebookSettings(_Model):
    """`spark-ml notebook check|run`: rule switches and thresholds (rule ids are checked by spark_ml.notebook)."""

    disabled_rules: tuple[str, ...] = ()
    severity: dict[str, NotebookSeverity] = Field(default_factory=dict)
    fail_on: Literal["info", "warning", "error", "never"] = "warning"
    max_definition_lines: int = Field(default=30, ge=1)
    allowed_globals: tuple[Identifier, ...] = ()
    cell_timeout_seconds: int = Field(default=600, ge=1)


class Settings(_Model):
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
    notebook: NotebookSettings = NotebookSettings()

    # -- derived values -------------------------------------------------------------------------

    def table_location(self, name: str) -> str:
        """Where a logical table lives: a Delta path locally, a Unity Catalog name on Databricks."""
        spec = self.tables.get(name)
        if spec is None:
            raise ConfigError(f"unknown table {name!r}{_suggest(name, self.tables)}")
        schema, table = name.split(".", 1)
        if self.lakehouse.catalog:
            return f"{self.lakehouse.catalog}.{schema}.{table}"
        root = self.lakehouse.root.rstrip("/")
        return f"{root}/{spec.location}" if spec.location else f"{root}/{schema}/{table}"

    @property
    def uses_catalog(self) -> bool:
        return bool(self.lakehouse.catalog)

    @property
    def registered_model_name(self) -> str:
        if self.lakehouse.catalog:
            return f"{self.lakehouse.catalog}.ml.{self.model.name}"
        return self.model.name

    @property
    def tracking_uri(self) -> str:
        return self.mlflow.tracking_uri or f"sqlite:///{self.lakehouse.root.rstrip('/')}/mlflow/mlflow.db"

    @property
    def registry_uri(self) -> str:
        return self.mlflow.registry_uri or self.tracking_uri

    @property
    def artifact_location(self) -> str:
        return f"{self.lakehouse.root.rstrip('/')}/mlflow/artifacts"

    def require_train(self) -> TrainSettings:
        if self.train is None:
            raise ConfigError("the configuration has no 'train' section")
        return self.train

    def require_score(self) -> ScoreSettings:
        if self.score is None:
            raise ConfigError("the configuration has no 'score' section")
        return self.score

    def secret_values(self) -> tuple[str, ...]:
        return tuple(v.get_secret_value() for v in self.secrets.values() if v.get_secret_value())

    def dump(self, masked: bool = True) -> dict[str, Any]:
        """The resolved configuration as plain data; secrets replaced by '***' when masked."""
        data = self.model_dump(mode="json")
        data["secrets"] = {k: (MASK if masked else v.get_secret_value()) for k, v in self.secrets.items()}
        return _mask(data) if masked else data


def _mask(data: Any, key: str = "") -> Any:
    if isinstance(data, dict):
        return {k: _mask(v, str(k)) for k, v in data.items()}
    if isinstance(data, list):
        return [_mask(v, key) for v in data]
    if key and SECRET_KEY_PATTERN.search(key) and data not in (None, ""):
        return MASK
    return data


def month_bounds(month: str) -> tuple[date, date]:
    """'2013-12' -> (2013-12-01, 2013-12-31)."""
    year, number = (int(p) for p in month.split("-"))
    first = date(year, number, 1)
    following = date(year + number // 12, number % 12 + 1, 1)
    return first, date.fromordinal(following.toordinal() - 1)


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}} -> {'a.b': 1}; lists stay values."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, f"{dotted}."))
        else:
            out[dotted] = value
    return out


# -- loading --------------------------------------------------------------------------------------


@dataclass
class _Layered:
    data: dict[str, Any]
    origin: dict[str, str]

    def source_of(self, dotted: str) -> str:
        parts = dotted.split(".")
        for i in range(len(parts), 0, -1):
            found = self.origin.get(".".join(parts[:i]))
            if found:
                return found
        return "the configuration"


def load_settings(
    env: str = "local",
    conf_dir: str | Path | None = None,
    overrides: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read the layers, interpolate, validate. Raises ConfigError naming file, key and problem."""
    base_dir = Path(conf_dir) if conf_dir is not None else default_conf_dir()
    if not (base_dir / "base").is_dir():
        raise ConfigError(f"conf folder {base_dir} has no base/ folder (pass --conf-dir DIR holding base/ and <env>/)")
    env_dir = base_dir / env
    if env == "base" or not env_dir.is_dir():
        known = sorted(p.name for p in base_dir.iterdir() if p.is_dir() and p.name != "base")
        raise ConfigError(f"unknown env {env!r}: no folder {env_dir} (available: {', '.join(known)})")
    layered = _Layered({}, {})
    for folder in (base_dir / "base", env_dir):
        for path in sorted(folder.glob("*.yml")) + sorted(folder.glob("*.yaml")):
            _merge(layered, _read_yaml(path), str(path))
    for item in overrides:
        key, value = _parse_override(item)
        _set_path(layered, _path(key), value, f"--set {key}")
    layered.data["env"] = env
    resolved = _interpolate(layered.data, layered, os.environ if environ is None else environ, "")
    resolved = _with_operational_tables(_absolute_root(resolved))
    try:
        settings = Settings.model_validate(resolved)
    except ValidationError as exc:
        raise ConfigError(_format_validation(exc, layered)) from None
    _check_references(settings, layered)
    return settings


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"malformed YAML in {path}{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of keys at the top level, found {type(data).__name__}")
    return data


def _parse_override(item: str) -> tuple[str, Any]:
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key or not re.fullmatch(r"[A-Za-z_][\w-]*(\.[A-Za-z_][\w.-]*)*", key):
        raise ConfigError(f"bad --set {item!r}: expected KEY=VALUE with a dotted key, e.g. train.seed=7")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


def _path(dotted: str) -> list[str]:
    # Table names hold a dot themselves ("tables.bronze.flights.location"): the two parts after
    # a mapping keyed by table name form one key.
    parts = dotted.split(".")
    if parts[0] in ("tables", "quality") and len(parts) >= 3:
        parts = [parts[0], f"{parts[1]}.{parts[2]}", *parts[3:]]
    return parts


def _set_path(layered: _Layered, parts: list[str], value: Any, source: str) -> None:
    """A --set replaces the value at its key (a mapping value is not merged into the old one)."""
    node = layered.data
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
            layered.origin[".".join(parts[: i + 1])] = source
        node = child
    node[parts[-1]] = value
    dotted = ".".join(parts)
    layered.origin[dotted] = source
    if isinstance(value, dict):
        for sub in flatten(value):
            layered.origin[f"{dotted}.{sub}"] = source


def _merge(layered: _Layered, incoming: Mapping[str, Any], source: str) -> None:
    _merge_into(layered, layered.data, incoming, source, "")


# Mappings that belong to one choice (the estimator's parameters and grid): a later layer that sets
# them replaces them whole, since merging one estimator's parameters into another's is an error.
REPLACED_WHOLE = frozenset({"train.params", "train.grid"})


def _merge_into(layered: _Layered, node: dict[str, Any], incoming: Mapping[str, Any], source: str, prefix: str) -> None:
    for key, value in incoming.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(node.get(key), dict) and value and dotted not in REPLACED_WHOLE:
            _merge_into(layered, node[key], value, source, f"{dotted}.")
            continue
        node[key] = value
        layered.origin[dotted] = source
        if isinstance(value, dict):
            for sub in flatten(value):
                layered.origin[f"{dotted}.{sub}"] = source


def _interpolate(value: Any, layered: _Layered, environ: Mapping[str, str], dotted: str) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, layered, environ, f"{dotted}.{k}" if dotted else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, layered, environ, dotted) for v in value]
    if not isinstance(value, str) or "${" not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        raise ConfigError(
            f"environment variable {name} is not set (needed by '{dotted}' in {layered.source_of(dotted)})"
        )

    out = ENV_PATTERN.sub(replace, value)
    if "${" in out:
        raise ConfigError(
            f"unsupported interpolation in '{dotted}' ({layered.source_of(dotted)}): "
            "only ${env:NAME} and ${env:NAME:-default} are supported"
        )
    return out


def _with_operational_tables(data: dict[str, Any]) -> dict[str, Any]:
    """Declare the run-manifest, data-quality and monitoring tables when a conf leaves them out."""
    ops: dict[str, Any] = data["ops"] if isinstance(data.get("ops"), dict) else {}
    monitor: dict[str, Any] = data["monitor"] if isinstance(data.get("monitor"), dict) else {}
    tables = data.get("tables")
    if tables is not None and not isinstance(tables, dict):
        return data
    tables = dict(tables or {})
    for name in (
        ops.get("runs_table", OpsSettings().runs_table),
        ops.get("quality_table", OpsSettings().quality_table),
        monitor.get("output", MonitorSettings().output),
    ):
        if isinstance(name, str):
            tables.setdefault(name, {})
    return {**data, "tables": tables}


def _absolute_root(data: dict[str, Any]) -> dict[str, Any]:
    lakehouse = data.get("lakehouse")
    if isinstance(lakehouse, dict) and isinstance(lakehouse.get("root"), str):
        root = lakehouse["root"]
        if "://" not in root and not root.startswith(("/", "dbfs:")):
            lakehouse = {**lakehouse, "root": os.path.abspath(root)}
            data = {**data, "lakehouse": lakehouse}
    return data


_EXPECTED = {
    "int_parsing": "an integer",
    "int_type": "an integer",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "date_from_datetime_parsing": "a date YYYY-MM-DD",
    "date_parsing": "a date YYYY-MM-DD",
    "date_type": "a date YYYY-MM-DD",
    "dict_type": "a mapping",
    "list_type": "a list",
    "tuple_type": "a list",
    "missing": "a value (the key is required)",
}


def _format_validation(exc: ValidationError, layered: _Layered) -> str:
    messages = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if not (isinstance(p, str) and p in _UNION_TAGS)]
        dotted = ".".join(loc)
        where = layered.source_of(dotted)
        kind = err["type"]
        if kind == "extra_forbidden":
            parent = _model_at(loc[:-1])
            hint = _suggest(loc[-1], parent.model_fields if parent else {})
            if where.startswith("--set ") and where[6:].startswith(f"{dotted}."):
                dotted = where[6:]
            messages.append(f"unknown key '{dotted}' in {where}{hint}")
        elif kind == "literal_error":
            expected = err.get("ctx", {}).get("expected", "")
            messages.append(f"invalid value {err.get('input')!r} for '{dotted}' in {where}: expected one of {expected}")
        elif kind == "string_pattern_mismatch":
            messages.append(f"invalid value {err.get('input')!r} for '{dotted}' in {where}: {_pattern_words(err)}")
        elif kind in _EXPECTED:
            got = "" if kind == "missing" else f", got {err.get('input')!r}"
            messages.append(f"invalid value for '{dotted}' in {where}: expected {_EXPECTED[kind]}{got}")
        else:
            text = str(err["msg"]).removeprefix("Value error, ")
            messages.append(f"invalid value for '{dotted}' in {where}: {text}")
    return "; ".join(messages)


_UNION_TAGS = {"not_null", "unique", "accepted_values", "range", "min_rows", "referential"}


def _pattern_words(err: Any) -> str:
    pattern = err.get("ctx", {}).get("pattern", "")
    if "\\d{4}-" in pattern:
        return "expected a month YYYY-MM"
    if "\\." in pattern:
        return "expected a table name <schema>.<table> in lower case"
    return "expected a name of letters, digits and underscores"


def _model_at(loc: Sequence[str]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Settings
    for part in loc:
        if model is None:
            return None
        field = model.model_fields.get(part)
        if field is None:
            # a dict or list level: keep the model of the values
            continue
        model = _model_of(field.annotation)
    return model


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _suggest(word: str, choices: Iterable[str]) -> str:
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def _table_references(settings: Settings, configured: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for name, src in settings.ingest.sources.items():
        yield f"ingest.sources.{name}.target", src.target
        yield f"ingest.sources.{name}.quarantine", src.quarantine
        for i, rule in enumerate(src.rules):
            if isinstance(rule, ReferentialCheck):
                yield f"ingest.sources.{name}.rules.{i}.ref_table", rule.ref_table
    for table, checks in settings.quality.items():
        yield f"quality.{table}", table
        for i, check in enumerate(checks):
            if isinstance(check, ReferentialCheck):
                yield f"quality.{table}.{i}.ref_table", check.ref_table
    yield "ops.runs_table", settings.ops.runs_table
    yield "ops.quality_table", settings.ops.quality_table
    yield "monitor.output", settings.monitor.output
    if "features" in configured:
        yield "features.output", settings.features.output
    if settings.train is not None:
        yield "train.table", settings.train.table
    if settings.score is not None:
        yield "score.output", settings.score.output
        if settings.score.table:
            yield "score.table", settings.score.table


def _check_references(settings: Settings, layered: _Layered) -> None:
    for dotted, table in _table_references(settings, layered.data):
        if table not in settings.tables:
            raise ConfigError(
                f"unknown table {table!r} at '{dotted}' in {layered.source_of(dotted)}"
                f"{_suggest(table, settings.tables)} (tables are declared under 'tables:')"
            )
    for name, spec in settings.tables.items():
        if spec.location is None:
            continue
        location = spec.location
        normalized = os.path.normpath(location)
        if location.startswith("/") or "://" in location or normalized == ".." or normalized.startswith("../"):
            dotted = f"tables.{name}.location"
            raise ConfigError(
                f"table location {location!r} at '{dotted}' in {layered.source_of(dotted)} is outside the "
                "lakehouse root: use a relative path inside lakehouse.root"
            )
