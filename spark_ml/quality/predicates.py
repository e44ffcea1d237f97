"""When a row violates a check: one Column per check, shared by table checks and ingest row rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_ml.config import AcceptedValuesCheck, Check, NotNullCheck, RangeCheck, ReferentialCheck, RowRule
from spark_ml.errors import DataQualityError

AnyCheck = Check | RowRule


def reference_flag(index: int) -> str:
    """The column that is true when row `index`'s referential key was found in its reference table."""
    return f"__ref_found_{index}"


def with_reference_flags(
    df: DataFrame, checks: Sequence[AnyCheck], references: Mapping[str, DataFrame] | None, what: str
) -> DataFrame:
    """`df` left-joined, per referential check, with the broadcast distinct keys of its reference
    table, adding `reference_flag(i)` (true when found, null when not)."""
    frame = df
    for i, check in enumerate(checks):
        if not isinstance(check, ReferentialCheck):
            continue
        ref = (references or {}).get(check.ref_table)
        if ref is None:
            raise DataQualityError(f"{what}: referential check needs table {check.ref_table}, which was not given")
        key = f"__ref_key_{i}"
        keys = ref.select(F.col(check.ref_column).alias(key)).distinct().withColumn(reference_flag(i), F.lit(True))
        frame = frame.join(F.broadcast(keys), on=F.col(check.column) == F.col(key), how="left").drop(key)
    return frame


def violation(check: AnyCheck, index: int) -> Column | None:
    """True on a row that fails `check` (the `index`-th, for referential flags); None for checks
    of the whole table (unique, min_rows). A null value never fails a value check: nulls are
    what not_null checks."""
    if isinstance(check, NotNullCheck):
        any_null = F.lit(False)
        for c in check.columns:
            any_null = any_null | F.col(c).isNull()
        return any_null
    if isinstance(check, AcceptedValuesCheck):
        return F.col(check.column).isNotNull() & ~F.col(check.column).isin(list(check.values))
    if isinstance(check, RangeCheck):
        value = F.col(check.column)
        out = F.lit(False)
        if check.min is not None:
            out = out | (value < F.lit(check.min))
        if check.max is not None:
            out = out | (value > F.lit(check.max))
        return value.isNotNull() & out
    if isinstance(check, ReferentialCheck):
        return F.col(check.column).isNotNull() & F.col(reference_flag(index)).isNull()
    return None
