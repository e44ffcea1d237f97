"""An xgboost.spark model read without the JVM (spark_ml.ml.booster): its files, its refusals and
its outputs; equality with xgboost.spark's own transform is tested on a trained winner in
tests/integration/test_candidates.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from spark_ml.errors import ModelRegistryError
from spark_ml.ml import booster

CLASSIFIER = "xgboost.spark.estimator.SparkXGBClassifierModel"


def _write(folder: Path, metadata: dict[str, object], model: str | None = None) -> Path:
    (folder / "metadata").mkdir(parents=True)
    (folder / "metadata" / "part-00000").write_text(json.dumps(metadata) + "\n")
    if model is not None:
        (folder / "model").mkdir()
        # xgboost.spark writes the booster JSON in chunks, one per line
        chunks = [model[i : i + 1000] for i in range(0, len(model), 1000)]
        (folder / "model" / "part-00000").write_text("\n".join(chunks) + "\n")
    return folder


def _fitted(objective: str, labels: np.ndarray) -> tuple[object, np.ndarray]:
    import xgboost

    rng = np.random.default_rng(7)
    x = rng.normal(size=(200, 3)).astype("float32")
    x[::9, 1] = np.nan
    cls = xgboost.XGBRegressor if objective.startswith("reg") else xgboost.XGBClassifier
    model = cls(n_estimators=15, max_depth=3, objective=objective).fit(x, labels)
    return model, x


def test_a_saved_classifier_gives_xgboost_s_own_probabilities(tmp_path: Path) -> None:
    labels = (np.arange(200) % 3 == 0).astype(int)
    model, x = _fitted("binary:logistic", labels)
    text = model.get_booster().save_raw("json").decode()
    folder = _write(tmp_path / "s", {"class": CLASSIFIER, "paramMap": {"missing": float("nan")}}, text)
    loaded = booster.BoosterModel.load(folder)
    out = loaded.predict(x)
    expected = model.predict_proba(x)
    np.testing.assert_allclose(np.stack(out["probability"]), expected, rtol=1e-6)
    assert out["prediction"].tolist() == expected.argmax(axis=1).astype(float).tolist()
    raw = np.stack(out["raw"])
    np.testing.assert_array_equal(raw[:, 0], -raw[:, 1])
    assert (loaded.features, loaded.probability, loaded.raw_prediction) == ("features", "probability", "rawPrediction")


def test_a_multiclass_and_a_regressor_keep_their_shapes(tmp_path: Path) -> None:
    multi, x = _fitted("multi:softprob", np.arange(200) % 3)
    folder = _write(tmp_path / "m", {"class": CLASSIFIER}, multi.get_booster().save_raw("json").decode())
    out = booster.BoosterModel.load(folder).predict(x)
    np.testing.assert_allclose(np.stack(out["probability"]), multi.predict_proba(x), rtol=1e-5)
    regressor, x = _fitted("reg:squarederror", np.arange(200, dtype=float))
    folder = _write(
        tmp_path / "r",
        {"class": "xgboost.spark.estimator.SparkXGBRegressorModel", "defaultParamMap": {"predictionCol": "yhat"}},
        regressor.get_booster().save_raw("json").decode(),
    )
    loaded = booster.BoosterModel.load(folder)
    assert (loaded.classifier, loaded.prediction) == (False, "yhat")
    assert list(loaded.predict(x).columns) == ["prediction"]
    np.testing.assert_allclose(loaded.predict(x)["prediction"], regressor.predict(x), rtol=1e-6)


@pytest.mark.parametrize(
    ("metadata", "model", "message"),
    [
        ({"class": CLASSIFIER, "paramMap": {"pred_contrib_col": "c"}}, "{}", "sets pred_contrib_col='c'"),
        ({"class": CLASSIFIER, "paramMap": {"features_cols": ["a", "b"]}}, "{}", "sets features_cols"),
        ({"class": "xgboost.spark.estimator.SparkXGBRanker"}, "{}", "not an xgboost.spark classifier or regressor"),
        ({"class": CLASSIFIER}, None, "has no booster"),
    ],
)
def test_what_cannot_be_applied_the_same_way_is_refused(
    tmp_path: Path, metadata: dict[str, object], model: str | None, message: str
) -> None:
    folder = _write(tmp_path / "x", metadata, model)
    with pytest.raises(ModelRegistryError, match=message):
        booster.BoosterModel.load(folder)


def test_stages_are_found_in_pipeline_order(tmp_path: Path) -> None:
    uids = [f"Stage_{i}" for i in range(11)]
    pipeline = _write(tmp_path / "p", {"class": "pyspark.ml.pipeline.PipelineModel", "paramMap": {"stageUids": uids}})
    for i, uid in enumerate(uids):
        kind = CLASSIFIER if i == 10 else "org.apache.spark.ml.feature.VectorAssembler"
        _write(pipeline / "stages" / f"{i:02d}_{uid}", {"class": kind})
    assert booster.has_xgboost_stage(pipeline)
    (pipeline / "stages" / "10_Stage_10" / "metadata" / "part-00000").write_text('{"class": "pyspark.ml.X"}\n')
    assert not booster.has_xgboost_stage(pipeline)
    with pytest.raises(ModelRegistryError, match="no Spark ML metadata in"):
        booster.read_metadata(tmp_path)
