"""The three task kinds: regression and multiclass metrics against scikit-learn's on the same
predictions, their baselines, the gate's direction, and the config and label errors."""

from __future__ import annotations

import math

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from sklearn import metrics as sk

from spark_ml.config import PromoteSettings, Settings, TrainSettings, load_settings
from spark_ml.errors import ConfigError, SparkMLError
from spark_ml.ml.multiclass import class_names, evaluate_multiclass, label_index, macro_f1, prior_metrics
from spark_ml.ml.regression import RegressionMetrics, evaluate_regression
from spark_ml.ml.training import check_columns
from spark_ml.tasks.promote import decide
from tests.helpers import CONF, REPO

SPLIT = {
    "train": {"start": "2013-01-01", "end": "2013-09-30"},
    "validation": {"start": "2013-10-01", "end": "2013-10-31"},
    "test": {"start": "2013-11-01", "end": "2013-11-30"},
}


def train_settings(**extra: object) -> TrainSettings:
    data = {
        "table": "gold.t",
        "label": "y",
        "keys": ["id"],
        "time_column": "d",
        "numeric": ["x"],
        "split": SPLIT,
        **extra,
    }
    return TrainSettings.model_validate(data)


# -- regression ------------------------------------------------------------------------------------

REGRESSION_ROWS = [(3.0, 2.5), (-0.5, 0.0), (2.0, 2.0), (7.0, 8.0), (None, 4.0), (0.0, -1.0)]


def test_regression_metrics_match_scikit_learn_and_skip_null_labels(spark: SparkSession) -> None:
    scored = spark.createDataFrame(REGRESSION_ROWS, "label DOUBLE, prediction DOUBLE")
    known = [(y, p) for y, p in REGRESSION_ROWS if y is not None]
    y, p = [r[0] for r in known], [r[1] for r in known]
    train_mean = 1.25

    model, base = evaluate_regression(scored, "label", "prediction", baseline=train_mean)

    assert model.rows == 5  # the null label is left out
    assert model.rmse == pytest.approx(math.sqrt(sk.mean_squared_error(y, p)))
    assert model.mae == pytest.approx(sk.mean_absolute_error(y, p))
    assert model.r2 == pytest.approx(sk.r2_score(y, p))
    assert base is not None
    constant = [train_mean] * len(y)
    assert base.rmse == pytest.approx(math.sqrt(sk.mean_squared_error(y, constant)))
    assert base.mae == pytest.approx(sk.mean_absolute_error(y, constant))
    assert base.r2 == pytest.approx(sk.r2_score(y, constant))
    assert sum(model.curves["rows"]) == 5


def test_regression_of_an_empty_or_unlabelled_set_is_an_error(spark: SparkSession) -> None:
    scored = spark.createDataFrame([(None, 1.0)], "label DOUBLE, prediction DOUBLE")
    with pytest.raises(SparkMLError, match="no row has a label"):
        evaluate_regression(scored, "label", "prediction")


# -- multiclass ------------------------------------------------------------------------------------

CLASSES = ("a", "b", "c", "d")  # "d" appears nowhere: it has a slot but no F1
PROBABILITIES = [
    ("a", 0, [0.7, 0.2, 0.1, 0.0]),
    ("a", 1, [0.3, 0.5, 0.2, 0.0]),
    ("b", 1, [0.1, 0.8, 0.1, 0.0]),
    ("b", 2, [0.2, 0.3, 0.5, 0.0]),  # "c" is predicted but never the label
    ("a", 0, [0.6, 0.3, 0.1, 0.0]),
    (None, 0, [0.9, 0.05, 0.05, 0.0]),  # unknown label: left out
]


def test_multiclass_metrics_match_scikit_learn(spark: SparkSession) -> None:
    frame = spark.createDataFrame(
        [(y, float(p), probs) for y, p, probs in PROBABILITIES], "y STRING, prediction DOUBLE, probs ARRAY<DOUBLE>"
    )
    indexed = frame.select(label_index(F.col("y"), CLASSES), "prediction", "probs")

    got = evaluate_multiclass(indexed, CLASSES, probabilities=F.col("probs"))

    known = [r for r in PROBABILITIES if r[0] is not None]
    y = [CLASSES.index(r[0]) for r in known]  # type: ignore[arg-type]
    p = [r[1] for r in known]
    assert got.rows == 5
    assert got.accuracy == pytest.approx(sk.accuracy_score(y, p))
    assert got.macro_f1 == pytest.approx(sk.f1_score(y, p, average="macro", zero_division=0))
    assert got.log_loss == pytest.approx(sk.log_loss(y, [r[2] for r in known], labels=list(range(4))))
    assert got.confusion[0] == (2, 1, 0, 0)
    assert got.confusion[3] == (0, 0, 0, 0)


def test_the_class_prior_baseline_matches_scikit_learn_on_constant_probabilities() -> None:
    counts, prior = [5, 3, 0, 2], [0.5, 0.2, 0.2, 0.1]  # a class absent from this window
    y = [i for i, c in enumerate(counts) for _ in range(c)]

    got = prior_metrics(counts, prior, ("a", "b", "c", "d"))

    assert got.log_loss == pytest.approx(sk.log_loss(y, [prior] * len(y), labels=list(range(4))))
    assert got.accuracy == pytest.approx(sk.accuracy_score(y, [0] * len(y)))
    assert got.macro_f1 == pytest.approx(sk.f1_score(y, [0] * len(y), average="macro", zero_division=0))


