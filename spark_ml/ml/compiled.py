"""A fitted binary logistic-regression pipeline as SQL columns.

`PipelineModel.transform` runs each stage as a JVM UDF: the imputer's columns, a string index per
categorical column, a one-hot vector per index, one assembled vector per row, a raw-prediction
vector, a probability vector, then `vector_to_array` to read class 1 back out. For the pipelines
`ml.pipeline.preprocessing` builds, ending in a binary `LogisticRegressionModel`, the same number
is an arithmetic expression of the input columns (the margin), which Spark compiles with the rest
of the query and which builds no vector, then the logistic function of it.

The expression follows Spark ML's own arithmetic step by step, so its result is the same double:
- the imputer replaces null and its missing value (NaN by default) with the surrogate, then casts
  back to the input column's type;
- the string indexer maps a label to its position and anything else (null, unseen) to the number
  of labels (`handleInvalid="keep"`); the one-hot encoder puts a 1.0 at that index when it is
  inside the vector (its size after `handleInvalid` and `dropLast`), else nothing;
- the assembled vector is sparse (its non-zeros only), and Spark's dot product of a sparse vector
  and the dense coefficients adds `value * coefficient` from 0.0 in index order; a zero value adds
  nothing and a one-hot 1.0 adds its coefficient exactly, so the same order over every slot gives
  the same sum; the margin is that sum plus the intercept;
- the probability of class 1 is `1 - 1 / (1 + exp(margin))` (the raw prediction is `(-m, m)` and
  Spark computes class 0 first, then class 1 as its complement), with Java's `Math.exp`
  (`probability_of_margin`).

Any other pipeline (another stage, another estimator, more than two classes, a dense assembled
vector, too many labels in one column) gives None and is scored by `transform`. Tests compare the
two bit for bit on inline edge cases (nulls, NaN, unseen labels) and on the real data.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

# Above this many labels in one categorical column the model is left to `transform`: the lookup of
# a label in a literal map compares it with each key in turn.
MAX_LABELS = 512


@dataclass(frozen=True)
class _Slot:
    """One input of the assembled vector: a numeric column (size 1) or a one-hot block."""

    column: Column | None  # numeric value (double) for a numeric input
    labels: dict[str, int] | None  # label -> slot index inside the block, for a one-hot input
    invalid: int | None  # slot of a null or unseen label, None when it is dropped
    source: str | None  # the categorical input column of a one-hot block
    size: int


def _stage_name(stage: object) -> str:
    return type(stage).__name__


def _imputed(stage: Any, schema: StructType) -> dict[str, Column] | None:
    if stage.getStrategy() not in ("mean", "median", "mode"):
        return None
    surrogates = stage.surrogateDF.collect()[0].asDict()
    missing = float(stage.getMissingValue())
    inputs = stage.getInputCols() if stage.isSet("inputCols") else [stage.getInputCol()]
    outputs = stage.getOutputCols() if stage.isSet("outputCols") else [stage.getOutputCol()]
    out: dict[str, Column] = {}
    for source, target in zip(inputs, outputs, strict=True):
        if source not in schema.names:
            return None
        value = F.col(source).cast("double")
        surrogate = F.lit(float(surrogates[source]))
        filled = F.when(value.isNull(), surrogate).when(value == F.lit(missing), surrogate).otherwise(value)
        out[target] = filled.cast(schema[source].dataType)
    return out


def _indexed(stage: Any) -> dict[str, tuple[str, list[str]]] | None:
    if stage.getHandleInvalid() != "keep":
        return None
    inputs = stage.getInputCols() if stage.isSet("inputCols") else [stage.getInputCol()]
    outputs = stage.getOutputCols() if stage.isSet("outputCols") else [stage.getOutputCol()]
    labels = stage.labelsArray
    if any(len(ls) > MAX_LABELS for ls in labels):
        return None
    return {t: (s, list(ls)) for s, t, ls in zip(inputs, outputs, labels, strict=True)}


def _encoded(stage: Any, indexed: dict[str, tuple[str, list[str]]]) -> dict[str, _Slot] | None:
    keep = stage.getHandleInvalid() == "keep"
    drop_last = stage.getDropLast()
    inputs = stage.getInputCols() if stage.isSet("inputCols") else [stage.getInputCol()]
    outputs = stage.getOutputCols() if stage.isSet("outputCols") else [stage.getOutputCol()]
    out: dict[str, _Slot] = {}
    for source, target, categories in zip(inputs, outputs, stage.categorySizes, strict=True):
        if source not in indexed or not keep:
            return None
        column, labels = indexed[source]
        size = categories + (1 if keep else 0) - (1 if drop_last else 0)

        def slot(index: int, categories: int = categories, size: int = size) -> int | None:
            at = index if 0 <= index < categories else categories
            return at if at < size else None

        positions = {label: slot(i) for i, label in enumerate(labels)}
        out[target] = _Slot(
            column=None,
            labels={k: v for k, v in positions.items() if v is not None},
            invalid=slot(len(labels)),
            source=column,
            size=size,
        )
    return out


def _term(slot: _Slot, offset: int, coefficients: Sequence[float]) -> Column | None:
    """The block's contribution to the dot product: value * coefficient, or the coefficient of
    the label's one-hot slot (1.0 * c == c); None when the block adds nothing for any row."""
    if slot.column is not None:
        return F.coalesce(slot.column.cast("double"), F.lit(float("nan"))) * F.lit(float(coefficients[offset]))
    assert slot.labels is not None
    assert slot.source is not None
    invalid = F.lit(float(coefficients[offset + slot.invalid])) if slot.invalid is not None else None
    if not slot.labels:
        return invalid
    # A literal map from label to coefficient: one compact lookup in the generated code, where a
    # CASE of one branch per label makes a method too large for the JIT to compile.
    pairs = [F.lit(x) for text, index in slot.labels.items() for x in (text, float(coefficients[offset + index]))]
    found = F.create_map(*pairs)[F.col(slot.source).cast("string")]
    return F.coalesce(found, invalid if invalid is not None else F.lit(0.0))


