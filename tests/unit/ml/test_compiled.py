"""The logistic-regression pipeline as SQL columns gives the very doubles `transform` gives."""

from __future__ import annotations

from typing import Any

import pytest
from chispa import assert_df_equality
from pyspark.ml import Pipeline
from pyspark.ml.classification import LogisticRegression
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_ml.config import TrainSettings, load_settings
from spark_ml.ml.compiled import margin_column
from spark_ml.ml.pipeline import LABEL, build_pipeline, preprocessing
from spark_ml.tasks.score import score_frame
from tests.helpers import CONF

TINY = [
    "train.table=gold.flight_features",
    "train.numeric=[x, n]",
    "train.categorical=[c, k]",
    "train.keys=[id]",
    "train.time_column=d",
    "train.estimator=logistic_regression",
    "train.params={maxIter: 25, regParam: 0.001}",
]
SCHEMA = "id INT, x DOUBLE, n INT, c STRING, k STRING"


def cfg(*extra: str) -> TrainSettings:
    return load_settings("local", CONF, [*TINY, *extra]).require_train()


def training(spark: SparkSession) -> DataFrame:
    rows = []
    for i in range(240):
        x = None if i % 11 == 0 else (float("nan") if i % 13 == 0 else (i % 17) / 3.0)
        n = None if i % 7 == 0 else i % 5
        c = None if i % 19 == 0 else "abcd"[i % 4]
        k = "pq"[i % 2]
        y = 1.0 if ((x or 0.0) > 2.5) != (c == "b") else 0.0
        rows.append((i, x, n, c, k, y))
    return spark.createDataFrame(rows, f"{SCHEMA}, label DOUBLE").withColumn("d", F.current_date())


def scoring(spark: SparkSession) -> DataFrame:
    """Every case a row can be: nulls and NaN to impute, zeros, an int to impute (the surrogate is
    cast back to int), unseen, empty and null labels, infinities."""
    rows = [
        (1, None, None, None, None),
        (2, float("nan"), 0, "never-seen", "p"),
        (3, 0.0, 4, "a", "q"),
        (4, -0.0, 3, "", "p"),
        (5, 1e300, -2, "d", "zz"),
        (6, float("inf"), 1, "b", None),
        (7, float("-inf"), 2, "c", "q"),
        (8, 2.75, None, "b", "q"),
    ]
    return spark.createDataFrame(rows, SCHEMA).withColumn("d", F.current_date())


def fit(frame: DataFrame, tc: TrainSettings, **lr: Any) -> Any:
    pipeline, _ = build_pipeline(tc)
    if lr:
        pipeline = Pipeline(stages=[*preprocessing(tc), LogisticRegression(labelCol=LABEL, **lr)])
    return pipeline.fit(frame)


@pytest.fixture(scope="module")
def fitted(spark: SparkSession) -> Any:
    return fit(training(spark), cfg())


def test_compiled_scores_equal_transform_bit_for_bit(spark: SparkSession, fitted: Any) -> None:
    tc = cfg()
    # the edge cases and the 240 training rows: Spark SQL's `exp` would differ in the last bit for
    # a few of these
    rows = scoring(spark).unionByName(training(spark).drop("label"))
    margin = margin_column(fitted, rows.schema)
    assert margin is not None
    assert margin_column(fitted, rows.schema) is margin  # built once per model and schema
    compiled = score_frame(fitted, rows, tc, threshold=0.4)
    native = score_frame(fitted, rows, tc, threshold=0.4, compiled=False)
    assert_df_equality(compiled, native, ignore_row_order=True, allow_nan_equality=True)
    # the rows are not all alike: the comparison covers different probabilities and predictions
    assert compiled.select("probability").distinct().count() >= 50
    assert {r["prediction"] for r in compiled.collect()} == {0, 1}
    # without an intercept
    other = fit(training(spark), tc, fitIntercept=False, maxIter=10)
    assert_df_equality(
        score_frame(other, rows, tc, 0.5),
        score_frame(other, rows, tc, 0.5, compiled=False),
        ignore_row_order=True,
        allow_nan_equality=True,
    )


def test_models_it_does_not_compile_are_scored_by_transform(spark: SparkSession) -> None:
    tc = cfg()
    rows = scoring(spark)
    multinomial = fit(training(spark), tc, family="multinomial", maxIter=10)  # two rows of coefficients
    assert margin_column(multinomial, rows.schema) is None
    assert_df_equality(
        score_frame(multinomial, rows, tc, 0.5),
        score_frame(multinomial, rows, tc, 0.5, compiled=False),
        ignore_row_order=True,
        allow_nan_equality=True,
    )
    # the estimator alone (its features column given), and not a pipeline at all
    assert margin_column(multinomial.stages[-1], rows.schema) is None
    assert margin_column(object(), rows.schema) is None


def test_a_stage_it_does_not_know_leaves_the_model_to_transform(spark: SparkSession, fitted: Any) -> None:
    from pyspark.ml import PipelineModel
    from pyspark.ml.feature import SQLTransformer

    rows = scoring(spark)
    imputer = fitted.stages[0]
    for stages, compiled in (
        # still compiled: -2 is the missing value (an int column's -2 is imputed, NaN is kept)
        ([imputer.copy({imputer.missingValue: -2.0}), *fitted.stages[1:]], True),
        ([SQLTransformer(statement="SELECT * FROM __THIS__"), *fitted.stages], False),
    ):
        model = PipelineModel(stages=stages)
        assert (margin_column(model, rows.schema) is not None) is compiled
        assert_df_equality(
            score_frame(model, rows, cfg(), 0.5),
            score_frame(model, rows, cfg(), 0.5, compiled=False),
            ignore_row_order=True,
            allow_nan_equality=True,
        )


@pytest.mark.parametrize("compiled", [True, False])
def test_a_missing_feature_is_named_on_both_paths(spark: SparkSession, compiled: bool) -> None:
    from spark_ml.errors import SchemaMismatchError

    with pytest.raises(SchemaMismatchError, match=r"input is missing feature column\(s\) k"):
        score_frame(object(), scoring(spark).drop("k"), cfg(), 0.5, compiled=compiled)
