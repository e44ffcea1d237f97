"""Multiclass labels and metrics, computed by Spark on full data sets (never a sample).

A multiclass label (strings, integers or booleans) is indexed by the model's class list: the
distinct labels of the training table's three windows, sorted, fixed when the model is trained and
stored with it (the model version's tag `spark_ml.classes`). Spark ML sees the index as a double
`label` column whose metadata gives the number of classes, so a class absent from one window
keeps its index and its probability slot.

Log loss, accuracy and macro F1 come from one aggregation into the confusion matrix (at most k²
rows): macro F1 averages the F1 of every class present in the labels or the predictions, as
scikit-learn's `f1_score(average="macro")` does (a class never predicted scores 0). The
baseline predicts the training window's class prior for every row: its metrics follow from the
set's class counts alone.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pyspark.ml.functions import vector_to_array
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_ml.errors import ConfigError, SparkMLError

EPS = 1e-15
CLASSES_TAG = "spark_ml.classes"


@dataclass(frozen=True)
class MulticlassMetrics:
    rows: int
    log_loss: float
    accuracy: float
    macro_f1: float
    classes: tuple[str, ...] = ()
    confusion: tuple[tuple[int, ...], ...] = field(default=(), repr=False)  # [true][predicted]

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        return {f"{prefix}{n}": float(getattr(self, n)) for n in ("rows", "log_loss", "accuracy", "macro_f1")}

    def metric(self, name: str) -> float:
        return float(getattr(self, name))


def class_names(values: Sequence[object]) -> tuple[str, ...]:
    """The class list of distinct label values: numbers in numeric order, else as strings sorted."""
    distinct = {v for v in values if v is not None}
    numbers = sorted((int(v), str(v).lower()) for v in distinct if isinstance(v, bool | int))
    if len(numbers) == len(distinct):
        return tuple(text for _, text in numbers)
    return tuple(sorted(str(v) for v in distinct))


def label_text(column: Column) -> Column:
    """A label value as the text its class is named by (booleans as true / false)."""
    return F.lower(column.cast("string"))


def label_index(column: Column, classes: Sequence[str]) -> Column:
    """The class index of a label as a double with the class count in its ML metadata; null for a
    null label or a class the list does not hold."""
    index = class_position(label_text(column), classes).cast("double")
    meta = {"ml_attr": {"type": "nominal", "num_vals": len(classes), "name": "label"}}
    return index.alias("label", metadata=meta)


def column_name(prefix: str, cls: str) -> str:
    """`probability_<class>`, the class made a safe column name."""
    return f"{prefix}_{re.sub(r'[^0-9A-Za-z_]+', '_', cls)}"


def probability_columns(classes: Sequence[str], vector: str = "probability") -> list[Column]:
    values = vector_to_array(F.col(vector))
    names = [column_name("probability", c) for c in classes]
    if len(set(names)) != len(names):
        raise ConfigError(f"classes {list(classes)} give the same column name twice: {names}")
    return [values.getItem(i).alias(name) for i, name in enumerate(names)]


def predicted_class(classes: Sequence[str], prediction: str = "prediction") -> Column:
    """The class name of Spark ML's prediction index."""
    return F.element_at(F.array(*[F.lit(c) for c in classes]), F.col(prediction).cast("int") + 1)


def class_position(column: Column, classes: Sequence[str]) -> Column:
    """The index of a class name in `classes` (null when absent): a prediction read back. A map
    lookup (array_position takes a literal value only on Spark 3.5)."""
    pairs = [item for i, c in enumerate(classes) for item in (F.lit(c), F.lit(i))]
    return F.element_at(F.create_map(*pairs), column)


def classes_tag(classes: Sequence[str]) -> str:
    return json.dumps(list(classes))


def classes_from_tags(tags: Mapping[str, str], model: str) -> tuple[str, ...]:
    raw = tags.get(CLASSES_TAG)
    if not raw:
        raise SparkMLError(f"{model} has no '{CLASSES_TAG}' tag: it was not trained as a multiclass model")
    return tuple(json.loads(raw))


def evaluate_multiclass(
    scored: DataFrame,
    classes: Sequence[str],
    label: Column | None = None,
    prediction: Column | None = None,
    probabilities: Column | None = None,
) -> MulticlassMetrics:
    """The metrics of a classifier's prediction (class index) and class probabilities (an array in
    class order) against the label (class index) on every row whose label is known. Defaults:
    Spark ML's `label`, `prediction` and `probability` vector columns."""
    y = (F.col("label") if label is None else label).cast("int")
    p = (F.col("prediction") if prediction is None else prediction).cast("int")
    values = vector_to_array(F.col("probability")) if probabilities is None else probabilities
    p_true = F.element_at(values, y + 1)
    loss = -F.log(F.least(F.greatest(p_true, F.lit(EPS)), F.lit(1 - EPS)))
    rows = (
        scored.select(y.alias("y"), p.alias("p"), loss.alias("loss"))
        .where(F.col("y").isNotNull())
        .groupBy("y", "p")
        .agg(F.count(F.lit(1)).alias("n"), F.sum("loss").alias("loss"))
        .collect()
    )
    k = len(classes)
    confusion = [[0] * k for _ in range(k)]
    total_loss = 0.0
    for r in rows:
        confusion[int(r["y"])][int(r["p"])] += int(r["n"])
        total_loss += float(r["loss"])
    n = sum(map(sum, confusion))
    if n == 0:
        raise SparkMLError("cannot evaluate an empty data set (no row has a known class)")
    correct = sum(confusion[i][i] for i in range(k))
    return MulticlassMetrics(
        n, total_loss / n, correct / n, macro_f1(confusion), tuple(classes), tuple(map(tuple, confusion))
    )


def macro_f1(confusion: Sequence[Sequence[int]]) -> float:
    """The mean F1 over the classes present in the labels or the predictions."""
    k = len(confusion)
    scores = []
    for c in range(k):
        tp = confusion[c][c]
        actual = sum(confusion[c])
        predicted = sum(confusion[r][c] for r in range(k))
        if actual == 0 and predicted == 0:
            continue
        scores.append(2 * tp / (actual + predicted))
    return sum(scores) / len(scores) if scores else math.nan


def prior_metrics(counts: Sequence[int], prior: Sequence[float], classes: Sequence[str]) -> MulticlassMetrics:
    """The metrics of predicting `prior` (the training window's class shares) for every row of a
    set whose class counts are `counts`: the predicted class is the most frequent in training."""
    n = sum(counts)
    if n == 0:
        raise SparkMLError("cannot evaluate a prior on an empty data set")
    top = max(range(len(prior)), key=lambda i: (prior[i], -i))
    loss = -sum(c * math.log(min(max(p, EPS), 1 - EPS)) for c, p in zip(counts, prior, strict=True)) / n
    k = len(counts)
    confusion = [[counts[i] if j == top else 0 for j in range(k)] for i in range(k)]
    return MulticlassMetrics(
        n, loss, counts[top] / n, macro_f1(confusion), tuple(classes), tuple(map(tuple, confusion))
    )
