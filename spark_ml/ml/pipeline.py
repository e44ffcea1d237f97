"""Spark ML pipelines from config: imputation, categorical indexing that keeps unseen values,
one-hot encoding, vector assembly and an estimator chosen by name from an allow-list."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pyspark.ml import Estimator, Pipeline
from pyspark.ml.classification import GBTClassifier, LogisticRegression, RandomForestClassifier
from pyspark.ml.feature import Imputer, OneHotEncoder, StringIndexer, VectorAssembler
from pyspark.ml.param import Param, Params
from pyspark.ml.regression import GBTRegressor, LinearRegression, RandomForestRegressor
from pyspark.ml.tuning import ParamGridBuilder

from spark_ml.config import Candidate, TrainSettings
from spark_ml.errors import ConfigError

LABEL = "label"
WEIGHT = "__weight"
FEATURES = "features"


def _xgboost(task: str) -> Estimator[Any]:
    try:
        from xgboost.spark import SparkXGBClassifier, SparkXGBRegressor
    except ImportError as exc:
        raise ConfigError("an xgboost candidate needs the xgboost package: pip install 'spark-ml[xgboost]'") from exc
    # verbose=False: no per-round evaluation lines on the console (early stopping still logs its
    # outcome through the selection)
    estimator: Estimator[Any] = (
        SparkXGBRegressor(verbose=False) if task == "regression" else SparkXGBClassifier(verbose=False)
    )
    return estimator


# The allow-list per task: a config name maps to a constructor; nothing is ever imported from a
# config string. Spark has no multiclass GBT (GBTClassifier is binary only).
_CLASSIFIERS: dict[str, Callable[[], Estimator[Any]]] = {
    "logistic_regression": LogisticRegression,
    "random_forest": RandomForestClassifier,
    "gbt": GBTClassifier,
    "xgboost": lambda: _xgboost("classification"),
}
ESTIMATORS: dict[str, dict[str, Callable[[], Estimator[Any]]]] = {
    "binary": _CLASSIFIERS,
    "multiclass": {k: v for k, v in _CLASSIFIERS.items() if k != "gbt"},
    "regression": {
        "linear_regression": LinearRegression,
        "random_forest": RandomForestRegressor,
        "gbt": GBTRegressor,
        "xgboost": lambda: _xgboost("regression"),
    },
}


def make_estimator(name: str, key: str = "train", task: str = "binary") -> Estimator[Any]:
    known = ESTIMATORS[task]
    build = known.get(name)
    if build is None:
        raise ConfigError(
            f"unknown estimator {name!r} at '{key}.estimator' for task {task!r} (allowed: {', '.join(known)})"
        )
    return build()


def _param(estimator: Params, name: str, key: str) -> Param[Any]:
    if not estimator.hasParam(name):
        names = sorted(p.name for p in estimator.params)
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(
            f"unknown parameter {name!r} at '{key}' for {type(estimator).__name__}{hint}; "
            f"its parameters are: {', '.join(names)}"
        )
    return estimator.getParam(name)


def configure_estimator(
    estimator: Estimator[Any], params: Mapping[str, Any], cfg: TrainSettings, key: str = "train"
) -> Estimator[Any]:
    """Set the configured params (each checked against the estimator's own, named
    '<key>.params.<name>' in errors), the columns, the seed."""
    for name, value in params.items():
        param = _param(estimator, name, f"{key}.params.{name}")
        try:
            estimator.set(param, value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"invalid value {value!r} for '{key}.params.{name}': {exc}") from None
    fixed: dict[str, Any] = {"featuresCol": FEATURES, "labelCol": LABEL}
    if cfg.class_weighting:
        fixed["weightCol"] = WEIGHT
    if estimator.hasParam("seed") and "seed" not in params:
        fixed["seed"] = cfg.seed
    if estimator.hasParam("probabilityCol"):
        fixed["probabilityCol"] = "probability"
    for name, value in fixed.items():
        if estimator.hasParam(name):
            estimator.set(estimator.getParam(name), value)
        elif name == "weightCol" and estimator.hasParam("weight_col"):
            estimator.set(estimator.getParam("weight_col"), value)
    return estimator


def param_grid(
    estimator: Estimator[Any], grid: Mapping[str, Sequence[Any]], key: str = "train"
) -> list[dict[Param[Any], Any]]:
    """The configured grid as Spark param maps (one empty map when there is no grid)."""
    builder = ParamGridBuilder()
    for name, values in grid.items():
        if not values:
            raise ConfigError(f"'{key}.grid.{name}' needs at least one value")
        builder.addGrid(_param(estimator, name, f"{key}.grid.{name}"), list(values))
    return builder.build()


def imputed(column: str) -> str:
    return f"{column}__imputed"


def indexed(column: str) -> str:
    return f"{column}__index"


def encoded(column: str) -> str:
    return f"{column}__onehot"


def build_estimator(candidate: Candidate, cfg: TrainSettings, key: str = "train") -> Estimator[Any]:
    """The candidate's estimator from the allow-list, with its params, columns and seed set."""
    return configure_estimator(make_estimator(candidate.estimator, key, cfg.task), candidate.params, cfg, key)


def build_pipeline(cfg: TrainSettings) -> tuple[Pipeline, Estimator[Any]]:
    """The preprocessing stages and the first candidate's estimator (see `preprocessing`)."""
    key, candidate = cfg.choices[0]
    estimator = build_estimator(candidate, cfg, key)
    return Pipeline(stages=[*preprocessing(cfg), estimator]), estimator


def preprocessing(cfg: TrainSettings) -> list[Any]:
    """Imputer (median) for numeric columns; StringIndexer (unseen and null values go to an extra
    index, never an error) then OneHotEncoder for categorical ones; VectorAssembler into
    `features`. Every candidate shares them: they depend on the columns only."""
    stages: list[Any] = []
    inputs: list[str] = []
    if cfg.numeric:
        stages.append(
            Imputer(inputCols=list(cfg.numeric), outputCols=[imputed(c) for c in cfg.numeric], strategy="median")
        )
        inputs.extend(imputed(c) for c in cfg.numeric)
    if cfg.categorical:
        stages.append(
            StringIndexer(
                inputCols=list(cfg.categorical),
                outputCols=[indexed(c) for c in cfg.categorical],
                handleInvalid="keep",
                stringOrderType="frequencyDesc",
            )
        )
        stages.append(
            OneHotEncoder(
                inputCols=[indexed(c) for c in cfg.categorical],
                outputCols=[encoded(c) for c in cfg.categorical],
                handleInvalid="keep",
            )
        )
        inputs.extend(encoded(c) for c in cfg.categorical)
    stages.append(VectorAssembler(inputCols=inputs, outputCol=FEATURES, handleInvalid="keep"))
    return stages
