"""Training on time windows: column contract, splits, class weights, importances (the search over
candidates is spark_ml.ml.selection)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.ml import PipelineModel
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_ml.config import DateWindow, TrainSettings
from spark_ml.errors import ConfigError, SparkMLError
from spark_ml.ml.driver import DriverModel
from spark_ml.ml.multiclass import class_names, label_index
from spark_ml.ml.pipeline import FEATURES, LABEL, WEIGHT

SPLITS = ("train", "validation", "test")


def in_window(column: str, window: DateWindow | tuple[dt.date, dt.date]) -> Column:
    start, end = (window.start, window.end) if isinstance(window, DateWindow) else window
    day = F.to_date(F.col(column))
    return (day >= F.lit(start)) & (day <= F.lit(end))


# The label types each task accepts (Spark's simple type names).
NUMERIC_TYPES = ("tinyint", "smallint", "int", "bigint", "float", "double")
INTEGER_TYPES = ("tinyint", "smallint", "int", "bigint")
LABEL_TYPES = {
    "binary": (*NUMERIC_TYPES, "boolean"),
    "regression": NUMERIC_TYPES,
    "multiclass": ("string", *INTEGER_TYPES, "boolean"),
}
MAX_CLASSES = 1000


def check_columns(df: DataFrame, cfg: TrainSettings, table: str, with_label: bool = True) -> None:
    """Every configured column must exist in the table, and the label's type must fit the task:
    a ConfigError names the missing columns, or the label and its type."""
    wanted = [*cfg.keys, cfg.time_column, *cfg.features, *([cfg.label] if with_label else [])]
    missing = [c for c in dict.fromkeys(wanted) if c not in df.columns]
    if missing:
        raise ConfigError(f"columns named in 'train' are missing from {table}: {', '.join(missing)}")
    if with_label:
        kind = df.schema[cfg.label].dataType.simpleString()
        accepted = LABEL_TYPES[cfg.task]
        decimal = kind.startswith("decimal") and cfg.task != "multiclass"
        if kind not in accepted and not decimal:
            raise ConfigError(
                f"train.label {cfg.label!r} of {table} is {kind}: a {cfg.task} task needs a label of type "
                f"{', '.join(accepted)}"
            )


def label_column(cfg: TrainSettings, classes: Sequence[str] = ()) -> Column:
    """The label as Spark ML's double `label`: the value (binary, regression) or the class index
    in `classes` (multiclass)."""
    if cfg.task == "multiclass":
        if not classes:
            raise SparkMLError("a multiclass label needs the model's class list")
        return label_index(F.col(cfg.label), classes)
    return F.col(cfg.label).cast("double").alias(LABEL)


def model_frame(df: DataFrame, cfg: TrainSettings, classes: Sequence[str] = ()) -> DataFrame:
    """The columns the model needs, with the label as a double `label` column."""
    columns = list(dict.fromkeys([*cfg.keys, cfg.time_column, *cfg.features]))
    return df.select(*columns, label_column(cfg, classes))


def with_label(df: DataFrame, cfg: TrainSettings, classes: Sequence[str] = ()) -> DataFrame:
    """Every column of the table plus the label as a double `label` column: what any model
    version (trained with other feature lists) needs to be evaluated on the same rows."""
    return df.withColumn(LABEL, label_column(cfg, classes))


def find_classes(df: DataFrame, cfg: TrainSettings) -> tuple[str, ...]:
    """A multiclass label's classes: its distinct values in the three split windows, sorted."""
    windows = F.lit(False)
    for split in SPLITS:
        windows = windows | in_window(cfg.time_column, getattr(cfg.split, split))
    values = [r[0] for r in df.where(windows).select(cfg.label).distinct().limit(MAX_CLASSES + 1).collect()]
    classes = class_names(values)
    if len(classes) > MAX_CLASSES:
        raise ConfigError(
            f"train.label {cfg.label!r} has more than {MAX_CLASSES} distinct values: is it a class label?"
        )
    if len(classes) < 2:
        raise ConfigError(
            f"train.label {cfg.label!r} holds {len(classes)} class(es) in the split windows: a classifier needs two"
        )
    return classes


