"""Single-node candidates (sklearn_hgb, lightgbm) through the tasks on a tiny table: trained on
the driver with early stopping on the validation window, logged with MLflow's sklearn flavour,
applied in Spark by mapInPandas for promotion and scoring; the driver-row cap and its sample."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_ml.config import Settings, load_settings
from spark_ml.errors import ConfigError
from spark_ml.io import registry
from spark_ml.io.delta import Lakehouse
from spark_ml.tasks import promote, score, train
from tests.helpers import CONF, REPO, overrides_for
from tests.integration.test_task_kinds import TINY, tiny_frame, tiny_table

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # trains through the tasks (Delta, MLflow, the registry)

BOTH = (
    "train.candidates=["
    "{estimator: sklearn_hgb, params: {learning_rate: 0.3}, early_stopping_rounds: 5, max_trees: 200}, "
    "{estimator: lightgbm, params: {learning_rate: 0.3, num_leaves: 7, min_child_samples: 5}, "
    "early_stopping_rounds: 5, max_trees: 200}]"
)


def settings_of(root: Path, conf: Path, *extra: str) -> Settings:
    return load_settings("local", conf, overrides_for(root, *TINY, *extra))


@pytest.fixture(scope="module")
def binary(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A late flag that is a band of x (3 <= x <= 6), flipped on every 7th row: a booster ranks it
    (a line cannot), and the noise makes more trees overfit, so early stopping has a best round."""
    settings = settings_of(tmp_path_factory.mktemp("single_binary"), CONF, "train.label=late", BOTH)
    band = (F.col("x") >= 3) & (F.col("x") <= 6)
    late = tiny_frame(spark).withColumn("late", (band != (F.col("id") % 7 == 0)).cast("int"))
    Lakehouse(spark, settings).write(late, "gold.tiny", mode="overwrite")
    return settings


def test_both_boosters_stop_early_on_validation_and_rank_the_band(spark: SparkSession, binary: Settings) -> None:
    result = train.run(spark, binary)
    metrics = result.metrics
    hgb, lgbm = metrics["candidates"]
    assert (hgb["estimator"], lgbm["estimator"]) == ("sklearn_hgb", "lightgbm")
    for candidate in (hgb, lgbm):
        assert candidate["early_stopping"] is True
        assert 1 <= candidate["trees"] < 200
        assert candidate["validation_auc_roc"] > 0.75  # a line cannot rank a band (about 0.5)
    assert metrics["test_auc_roc"] > 0.75

    decision = promote.run(spark, binary)
    assert decision.metrics["promoted"] is True
    scored = score.run(spark, binary)
    predictions = Lakehouse(spark, binary).read("ml.tiny_predictions")
    bounds = predictions.select(F.min("probability"), F.max("probability"), F.count(F.lit(1))).first()
    assert bounds is not None
    assert 0.0 <= bounds[0] < 0.5 < bounds[1] <= 1.0
    assert bounds[2] == scored.metrics["rows"] > 0
    champion = registry.version_by_alias(binary, "champion")
    assert champion is not None
    from mlflow.models import Model

    from spark_ml.io.tracking import stores

    with stores(binary):
        logged = Model.load(f"models:/{binary.registered_model_name}/{champion.version}")
    assert {"sklearn", "python_function"} <= set(logged.flavors)


def test_regression_and_multiclass_train_on_the_driver(spark: SparkSession, tmp_path: Path) -> None:
    minutes = settings_of(
        tmp_path / "minutes",
        REPO / "conf_delay_minutes",
        "train.label=minutes",
        "train.candidates=[{estimator: lightgbm, params: {num_leaves: 7, min_child_samples: 5}, "
        "early_stopping_rounds: 5, max_trees: 300}]",
    )
    tiny_table(spark, minutes)
    regression = train.run(spark, minutes).metrics
    assert regression["test_rmse"] < 1.0 < 2.0 < regression["baseline_test_rmse"]

    band = settings_of(
        tmp_path / "band",
        REPO / "conf_delay_band",
        "train.label=band",
        "train.candidates=[{estimator: sklearn_hgb, params: {max_iter: 50}}]",
    )
    tiny_table(spark, band)
    multiclass = train.run(spark, band).metrics
    assert multiclass["test_accuracy"] > 0.95 > multiclass["baseline_test_accuracy"]
    promote.run(spark, band)
    score.run(spark, band)
    columns = Lakehouse(spark, band).read("ml.tiny_predictions").columns
    assert columns[2:7] == ["prediction", "probability_high", "probability_low", "probability_mid", "probability_rare"]


def test_the_driver_row_cap_is_an_error_unless_sampling_is_asked_for(spark: SparkSession, binary: Settings) -> None:
    capped = settings_of(Path(binary.lakehouse.root), CONF, "train.label=late", BOTH, "train.max_driver_rows=100")
    with pytest.raises(ConfigError, match=r"the training window has 492 rows, above train.max_driver_rows=100"):
        train.run(spark, capped, register=False)

    sampled = settings_of(
        Path(binary.lakehouse.root),
        CONF,
        "train.label=late",
        BOTH,
        "train.max_driver_rows=100",
        "train.driver_sample=true",
    )
    result = train.run(spark, sampled, register=False)
    assert any(n.startswith("training window: a random sample of 100 of 492 rows") for n in result.notes)
