"""Configuration: conf/ layers -> one frozen, typed `Settings`. No pyspark import here.

    loader.py        load_settings: the steps below in order, and the shipped conf/ folder
    layers.py        base, env and --set layers read (yaml.safe_load) and merged, each key's origin
    model_choice.py  train.candidates vs the single train.estimator across layers
    interpolation.py ${env:NAME} and ${env:NAME:-default}
    defaults.py      what a conf leaves implicit: operational tables, an absolute lakehouse root
    consistency.py   checks across sections: declared tables, locations inside the root, quarantines
    schema.py        the settings models, one per section of conf/*.yml
    base.py          the base model and the constrained value types
    training.py      the train: section (columns, split, candidate models)
    checks.py        the data-quality DSL (quality: and ingest row rules)
    layout.py        derived deployment layout: table addresses (TableRef), MLflow stores, staging
    messages.py      error messages naming the file, the key and the closest valid name
    secrets.py       the mask and redaction of secret values

May import: spark_ml.errors, pydantic, PyYAML.
"""

from __future__ import annotations

from spark_ml.config.base import ColumnType, Identifier, Model, Month, TableName
from spark_ml.config.checks import (
    AcceptedValuesCheck,
    Check,
    MinRowsCheck,
    NotNullCheck,
    RangeCheck,
    ReferentialCheck,
    RowRule,
    Severity,
    UniqueCheck,
    quarantine_table,
)
from spark_ml.config.layers import flatten
from spark_ml.config.layout import Layout, TableRef
from spark_ml.config.loader import default_conf_dir, load_settings
from spark_ml.config.schema import (
    FeatureSettings,
    IngestSettings,
    LakehouseSettings,
    LoggingSettings,
    MlflowSettings,
    ModelSettings,
    MonitorSettings,
    OpsSettings,
    PipelineSettings,
    ProjectSettings,
    PromoteSettings,
    RetentionSettings,
    ScoreSettings,
    Settings,
    SilverSettings,
    SilverStep,
    SourceSpec,
    SparkSettings,
    TableSpec,
)
from spark_ml.config.secrets import MASK, mask_secret_keys, redact
from spark_ml.config.training import (
    LOWER_IS_BETTER,
    METRIC_LABELS,
    TASK_METRICS,
    Candidate,
    DateWindow,
    EstimatorName,
    MetricName,
    SelectBy,
    SplitSettings,
    TaskKind,
    TrainSettings,
    better,
    regression_by,
)

__all__ = [
    "LOWER_IS_BETTER",
    "MASK",
    "METRIC_LABELS",
    "TASK_METRICS",
    "AcceptedValuesCheck",
    "Candidate",
    "Check",
    "ColumnType",
    "DateWindow",
    "EstimatorName",
    "FeatureSettings",
    "Identifier",
    "IngestSettings",
    "LakehouseSettings",
    "Layout",
    "LoggingSettings",
    "MetricName",
    "MinRowsCheck",
    "MlflowSettings",
    "Model",
    "ModelSettings",
    "MonitorSettings",
    "Month",
    "NotNullCheck",
    "OpsSettings",
    "PipelineSettings",
    "ProjectSettings",
    "PromoteSettings",
    "RangeCheck",
    "ReferentialCheck",
    "RetentionSettings",
    "RowRule",
    "ScoreSettings",
    "SelectBy",
    "Settings",
    "Severity",
    "SilverSettings",
    "SilverStep",
    "SourceSpec",
    "SparkSettings",
    "SplitSettings",
    "TableName",
    "TableRef",
    "TableSpec",
    "TaskKind",
    "TrainSettings",
    "UniqueCheck",
    "better",
    "default_conf_dir",
    "flatten",
    "load_settings",
    "mask_secret_keys",
    "quarantine_table",
    "redact",
    "regression_by",
]