def class_counts(df: DataFrame, cfg: TrainSettings, classes: Sequence[str]) -> dict[str, list[int]]:
    """Rows per class (in class order) of each split window, from one aggregation of the indexed label."""
    name = F.lit(None).cast("string")
    for split in reversed(SPLITS):
        name = F.when(in_window(cfg.time_column, getattr(cfg.split, split)), F.lit(split)).otherwise(name)
    rows = df.where(F.col(LABEL).isNotNull()).groupBy(name.alias("split"), LABEL).count().collect()
    counts = {split: [0] * len(classes) for split in SPLITS}
    for r in rows:
        if r["split"]:
            counts[r["split"]][int(r[LABEL])] += int(r["count"])
    return counts


@dataclass(frozen=True)
class SplitCounts:
    """Rows with a known label, the sum of their labels (the positives of a binary label) and the
    rows whose label is null (left out of training and evaluation)."""

    rows: int
    label_sum: float = 0.0
    unlabelled: int = 0

    @property
    def positives(self) -> int:
        """A binary (0/1) label's count of 1s."""
        return round(self.label_sum)

    @property
    def mean_label(self) -> float:
        return self.label_sum / self.rows if self.rows else float("nan")


def split_counts(df: DataFrame, cfg: TrainSettings) -> dict[str, SplitCounts]:
    """Labelled rows, label sums and unlabelled rows per split window, from one aggregation."""
    name = F.lit(None).cast("string")
    for split in reversed(SPLITS):
        name = F.when(in_window(cfg.time_column, getattr(cfg.split, split)), F.lit(split)).otherwise(name)
    rows = (
        df.groupBy(name.alias("split"))
        .agg(F.count(F.lit(1)).alias("all"), F.count(LABEL).alias("n"), F.sum(LABEL).alias("pos"))
        .collect()
    )
    counts = {
        r["split"]: SplitCounts(int(r["n"]), float(r["pos"] or 0.0), int(r["all"]) - int(r["n"]))
        for r in rows
        if r["split"]
    }
    for split in SPLITS:
        window = getattr(cfg.split, split)
        found = counts.get(split)
        if found is None or found.rows == 0:
            unlabelled = f" with a known {cfg.label}" if found is not None and found.unlabelled else ""
            raise ConfigError(f"train.split.{split} ({window.start}..{window.end}) selects no rows{unlabelled}")
    if cfg.task == "binary" and counts["train"].positives in (0, counts["train"].rows):
        raise ConfigError("train.split.train holds a single class: a classifier needs both labels")
    return counts


def with_class_weights(df: DataFrame, counts: SplitCounts) -> DataFrame:
    """Balanced weights: each class weighs half of the training set in total."""
    positives, negatives = counts.positives, counts.rows - counts.positives
    w_pos, w_neg = counts.rows / (2 * positives), counts.rows / (2 * negatives)
    return df.withColumn(WEIGHT, F.when(F.col(LABEL) == 1.0, F.lit(w_pos)).otherwise(F.lit(w_neg)))


def importances(model: PipelineModel | DriverModel, scored: DataFrame) -> tuple[str, list[tuple[str, float]]]:
    """('feature importance' | 'coefficient', [(feature name, value)]) of the final stage."""
    if isinstance(model, DriverModel):
        return model.importances()
    names = feature_names(scored)
    last = model.stages[-1]
    if hasattr(last, "featureImportances"):
        values = list(last.featureImportances.toArray())
        kind = "feature importance"
    elif hasattr(last, "coefficientMatrix") and getattr(last, "numClasses", 2) > 2:
        matrix = last.coefficientMatrix.toArray()  # one row per class (multinomial)
        values = [float(abs(matrix[:, j]).max()) for j in range(matrix.shape[1])]
        kind = "largest absolute coefficient over the classes"
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
