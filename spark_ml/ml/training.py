"""Training on time windows: column contract, splits, class weights, grid search, importances."""

from __future__ import annotations

import datetime as dt
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pyspark.ml import PipelineModel
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.utils import is_remote

from spark_ml.config import DateWindow, TrainSettings
from spark_ml.errors import ConfigError
from spark_ml.ml.evaluation import positive_probability
from spark_ml.ml.pipeline import FEATURES, LABEL, WEIGHT, build_pipeline, param_grid

log = logging.getLogger(__name__)
SPLITS = ("train", "validation", "test")


def in_window(column: str, window: DateWindow | tuple[dt.date, dt.date]) -> Column:
    start, end = (window.start, window.end) if isinstance(window, DateWindow) else window
    day = F.to_date(F.col(column))
    return (day >= F.lit(start)) & (day <= F.lit(end))


def check_columns(df: DataFrame, cfg: TrainSettings, table: str, with_label: bool = True) -> None:
    """Every configured column must exist in the table: a ConfigError names the missing ones."""
    wanted = [*cfg.keys, cfg.time_column, *cfg.features, *([cfg.label] if with_label else [])]
    missing = [c for c in dict.fromkeys(wanted) if c not in df.columns]
    if missing:
        raise ConfigError(f"columns named in 'train' are missing from {table}: {', '.join(missing)}")


def model_frame(df: DataFrame, cfg: TrainSettings) -> DataFrame:
    """The columns the model needs, with the label as a double `label` column."""
    columns = list(dict.fromkeys([*cfg.keys, cfg.time_column, *cfg.features]))
    return df.select(*columns, F.col(cfg.label).cast("double").alias(LABEL))


def with_label(df: DataFrame, cfg: TrainSettings) -> DataFrame:
    """Every column of the table plus the label as a double `label` column: what any model
    version (trained with other feature lists) needs to be evaluated on the same rows."""
    return df.withColumn(LABEL, F.col(cfg.label).cast("double"))


@dataclass(frozen=True)
class SplitCounts:
    rows: int
    positives: int


def split_counts(df: DataFrame, cfg: TrainSettings) -> dict[str, SplitCounts]:
    """Rows and positives per split window, from one aggregation."""
    name = F.lit(None).cast("string")
    for split in reversed(SPLITS):
        name = F.when(in_window(cfg.time_column, getattr(cfg.split, split)), F.lit(split)).otherwise(name)
    rows = df.groupBy(name.alias("split")).agg(F.count(F.lit(1)).alias("n"), F.sum(LABEL).alias("pos")).collect()
    counts = {r["split"]: SplitCounts(int(r["n"]), int(r["pos"] or 0)) for r in rows if r["split"]}
    for split in SPLITS:
        window = getattr(cfg.split, split)
        found = counts.get(split)
        if found is None or found.rows == 0:
            raise ConfigError(f"train.split.{split} ({window.start}..{window.end}) selects no rows")
    if counts["train"].positives in (0, counts["train"].rows):
        raise ConfigError("train.split.train holds a single class: a classifier needs both labels")
    return counts


def with_class_weights(df: DataFrame, counts: SplitCounts) -> DataFrame:
    """Balanced weights: each class weighs half of the training set in total."""
    positives, negatives = counts.positives, counts.rows - counts.positives
    w_pos, w_neg = counts.rows / (2 * positives), counts.rows / (2 * negatives)
    return df.withColumn(WEIGHT, F.when(F.col(LABEL) == 1.0, F.lit(w_pos)).otherwise(F.lit(w_neg)))


@dataclass
class Fitted:
    model: PipelineModel
    params: dict[str, Any]
    validation_auc: float
    candidates: list[tuple[dict[str, Any], float]]


def fit_best(train: DataFrame, validation: DataFrame, cfg: TrainSettings) -> Fitted:
    """Fit one model per grid point on `train`, in `cfg.parallelism` threads, and keep the one with
    the best AUC-ROC on `validation` (the first on ties, in grid order)."""
    pipeline, estimator = build_pipeline(cfg)
    grid = param_grid(estimator, cfg.grid)
    evaluator = BinaryClassificationEvaluator(rawPredictionCol="__p1", labelCol=LABEL, metricName="areaUnderROC")

    def fit_one(param_map: dict[Any, Any]) -> tuple[PipelineModel, float]:
        model = pipeline.fit(train, param_map) if param_map else pipeline.fit(train)
        if len(grid) == 1:
            return model, float("nan")
        scored = model.transform(validation).select(positive_probability().alias("__p1"), LABEL)
        return model, float(evaluator.evaluate(scored))

    target = fit_one
    if is_remote():
        # Under Spark Connect the active session is per thread: hand it to the pool's threads.
        from pyspark.util import inheritable_thread_target

        target = inheritable_thread_target(train.sparkSession)(fit_one)
    with ThreadPoolExecutor(max_workers=min(cfg.parallelism, len(grid))) as pool:
        results = list(pool.map(target, grid))
    candidates = [({p.name: v for p, v in m.items()}, auc) for m, (_, auc) in zip(grid, results, strict=True)]
    best = max(range(len(results)), key=lambda i: (results[i][1] if len(grid) > 1 else 0.0, -i))
    if len(grid) == 1:
        log.info("grid point %s: not evaluated (single candidate)", candidates[0][0] or "(configured params)")
    for params, auc in candidates if len(grid) > 1 else ():
        log.info("grid point %s: validation AUC-ROC %.4f", params, auc)
    return Fitted(results[best][0], candidates[best][0], results[best][1], candidates)


def importances(model: PipelineModel, scored: DataFrame) -> tuple[str, list[tuple[str, float]]]:
    """('feature importance' | 'coefficient', [(feature name, value)]) of the final stage."""
    names = feature_names(scored)
    last = model.stages[-1]
    if hasattr(last, "featureImportances"):
        values = list(last.featureImportances.toArray())
        kind = "feature importance"
    elif hasattr(last, "coefficients"):
        values = list(last.coefficients.toArray())
        kind = "coefficient"
    elif hasattr(last, "get_feature_importances"):
        raw = last.get_feature_importances(importance_type="gain")
        values = [float(raw.get(f"f{i}", 0.0)) for i in range(len(names))]
        kind = "gain"
    else:
        return "none", []
    return kind, [(names.get(i, f"f{i}"), float(v)) for i, v in enumerate(values)]


def feature_names(scored: DataFrame) -> dict[int, str]:
    """Vector slot -> name, from the assembler's ML attribute metadata of the features column."""
    meta = scored.schema[FEATURES].metadata.get("ml_attr", {}).get("attrs", {})
    names: dict[int, str] = {}
    for group in meta.values():
        for attr in group:
            names[int(attr["idx"])] = str(attr["name"]).replace("__imputed", "").replace("__onehot", "")
    return names
