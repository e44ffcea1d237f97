"""An xgboost.spark model applied without the JVM: how a serverless (Spark Connect) run scores and
promotes a champion trained with xgboost.spark on a classic cluster.

xgboost.spark reads a saved model through the SparkContext, which a Spark Connect client has not,
so `PipelineModel.load` of such a pipeline fails over Connect. `load_stages` reads the saved
PipelineModel folder stage by stage instead: every Spark ML stage (imputer, indexers, encoder,
assembler) is loaded by Spark as usual (over Connect too), and the xgboost stage's own files (its
params as JSON, the booster as JSON text) are read by this process into an xgboost scikit-learn
model, as xgboost.spark's reader does. `BoosterModel.transform` applies the booster the way
xgboost.spark's transform does, so the values are the same: the feature vector as a float32 array,
`rawPrediction`, `prediction` and the `probability` vector for a classifier, `prediction` for a
regressor. It runs in `mapInPandas`, one Arrow batch at a time (never a row-at-a-time UDF). Arrow
cannot carry Spark ML vectors through mapInPandas (pyspark fails to serialize a VectorUDT back), so
the batches hold the feature array and every other column that is not a vector: the pipeline's
intermediate vectors (one-hot encodings, the assembled features) are not in the output, which
scoring, promotion and monitoring never read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyspark.ml.functions import vector_to_array
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_ml.errors import ModelRegistryError

if TYPE_CHECKING:
    import pandas as pd

XGBOOST_CLASS_PREFIX = "xgboost.spark."
# Params that change what the booster is given or returns; spark-ml never sets them, and a model
# that has them is refused rather than scored differently.
UNSUPPORTED = ("base_margin_col", "pred_contrib_col", "features_cols", "enable_sparse_data_optim")
_FEATURES = "__booster_features"


def read_metadata(folder: Path) -> dict[str, Any]:
    """The JSON metadata Spark ML writes in `<folder>/metadata/part-*` (one line)."""
    parts = sorted((folder / "metadata").glob("part-*"))
    if not parts:
        raise ModelRegistryError(f"no Spark ML metadata in {folder}")
    data: dict[str, Any] = json.loads(parts[0].read_text(encoding="utf-8").splitlines()[0])
    return data


def _params(metadata: dict[str, Any]) -> dict[str, Any]:
    return {**metadata.get("defaultParamMap", {}), **metadata.get("paramMap", {})}


@dataclass
class BoosterModel:
    """A fitted xgboost.spark model's booster and the columns it reads and writes."""

    model: Any  # xgboost.XGBClassifier or xgboost.XGBRegressor holding the booster
    classifier: bool
    features: str = "features"
    prediction: str = "prediction"
    probability: str = "probability"
    raw_prediction: str = "rawPrediction"
    predict_params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path, metadata: dict[str, Any] | None = None) -> BoosterModel:
        """The xgboost.spark model saved in `folder` (its `metadata/` and `model/` text files)."""
        metadata = metadata or read_metadata(folder)
        kind = str(metadata["class"])
        params = _params(metadata)
        for name in UNSUPPORTED:
            if params.get(name):
                raise ModelRegistryError(
                    f"the xgboost stage in {folder} sets {name}={params[name]!r}: spark-ml applies xgboost.spark "
                    "models without the JVM only when they read one feature vector"
                )
        classifier = kind.endswith("ClassifierModel")
        if not classifier and not kind.endswith("RegressorModel"):
            raise ModelRegistryError(f"the stage in {folder} is a {kind}, not an xgboost.spark classifier or regressor")
        parts = sorted((folder / "model").glob("part-*"))
        if not parts:
            raise ModelRegistryError(f"the xgboost stage in {folder} has no booster (no model/part-* file)")
        # xgboost.spark writes the booster's JSON as lines of text and reads it back joined.
        booster = "".join(line for part in parts for line in part.read_text(encoding="utf-8").splitlines())
        import xgboost

        missing = params.get("missing")
        model = (xgboost.XGBClassifier if classifier else xgboost.XGBRegressor)(
            missing=float("nan") if missing is None else float(missing)
        )
        model.load_model(bytearray(booster.encode("utf-8")))
        iteration_range = params.get("iteration_range")
        return cls(
            model,
            classifier,
            features=str(params.get("featuresCol", "features")),
            prediction=str(params.get("predictionCol", "prediction")),
            probability=str(params.get("probabilityCol", "probability")),
            raw_prediction=str(params.get("rawPredictionCol", "rawPrediction")),
            predict_params={"iteration_range": tuple(iteration_range)} if iteration_range else {},
        )

    def predict(self, x: Any) -> Any:
        """A pandas DataFrame of the output columns for a matrix of features (as xgboost.spark)."""
        import numpy as np
        import pandas as pd
        from scipy.special import expit, softmax  # type: ignore[import-untyped]

        if not self.classifier:
            values = self.model.predict(x, validate_features=False, **self.predict_params)
            return pd.DataFrame({"prediction": np.asarray(values, dtype="float64")})
        margins = self.model.predict(x, output_margin=True, validate_features=False, **self.predict_params)
        if margins.ndim == 1:
            positive = expit(margins)
            raw = np.vstack((-margins, margins)).transpose()
            probabilities = np.vstack((1.0 - positive, positive)).transpose()
        else:
            raw = margins
            probabilities = softmax(raw, axis=1)
        return pd.DataFrame(
            {
                "raw": list(raw.astype("float64")),
                "prediction": np.argmax(probabilities, axis=1).astype("float64"),
                "probability": list(probabilities.astype("float64")),
            }
        )

    def transform(self, df: DataFrame) -> DataFrame:
        """`df`'s columns that are not vectors, with the model's output columns added (replaced
        when present)."""
        import numpy as np

        from spark_ml.ml.driver import with_predictions

        if self.features not in df.columns:
            from spark_ml.errors import SchemaMismatchError

            raise SchemaMismatchError(f"cannot score: input is missing the feature vector column {self.features!r}")
        booster = self

        def predict(batch: pd.DataFrame) -> dict[str, Any]:
            predicted = booster.predict(np.stack(batch[_FEATURES].to_numpy()))
            if not booster.classifier:
                return {booster.prediction: predicted["prediction"].to_numpy()}
            return {
                booster.raw_prediction: predicted["raw"].to_numpy(),
                booster.prediction: predicted["prediction"].to_numpy(),
                booster.probability: predicted["probability"].to_numpy(),
            }

        # xgboost.spark's columns, in its order
        outputs = [self.raw_prediction, self.prediction, self.probability] if self.classifier else [self.prediction]
        vectors = [self.raw_prediction, self.probability] if self.classifier else []
        source = df.withColumn(_FEATURES, vector_to_array(F.col(self.features), dtype="float32"))
        return with_predictions(source, predict, outputs, vectors, inputs=[_FEATURES])


