"""Training on time windows: column contract, splits, class weights, importances (the search over
candidates is spark_ml.ml.selection)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyspark.ml import PipelineModel
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_ml.config import DateWindow, TrainSettings
from spark_ml.errors import ConfigError
from spark_ml.ml.pipeline import FEATURES, LABEL, WEIGHT

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
