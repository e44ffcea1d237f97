"""Model selection: the rule (pure), and candidates, early stopping and refit on tiny tables."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pytest
from pyspark.ml import PipelineModel
from pyspark.ml.feature import StringIndexerModel
from pyspark.sql import DataFrame, SparkSession

from spark_ml.config import TrainSettings, load_settings
from spark_ml.errors import SparkMLError
from spark_ml.ml.selection import Scored, Selection, choose, select_model
from tests.helpers import CONF

TINY = ["train.numeric=[x]", "train.categorical=[c]", "train.keys=[id]", "train.time_column=d"]
LR = "{estimator: logistic_regression, params: {maxIter: 20}}"
XGB = (
    "{estimator: xgboost, params: {max_depth: 3, learning_rate: 0.5, num_workers: 1}, "
    "early_stopping_rounds: 3, max_trees: 200}"
)
SCHEMA = "id INT, x DOUBLE, c STRING, label DOUBLE"

XGBOOST = pytest.mark.jvm_only(
    "xgboost.spark trains through the SparkContext (barrier tasks), which a Spark Connect client has not"
)


def cfg(*extra: str) -> TrainSettings:
    return load_settings("local", CONF, [*TINY, *extra]).require_train()


def band_rows(start: int, n: int, flip: bool = False, categories: tuple[str, ...] = ("a", "b")) -> list[tuple]:
    """label = 1 when 3 <= x <= 6 (x in 0..9): a band no linear score ranks (AUC 0.5), which two
    splits of a tree find; c is noise. The last row has null features (imputed / an extra index)."""
    rows: list[tuple] = []
    for i in range(n):
        x = float(i % 10)
        rows.append((start + i, x, categories[(i // 10) % len(categories)], float((3 <= x <= 6) != flip)))
    rows.append((start + n, None, None, 0.0))
    return rows


def frames(spark: SparkSession, **validation: object) -> tuple[DataFrame, DataFrame]:
    train = spark.createDataFrame(band_rows(0, 200), SCHEMA)
    return train, spark.createDataFrame(band_rows(1000, 100, **validation), SCHEMA)  # type: ignore[arg-type]


# -- the rule --------------------------------------------------------------------------------------


def scored(name: str, auc: float, trees: int | None = None, depth: int | None = None, order: int = 0) -> Scored:
    estimator = "logistic_regression" if trees is None else "xgboost"
    metrics = {"auc_roc": auc, "auc_pr": auc / 2}
    return Scored(name, estimator, "train", {}, metrics, 1.0, trees, depth, False, order)


def test_a_lower_rmse_wins_and_the_tolerance_counts_upwards() -> None:
    def by_rmse(name: str, rmse: float, trees: int | None = None, order: int = 0) -> Scored:
        return Scored(
            name, "gbt" if trees else "linear_regression", "train", {}, {"rmse": rmse}, 1.0, trees, 3, False, order
        )

    lr, gbt = by_rmse("lr", 30.0), by_rmse("gbt", 29.0, trees=40, order=1)
    assert choose([lr, gbt], "rmse", 1e-4) is gbt
    assert choose([lr, gbt], "rmse", 1.5) is lr  # within the tolerance of the best: the simpler


def test_the_best_on_validation_wins() -> None:
    lr, xgb = scored("lr", 0.6702, order=0), scored("xgb", 0.6800, trees=120, depth=6, order=1)
    assert choose([lr, xgb], "auc_roc", 1e-4) is xgb
    assert choose([xgb, lr], "auc_pr", 1e-4) is xgb  # by AUC-PR (auc / 2 here)


@pytest.mark.parametrize(
    ("candidates", "tolerance", "winner"),
    [
        ([scored("lr", 0.70000), scored("xgb", 0.70009, trees=50, depth=3, order=1)], 1e-4, "lr"),  # linear first
        ([scored("lr", 0.70000), scored("xgb", 0.70009, trees=50, depth=3, order=1)], 0.0, "xgb"),  # no tolerance
        ([scored("lr", 0.70000), scored("xgb", 0.70011, trees=50, depth=3, order=1)], 1e-4, "xgb"),  # outside it
        ([scored("big", 0.71005, 300, 6), scored("small", 0.7100, 120, 6, order=1)], 1e-4, "small"),
        ([scored("deep", 0.7100, 120, 8), scored("flat", 0.7100, 120, 4, order=1)], 1e-4, "flat"),
        ([scored("first", 0.7100, 9, 2), scored("second", 0.7100, 9, 2, order=1)], 1e-4, "first"),
    ],
    ids=["linear-first", "no-tolerance", "outside-tolerance", "fewer-trees", "shallower", "config-order"],
)
def test_ties_go_to_the_simpler_model(candidates: list[Scored], tolerance: float, winner: str) -> None:
    assert choose(candidates, "auc_roc", tolerance).name == winner


def test_an_unscored_candidate_never_wins_unless_none_is_scored() -> None:
    unscored = scored("lr", math.nan)
    xgb = scored("xgb", 0.6, trees=10, depth=3, order=1)
    assert choose([unscored, xgb], "auc_roc", 1e-4) is xgb
    both = [scored("xgb", math.nan, trees=10, depth=3), scored("lr", math.nan, order=1)]
    assert choose(both, "auc_roc", 1e-4).name == "lr"  # one class in validation: the simplest
    with pytest.raises(SparkMLError, match=r"no candidate was fitted: train.candidates is empty"):
        choose([], "auc_roc", 1e-4)


# -- on Spark --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def selected(spark: SparkSession) -> tuple[Selection, DataFrame]:
    """A logistic regression and an early-stopped xgboost on the band data (shared: read only)."""
    train, validation = frames(spark)
    return select_model(train, validation, cfg(f"train.candidates=[{LR}, {XGB}]")), validation


@XGBOOST
def test_selection_picks_the_better_candidate_and_early_stopping_stops(selected: tuple[Selection, DataFrame]) -> None:
    selection, _ = selected
    lr, xgb = selection.scored
    assert (lr.name, lr.trees, xgb.name, xgb.early_stopping) == ("logistic_regression", None, "xgboost", True)
    assert lr.auc_roc < 0.75
    assert xgb.auc_roc > 0.99
    assert selection.winner is xgb
    assert lr.fit_seconds > 0
    assert xgb.fit_seconds > 0
    # stopped 3 rounds after its best round, far below the cap of 200 trees
    booster = selection.model.stages[-1].get_booster()
    assert xgb.trees is not None
    assert xgb.trees < 20
    assert booster.num_boosted_rounds() == xgb.trees + 3
    history = selection.model.stages[-1].training_summary.validation_objective_history
    assert len(history["auc"]) == xgb.trees + 3
    assert selection.params == {"max_depth": 3, "learning_rate": 0.5, "num_workers": 1, "n_estimators": xgb.trees}


@XGBOOST
def test_the_saved_model_predicts_with_the_chosen_round(selected: tuple[Selection, DataFrame], tmp_path: Path) -> None:
    selection, validation = selected
    selection.model.write().overwrite().save(str(tmp_path / "model"))
    loaded = PipelineModel.load(str(tmp_path / "model"))
    assert loaded.stages[-1].get_booster().best_iteration + 1 == selection.winner.trees
    before = [r["probability"][1] for r in selection.model.transform(validation).orderBy("id").collect()]
    after = [r["probability"][1] for r in loaded.transform(validation).orderBy("id").collect()]
    assert after == pytest.approx(before, abs=1e-7)
    # ... which is the best round's: the booster's own prediction with that many trees, not all
    import numpy as np
    import xgboost

    features = PipelineModel(selection.model.stages[:-1]).transform(validation).orderBy("id").collect()
    matrix = xgboost.DMatrix(np.array([r["features"].toArray() for r in features]))
    booster, trees = loaded.stages[-1].get_booster(), selection.winner.trees
    assert before == pytest.approx(list(booster.predict(matrix, iteration_range=(0, trees))), abs=1e-6)
    assert before != pytest.approx(list(booster.predict(matrix, iteration_range=(0, trees + 3))), abs=1e-6)


@XGBOOST
def test_early_stopping_evaluates_on_validation_rows_and_never_trains_on_them(spark: SparkSession) -> None:
    """Validation labels are the opposite of the training pattern: trained on, they would cancel it;
    as the evaluation set only, the model learns the training pattern and stops at once."""
    train, validation = frames(spark, flip=True)
    selection = select_model(train, validation, cfg(f"train.candidates=[{XGB}]"))
    [xgb] = selection.scored
    summary = selection.model.stages[-1].training_summary
    assert summary.train_objective_history["auc"][-1] > 0.99
    assert xgb.auc_roc < 0.05
    assert xgb.trees == 1
    assert len(summary.validation_objective_history["auc"]) == 1 + 3


@XGBOOST
def test_refit_uses_both_windows_and_the_trees_early_stopping_chose(spark: SparkSession) -> None:
    train, validation = frames(spark, categories=("a", "b", "z"))  # 'z' only in validation
    selection = select_model(train, validation, cfg(f"train.candidates=[{XGB}]", "train.refit=train_and_validation"))
    [xgb] = selection.scored
    assert selection.refit
    assert selection.model is not selection.selected
    refitted = selection.model.stages[-1]
    assert refitted.getOrDefault("n_estimators") == xgb.trees
    assert refitted.getOrDefault("early_stopping_rounds") is None
    assert refitted.get_booster().num_boosted_rounds() == xgb.trees

    def categories(model: PipelineModel) -> list[str]:
        return list(next(s for s in model.stages if isinstance(s, StringIndexerModel)).labelsArray[0])

    assert "z" not in categories(selection.selected)  # selection: preprocessing fitted on train only
    assert "z" in categories(selection.model)  # the refit: on train + validation


def test_a_single_candidate_is_evaluated_too(spark: SparkSession, caplog: pytest.LogCaptureFixture) -> None:
    train, validation = frames(spark)
    with caplog.at_level(logging.INFO, logger="spark_ml.ml.selection"):
        selection = select_model(train, validation, cfg("train.estimator=logistic_regression", "train.params={}"))
    [lr] = selection.scored
    assert 0.0 <= lr.auc_roc <= 1.0
    assert "candidate logistic_regression: (defaults): validation AUC-ROC 0." in caplog.text
    assert "nan" not in caplog.text


def test_a_validation_window_with_one_class_is_not_scored(spark: SparkSession) -> None:
    train, _ = frames(spark)
    negatives = spark.createDataFrame([(9, 1.0, "a", 0.0), (10, None, None, 0.0)], SCHEMA)
    selection = select_model(train, negatives, cfg(f"train.candidates=[{LR}, {{estimator: gbt}}]"))
    assert all(math.isnan(s.auc_roc) for s in selection.scored)
    assert selection.winner.name == "logistic_regression"
