"""Single-node candidates: scikit-learn's HistGradientBoosting (`sklearn_hgb`) and LightGBM
(`lightgbm`), trained on the driver, applied inside Spark.

The training and validation windows are collected to the driver as Arrow batches (`toPandas`),
capped by `train.max_driver_rows`: above it the training is refused with an error naming the
count, unless `train.driver_sample: true` trains on a seeded random sample of that many rows (said
in the run's notes). Numeric features stay as they are (missing values are NaN: both libraries
handle them natively); categorical features are encoded with an OrdinalEncoder fitted on the
training window (a value unseen there, or null, is missing) and declared categorical to the
booster. With `early_stopping_rounds`, the booster stops when its loss on the validation window
has not improved for that many rounds (at most `max_trees`).

The fitted model is a scikit-learn Pipeline (encoder, then the booster), so MLflow logs it with the
sklearn flavour (pyfunc included). `DriverModel.transform` applies it inside Spark with
`mapInPandas`, one Arrow batch at a time on the executors (never a row-at-a-time UDF), and adds
the columns Spark ML models add: `prediction` and, for classifiers, the `probability` vector, so
evaluation, promotion, scoring and monitoring treat both kinds of model alike. Both work over
Spark Connect (collecting and mapInPandas need no JVM on the client). `with_predictions` is that
mapInPandas step, shared with the xgboost booster path (spark_ml.ml.booster).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.ml.functions import array_to_vector
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DoubleType, StructField, StructType

from spark_ml.errors import ConfigError

SINGLE_NODE = ("sklearn_hgb", "lightgbm")
LABEL = "label"
# HistGradientBoosting takes categorical codes below its max_bins (255): more categories stay codes.
MAX_CATEGORIES = 250
DEFAULT_MAX_DRIVER_ROWS = 2_000_000


@dataclass
class DriverModel:
    """A fitted single-node model and how Spark applies it (see the module docstring)."""

    pipeline: Any  # sklearn Pipeline: ("prepare", ColumnTransformer), ("model", booster)
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    task: str
    n_classes: int = 0  # classifiers: the width of the probability vector
    trees: int | None = None
    depth: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric + self.categorical

    def describe(self) -> dict[str, Any]:
        """What loading needs besides the pipeline (kept next to it as JSON)."""
        return {
            "numeric": list(self.numeric),
            "categorical": list(self.categorical),
            "task": self.task,
            "n_classes": self.n_classes,
            "trees": self.trees,
            "depth": self.depth,
        }

    @classmethod
    def from_description(cls, pipeline: Any, data: dict[str, Any]) -> DriverModel:
        return cls(
            pipeline,
            tuple(data["numeric"]),
            tuple(data["categorical"]),
            str(data["task"]),
            int(data["n_classes"]),
            data.get("trees"),
            data.get("depth"),
        )

    def predict_frame(self, rows: Any) -> tuple[Any, Any]:
        """(prediction, probabilities or None) of a pandas DataFrame holding the features."""
        import numpy as np

        x = _frame(rows, self.numeric, self.categorical)
        if self.task == "regression":
            return np.asarray(self.pipeline.predict(x), dtype="float64"), None
        raw = self.pipeline.predict_proba(x)
        probabilities = np.zeros((len(x), self.n_classes))
        for column, cls in enumerate(self.pipeline[-1].classes_):
            probabilities[:, int(cls)] = raw[:, column]
        return probabilities.argmax(axis=1).astype("float64"), probabilities

    def transform(self, df: DataFrame) -> DataFrame:
        """`df` with `prediction` (and a classifier's `probability` vector), in Arrow batches."""
        missing = [c for c in self.features if c not in df.columns]
        if missing:
            from spark_ml.errors import SchemaMismatchError

            raise SchemaMismatchError(f"cannot score: input is missing feature column(s) {', '.join(missing)}")
        model = self

        def predict(batch: Any) -> dict[str, Any]:
            prediction, probabilities = model.predict_frame(batch)
            return {
                "prediction": prediction,
                **({"probability": list(probabilities)} if probabilities is not None else {}),
            }

        vectors = ("probability",) if self.task != "regression" else ()
        return with_predictions(df, predict, ("prediction", *vectors), vectors)

    def importances(self) -> tuple[str, list[tuple[str, float]]]:
        booster = self.pipeline[-1]
        values = getattr(booster, "feature_importances_", None)
        if values is None:
            return "none", []
        kind = "gain" if getattr(booster, "importance_type", "") == "gain" else "split count"
        return kind, [(name, float(v)) for name, v in zip(self.features, values, strict=True)]


def with_predictions(
    source: DataFrame,
    predict: Callable[[Any], dict[str, Any]],
    outputs: Sequence[str],
    vectors: Sequence[str] = (),
    *,
    inputs: Sequence[str] = (),
) -> DataFrame:
    """`source` with a model's `outputs` (in that order, at the end), computed by `predict` from
    each Arrow batch (a pandas DataFrame) in `mapInPandas`: those in `vectors` Spark ML vectors,
    the others doubles. Arrow cannot carry Spark ML vectors through mapInPandas (pyspark fails to
    serialize a VectorUDT back), so `source`'s vector columns are not in the result; nor are
    `inputs`, columns made only for `predict` to read."""
    from pyspark.ml.linalg import VectorUDT

    kept = [f for f in source.schema.fields if not isinstance(f.dataType, VectorUDT) and f.name not in outputs]
    fields = [*kept, *(StructField(n, ArrayType(DoubleType()) if n in vectors else DoubleType()) for n in outputs)]

    def apply(batches: Iterator[Any]) -> Iterator[Any]:
        for batch in batches:
            if len(batch):
                yield batch.assign(**predict(batch))

    scored = source.select(*(f.name for f in kept)).mapInPandas(apply, StructType(fields)).drop(*inputs)
    for name in vectors:
        scored = scored.withColumn(name, array_to_vector(F.col(name)))
    return scored


def _frame(rows: Any, numeric: Sequence[str], categorical: Sequence[str]) -> Any:
    """The features of a pandas DataFrame as the pipeline takes them: numbers as floats (NaN for
    missing), categories as strings (None for missing)."""
    import pandas as pd

    out = pd.DataFrame(index=rows.index)
    for c in numeric:
        out[c] = pd.to_numeric(rows[c], errors="coerce").astype("float64")
    for c in categorical:
        out[c] = rows[c].astype("object").where(rows[c].notna(), None)
    return out


def collect(df: DataFrame, columns: Sequence[str], cap: int, sample: bool, seed: int, what: str) -> tuple[Any, str]:
    """`columns` of `df` on the driver as pandas (Arrow batches), at most `cap` rows: more is an
    error unless `sample` (then a seeded random sample of about `cap` rows). Also a note for the
    run when it sampled."""
    rows = df.count()
    note = ""
    if rows > cap:
        if not sample:
            raise ConfigError(
                f"the {what} has {rows:,} rows, above train.max_driver_rows={cap:,}: a single-node candidate "
                "trains on the driver. Raise the cap if the driver has the memory, set train.driver_sample: true "
                "to train on a random sample of that many rows, or use a Spark estimator"
            )
        df = df.sample(fraction=min(1.0, cap / rows * 1.05), seed=seed).limit(cap)
        note = f"{what}: a random sample of {cap:,} of {rows:,} rows (train.driver_sample)"
    spark = df.sparkSession
    try:
        from pyspark.sql.utils import is_remote

        if not is_remote():
            spark.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
    except Exception:  # a session that refuses the setting still collects, without Arrow
        pass
    return df.select(*columns).toPandas(), note


def _estimator(name: str, task: str, params: dict[str, Any], key: str, seed: int) -> Any:
    """The booster of a single-node candidate with its configured params (each checked)."""
    if name == "sklearn_hgb":
        try:
            from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
        except ImportError as exc:
            raise ConfigError(
                "an sklearn_hgb candidate needs scikit-learn: pip install 'spark-ml[singlenode]'"
            ) from exc
        estimator: Any = HistGradientBoostingRegressor() if task == "regression" else HistGradientBoostingClassifier()
    else:
        try:
            import lightgbm
        except ImportError as exc:
            raise ConfigError("a lightgbm candidate needs lightgbm: pip install 'spark-ml[singlenode]'") from exc
        estimator = lightgbm.LGBMRegressor(verbose=-1) if task == "regression" else lightgbm.LGBMClassifier(verbose=-1)
    known = estimator.get_params()
    for param in params:
        if param not in known:
            close = difflib.get_close_matches(param, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(
                f"unknown parameter {param!r} at '{key}.params.{param}' for {type(estimator).__name__}{hint}"
            )
    fixed = {"random_state": seed} if "random_state" in known and "random_state" not in params else {}
    try:
        estimator.set_params(**params, **fixed)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid params at '{key}.params' for {type(estimator).__name__}: {exc}") from None
    return estimator


def fit(
    name: str,
    task: str,
    params: dict[str, Any],
    *,
    train: Any,
    validation: Any | None,
    numeric: Sequence[str],
    categorical: Sequence[str],
    n_classes: int,
    key: str = "train",
    seed: int = 42,
    early_stopping_rounds: int | None = None,
    max_trees: int | None = None,
) -> DriverModel:
    """Fit a single-node candidate on the `train` pandas frame (features and `label`), early
    stopped on `validation` when `early_stopping_rounds` is set."""
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    numeric, categorical = tuple(numeric), tuple(categorical)
    x_train = _frame(train, numeric, categorical)
    encoder = OrdinalEncoder(
        handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan, dtype="float64"
    )
    prepare = ColumnTransformer(
        [("numeric", "passthrough", list(numeric)), ("categorical", encoder, list(categorical))],
        verbose_feature_names_out=False,
    )
    xt = prepare.fit_transform(x_train)
    cardinality = [len(c) for c in prepare.named_transformers_["categorical"].categories_] if categorical else []
    cat_index = [len(numeric) + i for i, n in enumerate(cardinality) if n <= MAX_CATEGORIES]
    y = train[LABEL].to_numpy(dtype="float64")
    if task != "regression":
        y = y.astype("int64")
    estimator = _estimator(name, task, params, key, seed)
    rounds = early_stopping_rounds if validation is not None else None
    stopping = rounds is not None
    if validation is not None and rounds is not None:
        xv = prepare.transform(_frame(validation, numeric, categorical))
        yv = validation[LABEL].to_numpy(dtype="float64")
        if task != "regression":
            yv = yv.astype("int64")
    if name == "sklearn_hgb":
        estimator.set_params(categorical_features=cat_index or None)
        if stopping:
            estimator.set_params(early_stopping=True, n_iter_no_change=early_stopping_rounds, max_iter=max_trees or 500)
            estimator.fit(xt, y, X_val=xv, y_val=yv)
        else:
            estimator.fit(xt, y)
        trees = int(estimator.n_iter_)
        depth = estimator.get_params().get("max_depth")
    else:
        import lightgbm

        if rounds is not None:
            estimator.set_params(n_estimators=max_trees or 500)
            import inspect

            # lightgbm >= 4.6 takes the evaluation set as eval_X / eval_y (eval_set is deprecated)
            newer = "eval_X" in inspect.signature(estimator.fit).parameters
            evaluation = {"eval_X": (xv,), "eval_y": (yv,)} if newer else {"eval_set": [(xv, yv)]}
            estimator.fit(
                xt,
                y,
                **evaluation,
                categorical_feature=cat_index or "auto",
                callbacks=[lightgbm.early_stopping(rounds, verbose=False)],
            )
            trees = int(estimator.best_iteration_ or estimator.n_estimators)
        else:
            estimator.fit(xt, y, categorical_feature=cat_index or "auto")
            trees = int(estimator.n_estimators)
        depth = estimator.get_params().get("max_depth")
        depth = None if depth is None or depth <= 0 else depth
    pipeline = Pipeline([("prepare", prepare), ("model", estimator)])
    return DriverModel(pipeline, numeric, categorical, task, n_classes, trees, None if depth is None else int(depth))
