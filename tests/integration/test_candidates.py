"""The train task with several candidates on a tiny table: selection, MLflow child runs, reproduce."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from spark_ml.config import Settings, load_settings
from spark_ml.io.delta import Lakehouse
from spark_ml.provenance import reproduce
from spark_ml.tasks import train
from spark_ml.tasks.base import TaskResult
from tests.helpers import CONF, overrides_for

pytestmark = [pytest.mark.integration]  # trains through the train task (Delta, MLflow runs, the registry)

CANDIDATES = (
    "train.candidates=["
    "{estimator: logistic_regression, params: {maxIter: 20}}, "
    "{estimator: xgboost, params: {max_depth: 3, learning_rate: 0.3, num_workers: 1}, "
    "early_stopping_rounds: 3, max_trees: 100}]"
)
TINY = [
    "tables.gold.tiny={}",
    "train.table=gold.tiny",
    "train.label=late",
    "train.keys=[id]",
    "train.time_column=d",
    "train.numeric=[x]",
    "train.categorical=[c]",
]

XGBOOST = pytest.mark.jvm_only(
    "xgboost.spark trains through the SparkContext (barrier tasks), which a Spark Connect client has not"
)


@dataclass
class Trained:
    settings: Settings
    result: TaskResult


def tiny_table(spark: SparkSession, settings: Settings) -> None:
    """Flights on 2013-01-01..2013-11-30 (the shipped split: Jan-Sep, Oct, Nov), late when
    3 <= x <= 6: a band a logistic regression cannot rank and a tree can; c is noise, with nulls."""
    rows = []
    for i in range(600):
        x = float(i % 10) if i % 37 else None
        c = ("a", "b", None)[i % 3]
        late = 1 if x is not None and 3 <= x <= 6 else 0
        rows.append((i, dt.date(2013, 1, 1) + dt.timedelta(days=i * 333 // 600), x, c, late))
    frame = spark.createDataFrame(rows, "id INT, d DATE, x DOUBLE, c STRING, late INT")
    Lakehouse(spark, settings).write(frame, "gold.tiny", mode="overwrite")


@pytest.fixture(scope="module")
def trained(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    root = tmp_path_factory.mktemp("candidates")
    settings = load_settings("local", CONF, overrides_for(root, *TINY, CANDIDATES))
    tiny_table(spark, settings)
    return Trained(settings, train.run(spark, settings))


def test_the_better_candidate_wins_and_every_candidate_is_reported(trained: Trained) -> None:
    metrics = trained.result.metrics
    assert (metrics["winner"], metrics["winner_estimator"], metrics["select_by"]) == ("xgboost", "xgboost", "auc_roc")
    lr, xgb = metrics["candidates"]
    assert (lr["name"], lr["winner"], lr["trees"]) == ("logistic_regression", False, None)
    assert (xgb["name"], xgb["winner"], xgb["early_stopping"]) == ("xgboost", True, True)
    assert xgb["validation_auc_roc"] > 0.95 > 0.75 > lr["validation_auc_roc"]
    assert 1 <= xgb["trees"] < 100
    assert metrics["winner_trees"] == xgb["trees"]
    assert metrics["params"]["n_estimators"] == xgb["trees"]
    assert metrics["test_auc_roc"] > 0.95
    line = next(n for n in trained.result.notes if n.startswith("candidates by validation AUC-ROC: "))
    assert f"xgboost {xgb['validation_auc_roc']:.4f} ({xgb['trees']} trees) <- winner" in line


def test_one_child_run_per_candidate_under_the_training_run(trained: Trained) -> None:
    from mlflow.tracking import MlflowClient

    settings, metrics = trained.settings, trained.result.metrics
    client = MlflowClient(tracking_uri=settings.tracking_uri)
    parent = client.get_run(metrics["mlflow_run_id"])
    assert parent.data.tags["spark_ml.winner"] == "xgboost"
    assert parent.data.tags["spark_ml.estimator"] == "xgboost"
    assert parent.data.params["winner.trees"] == str(metrics["winner_trees"])
    assert parent.data.params["train.candidates.1.early_stopping_rounds"] == "3"
    assert parent.data.metrics["test_auc_roc"] == pytest.approx(metrics["test_auc_roc"])
    assert [i.dataset.name for i in parent.inputs.dataset_inputs] == ["gold.tiny"]
    assert "model/MLmodel" in {a.path for a in client.list_artifacts(parent.info.run_id, "model")}
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'", order_by=["params.name"]
    )
    assert [c.info.run_name for c in children] == ["candidate-logistic_regression", "candidate-xgboost"]
    lr, xgb = (c.data for c in children)
    assert (lr.tags["spark_ml.winner"], xgb.tags["spark_ml.winner"]) == ("false", "true")
    assert lr.tags["spark_ml.task"] == "train-candidate"
    assert lr.params["params.maxIter"] == "20"
    assert (xgb.params["early_stopping_rounds"], xgb.params["max_trees"]) == ("3", "100")
    assert xgb.params["trees"] == str(metrics["winner_trees"])
    assert xgb.metrics["trees"] == metrics["winner_trees"]
    for child, reported in zip((lr, xgb), metrics["candidates"], strict=True):
        assert child.metrics["validation_auc_roc"] == pytest.approx(reported["validation_auc_roc"])
        assert child.metrics["validation_auc_pr"] == pytest.approx(reported["validation_auc_pr"])
        assert child.metrics["fit_seconds"] > 0
        assert "test_auc_roc" not in child.metrics


def test_a_candidates_training_reproduces_with_the_winners_tolerance(spark: SparkSession, trained: Trained) -> None:
    outcome = reproduce.run(spark, trained.settings, trained.result.metrics["mlflow_run_id"], train.run)
    assert outcome.estimator == "xgboost"
    assert outcome.tolerance == reproduce.TOLERANCES["xgboost"]
    assert outcome.matches, outcome.text()
    assert not [n for n in outcome.notes if "chose" in n]


def test_an_old_single_estimator_config_trains_one_candidate(spark: SparkSession, tmp_path: Path) -> None:
    single = ["train.estimator=logistic_regression", "train.params={maxIter: 10}", "train.grid={regParam: [0.0, 0.1]}"]
    settings = load_settings("local", CONF, overrides_for(tmp_path, *TINY, *single))
    tiny_table(spark, settings)
    result = train.run(spark, settings, register=False)
    names = [c["name"] for c in result.metrics["candidates"]]
    assert names == ["logistic_regression[0]", "logistic_regression[1]"]
    assert result.metrics["winner"] in names
    assert result.metrics["winner_trees"] is None


def test_the_xgboost_winner_applied_through_its_booster_equals_xgboost_spark(
    spark: SparkSession, trained: Trained, tmp_path: Path
) -> None:
    """What a Spark Connect run does with an xgboost.spark champion (spark_ml.ml.booster): the Spark
    stages loaded by Spark, the booster read by this process; every output column equal."""
    import mlflow
    from chispa import assert_df_equality
    from pyspark.ml import PipelineModel
    from pyspark.ml.linalg import VectorUDT

    from spark_ml.io.registry import version_by_alias
    from spark_ml.io.tracking import stores
    from spark_ml.ml import booster

    settings = trained.settings
    version = version_by_alias(settings, settings.model.challenger_alias)
    assert version is not None
    with stores(settings):
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{settings.registered_model_name}/{version.version}", dst_path=str(tmp_path)
        )
    folder = Path(local) / "sparkml"
    assert booster.has_xgboost_stage(folder)
    rows = Lakehouse(spark, settings).read("gold.tiny")
    native = PipelineModel.load(str(folder)).transform(rows)
    staged = booster.load_stages(folder, spark)
    assert [type(s).__name__ for s in staged.stages][-1] == "BoosterModel"
    through_booster = staged.transform(rows)
    # the pipeline's intermediate vectors do not travel through mapInPandas; every other column does
    outputs = ["rawPrediction", "prediction", "probability"]
    vectors = [f.name for f in native.schema.fields if isinstance(f.dataType, VectorUDT) and f.name not in outputs]
    assert vectors == ["c__onehot", "features"]
    assert through_booster.columns[-3:] == outputs
    assert through_booster.columns == [c for c in native.columns if c not in vectors]
    assert_df_equality(through_booster, native.drop(*vectors))
    assert through_booster.where("prediction = 1").count() > 0
