"""Pipelines from config: allow-listed estimators, checked params, unseen categories, nulls."""

from __future__ import annotations

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_ml.config import Settings, TrainSettings, load_settings
from spark_ml.errors import ConfigError, SchemaMismatchError
from spark_ml.ml.pipeline import ESTIMATORS, LABEL, build_pipeline, param_grid
from spark_ml.ml.selection import select_model
from spark_ml.tasks.score import score_frame
from tests.helpers import CONF

TINY = [
    "train.table=gold.flight_features",
    "train.numeric=[x]",
    "train.categorical=[c]",
    "train.keys=[id]",
    "train.time_column=d",
]


def train_cfg(*extra: str) -> TrainSettings:
    settings: Settings = load_settings(
        "local", CONF, [*TINY, "train.estimator=logistic_regression", "train.params={maxIter: 20}", *extra]
    )
    return settings.require_train()


def data(spark: SparkSession) -> DataFrame:
    rows = []
    for i in range(200):
        c = "a" if i % 2 else "b"
        x = float(i % 10) if i % 7 else None  # some nulls to impute
        y = 1.0 if (c == "a" and (x or 0) > 4) else 0.0
        rows.append((i, x, c, y))
    return spark.createDataFrame(rows, "id INT, x DOUBLE, c STRING, label DOUBLE").withColumn("d", F.current_date())


def test_allow_list_is_the_config_list() -> None:
    assert set(ESTIMATORS["binary"]) == {"logistic_regression", "random_forest", "gbt", "xgboost"}
    assert set(ESTIMATORS["regression"]) == {"linear_regression", "random_forest", "gbt", "xgboost"}
    assert set(ESTIMATORS["multiclass"]) == {"logistic_regression", "random_forest", "xgboost"}


def test_estimator_params_are_checked_against_the_estimator(spark: SparkSession) -> None:
    """Estimators are Spark ML objects: building one needs the session (it fails alone without it)."""
    with pytest.raises(
        ConfigError,
        match=r"unknown parameter 'maxDpth' at 'train.params.maxDpth' for GBTClassifier \(did you mean 'maxDepth'\?\)",
    ):
        build_pipeline(train_cfg("train.estimator=gbt", "train.params={maxDpth: 3}"))
    with pytest.raises(ConfigError, match=r"invalid value 'deep' for 'train.params.maxDepth'"):
        build_pipeline(train_cfg("train.estimator=gbt", "train.params={maxDepth: deep}"))


def test_grid_params_are_checked_too(spark: SparkSession) -> None:
    _, estimator = build_pipeline(train_cfg())
    with pytest.raises(ConfigError, match=r"unknown parameter 'regparam' at 'train.grid.regparam'.*'regParam'"):
        param_grid(estimator, {"regparam": [0.1]})
    assert len(param_grid(estimator, {"regParam": [0.0, 0.1], "maxIter": [5, 10]})) == 4


def test_grid_search_picks_by_validation_auc_and_scores_anything(spark: SparkSession) -> None:
    frame = data(spark).persist()
    cfg = train_cfg("train.grid={regParam: [0.0, 10.0]}", "train.parallelism=2")
    fitted = select_model(frame, frame, cfg)
    assert [(s.name, s.params) for s in fitted.scored] == [
        ("logistic_regression[0]", {"maxIter": 20, "regParam": 0.0}),
        ("logistic_regression[1]", {"maxIter": 20, "regParam": 10.0}),
    ]
    assert fitted.params == {"maxIter": 20, "regParam": 0.0}
    assert fitted.validation_metric > 0.9
    # unseen categories and all-null features are scored, never an error
    odd = spark.createDataFrame(
        [(1, None, "never-seen"), (2, None, None), (3, 7.0, "a")], "id INT, x DOUBLE, c STRING"
    ).withColumn("d", F.current_date())
    scored = score_frame(fitted.model, odd, cfg, threshold=0.5).orderBy("id").collect()
    assert [r["id"] for r in scored] == [1, 2, 3]
    assert all(0.0 <= r["probability"] <= 1.0 for r in scored)
    assert scored[2]["prediction"] == 1
    frame.unpersist()


def test_missing_feature_columns_at_scoring_are_named(spark: SparkSession) -> None:
    frame = data(spark)
    cfg = train_cfg()
    fitted = select_model(frame, frame, cfg)
    with pytest.raises(SchemaMismatchError, match=r"input is missing feature column\(s\) c"):
        score_frame(fitted.model, frame.drop("c"), cfg, threshold=0.5)
    assert LABEL == "label"