@dataclass
class StagedModel:
    """A PipelineModel's stages applied in order (what `PipelineModel.transform` does)."""

    stages: Sequence[Any]

    def transform(self, df: DataFrame) -> DataFrame:
        for stage in self.stages:
            df = stage.transform(df)
        return df


def has_xgboost_stage(folder: Path) -> bool:
    """Whether the PipelineModel saved in `folder` has an xgboost.spark stage."""
    return any(read_metadata(path)["class"].startswith(XGBOOST_CLASS_PREFIX) for path in _stage_folders(folder))


def _stage_folders(folder: Path) -> list[Path]:
    """The stage folders in pipeline order (Spark names them `<index>_<uid>`, the index zero-padded)."""
    uids = read_metadata(folder)["paramMap"]["stageUids"]
    digits = len(str(len(uids)))
    return [folder / "stages" / f"{str(i).zfill(digits)}_{uid}" for i, uid in enumerate(uids)]


def load_stages(folder: Path, spark: Any) -> StagedModel:
    """The PipelineModel saved in `folder`, its Spark ML stages loaded by Spark and its xgboost
    stage by this process (see the module docstring)."""
    from pyspark.ml.util import DefaultParamsReader

    stages: list[Any] = []
    for path in _stage_folders(folder):
        metadata = read_metadata(path)
        if str(metadata["class"]).startswith(XGBOOST_CLASS_PREFIX):
            stages.append(BoosterModel.load(path, metadata))
        else:
            stages.append(DefaultParamsReader.loadParamsInstance(str(path), spark))
    return StagedModel(stages)