# A loaded model's margin per input schema: building it asks Spark for the imputer's surrogates and
# makes a few hundred calls to the JVM (0.3 s), and `models.loaded` keeps a model for a session.
_margins: weakref.WeakKeyDictionary[Any, dict[str, Column | None]] = weakref.WeakKeyDictionary()


def margin_column(model: Any, schema: StructType) -> Column | None:
    """The logistic regression's margin (`coefficients . features + intercept`) that
    `model.transform` computes for a row of `schema`, as one column, or None when the model is not
    a pipeline this module compiles (see the module doc). Kept per model object and schema."""
    try:
        known = _margins.setdefault(model, {})
    except TypeError:  # an object without weak references is not a model this module compiles
        return None
    key = schema.json()
    if key not in known:
        known[key] = _margin(model, schema)
    return known[key]


def _margin(model: Any, schema: StructType) -> Column | None:
    stages = list(getattr(model, "stages", ()))
    if not stages or _stage_name(stages[-1]) != "LogisticRegressionModel":
        return None
    lr = stages[-1]
    if lr.numClasses != 2 or lr.coefficientMatrix.numRows != 1:
        return None
    numeric: dict[str, Column] = {c: F.col(c) for c in schema.names}
    indexed: dict[str, tuple[str, list[str]]] = {}
    slots: dict[str, _Slot] = {}
    assembled: list[str] | None = None
    for stage in stages[:-1]:
        name = _stage_name(stage)
        if name == "ImputerModel":
            imputed = _imputed(stage, schema)
            if imputed is None:
                return None
            numeric.update(imputed)
        elif name == "StringIndexerModel":
            index = _indexed(stage)
            if index is None:
                return None
            indexed.update(index)
        elif name == "OneHotEncoderModel":
            encoded = _encoded(stage, indexed)
            if encoded is None:
                return None
            slots.update(encoded)
        elif name == "VectorAssembler" and assembled is None:
            if stage.getHandleInvalid() != "keep" or stage.getOutputCol() != lr.getFeaturesCol():
                return None
            assembled = list(stage.getInputCols())
        else:
            return None
    if assembled is None:
        return None
    layout: list[_Slot] = []
    for name in assembled:
        if name in slots:
            layout.append(slots[name])
        elif name in numeric:
            layout.append(_Slot(column=numeric[name], labels=None, invalid=None, source=None, size=1))
        else:
            return None
    coefficients = lr.coefficients.toArray().tolist()
    if sum(s.size for s in layout) != len(coefficients):
        return None
    # A dense assembled vector would be summed in another order (BLAS): the vector stays sparse
    # while 1.5 * (non-zeros + 1) < size, and a row has at most one non-zero per input.
    if 1.5 * (len(layout) + 1) >= len(coefficients):
        return None
    margin: Column = F.lit(0.0)
    offset = 0
    for slot in layout:
        term = _term(slot, offset, coefficients)
        if term is not None:
            margin = margin + term
        offset += slot.size
    return margin + F.lit(float(lr.intercept))


def probability_of_margin(margin: str) -> Column:
    """The probability of class 1 from the margin column `margin`, as Spark ML computes it:
    `1 - 1 / (1 + exp(m))` with `java.lang.Math.exp`. Spark SQL's `exp` is `StrictMath.exp`,
    which differs from it in the last bit for about 2% of margins here, so the exponential is
    `java.lang.Math.exp` itself, called by `reflect` (it returns the double's shortest decimal
    text, which parses back to the same double).

    `reflect` is evaluated row by row outside the generated code, with its arguments: it must
    take the margin as a column of the frame below it, not as the margin's expression. A NaN
    margin is returned as it is (the formula gives NaN too); naming the margin twice also keeps
    Spark's optimizer from folding the margin's projection into this one."""
    m = F.col(margin)
    exp = F.reflect(F.lit("java.lang.Math"), F.lit("exp"), m).cast("double")
    return F.when(F.isnan(m), m).otherwise(F.lit(1.0) - F.lit(1.0) / (F.lit(1.0) + exp))