def test_macro_f1_of_nothing_is_undefined() -> None:
    assert math.isnan(macro_f1([[0, 0], [0, 0]]))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["late", "on_time", None, "late"], ("late", "on_time")),
        ([10, 2, 1, 2], ("1", "2", "10")),  # numbers in numeric order, not as text
        ([True, False], ("false", "true")),
    ],
)
def test_class_names_are_sorted_distinct_values(values: list[object], expected: tuple[str, ...]) -> None:
    assert class_names(values) == expected


def test_a_label_outside_the_class_list_is_unknown(spark: SparkSession) -> None:
    frame = spark.createDataFrame([("a",), ("z",), (None,)], "y STRING")
    rows = frame.select(label_index(F.col("y"), ("a", "b"))).collect()
    assert [r["label"] for r in rows] == [0.0, None, None]
    assert frame.select(label_index(F.col("y"), ("a", "b"))).schema["label"].metadata["ml_attr"]["num_vals"] == 2


# -- the gate's direction -------------------------------------------------------------------------


def regression(rmse: float) -> RegressionMetrics:
    return RegressionMetrics(100, rmse, rmse * 0.8, 0.1, 5.0, 5.0)


def test_a_lower_rmse_is_better_and_the_tolerance_applies_upwards() -> None:
    gate = PromoteSettings(metric="rmse", max={"rmse": 40.0}, max_regression=0.5)

    better = decide(regression(30.0), regression(31.0), gate, "regression")
    noise = decide(regression(31.4), regression(31.0), gate, "regression")
    worse = decide(regression(31.6), regression(31.0), gate, "regression")
    too_high = decide(regression(41.0), None, gate, "regression")

    assert (better.promoted, noise.promoted, worse.promoted, too_high.promoted) == (True, True, False, False)
    assert "rmse 41.0000 > maximum 40.0000" in too_high.reasons
    assert any("worse than tolerance" in r for r in worse.reasons)


def test_the_binary_keys_of_0_1_0_do_not_gate_a_regression() -> None:
    gate = PromoteSettings(metric="rmse")
    assert gate.bounds("regression") == []
    assert gate.bounds("binary") == [("auc_roc", "min", 0.6), ("auc_pr", "min", 0.0)]


# -- configuration --------------------------------------------------------------------------------


def test_task_defaults_keep_the_binary_meaning() -> None:
    binary, reg, multi = train_settings(), train_settings(task="regression"), train_settings(task="multiclass")
    assert (binary.task, binary.select_by, [c.estimator for _, c in binary.choices]) == (
        "binary",
        "auc_roc",
        ["logistic_regression"],
    )
    assert (reg.select_by, [c.estimator for _, c in reg.choices]) == ("rmse", ["linear_regression", "random_forest"])
    assert (multi.select_by, [c.estimator for _, c in multi.choices]) == (
        "log_loss",
        ["logistic_regression", "random_forest"],
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"select_by": "rmse"}, "select_by 'rmse' does not fit task 'binary': its metrics are auc_roc, auc_pr"),
        ({"task": "regression", "select_by": "auc_roc"}, "does not fit task 'regression': its metrics are rmse"),
        ({"task": "multiclass", "estimator": "gbt"}, r"'gbt' does not fit task 'multiclass' \(Spark's GBT is binary"),
        ({"task": "regression", "estimator": "logistic_regression"}, "its estimators are linear_regression"),
        ({"task": "regression", "class_weighting": True}, "class_weighting applies to the binary task only"),
        ({"task": "ordinal"}, "Input should be 'binary', 'multiclass' or 'regression'"),
    ],
)
def test_a_metric_or_estimator_that_does_not_fit_the_task_is_refused(extra: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        train_settings(**extra)


def load(conf: str, *overrides: str) -> Settings:
    return load_settings("local", REPO / conf, list(overrides))


@pytest.mark.parametrize(
    ("conf", "overrides", "message"),
    [
        ("conf_delay_minutes", ["promote.metric=auc_roc"], "promote.metric: 'auc_roc' is not a metric of task"),
        ("conf_delay_minutes", ["promote.min_auc_roc=0.7"], "promote.min_auc_roc gates a binary classifier"),
        (
            "conf_delay_band",
            ["promote.max={rmse: 3}"],
            r"promote.max.rmse: 'rmse' is not a metric of task",
        ),
    ],
)
def test_the_gate_must_fit_the_task(conf: str, overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(conf, *overrides)


def test_the_shipped_configurations_of_each_task() -> None:
    binary, minutes, band = load_settings("local", CONF), load("conf_delay_minutes"), load("conf_delay_band")
    assert (binary.train and binary.train.task, binary.promote.metric) == ("binary", "auc_roc")
    assert (minutes.train and minutes.train.task, minutes.promote.metric) == ("regression", "rmse")
    assert (band.train and band.train.task, band.promote.metric) == ("multiclass", "log_loss")
    assert band.train is not None
    assert "gbt" not in band.train.estimators


@pytest.mark.parametrize(
    ("task", "label_type", "message"),
    [
        ("regression", "STRING", "train.label 'y' of gold.t is string: a regression task needs a label of type"),
        ("regression", "BOOLEAN", "is boolean: a regression task"),
        ("multiclass", "DOUBLE", "is double: a multiclass task needs a label of type string"),
        ("binary", "STRING", "is string: a binary task"),
    ],
)
def test_the_label_type_must_fit_the_task(spark: SparkSession, task: str, label_type: str, message: str) -> None:
    frame = spark.createDataFrame([], f"id INT, d DATE, x DOUBLE, y {label_type}")
    with pytest.raises(ConfigError, match=message):
        check_columns(frame, train_settings(task=task), "gold.t")
