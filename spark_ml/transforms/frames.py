"""Generic DataFrame helpers: column contracts and de-duplication."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from spark_ml.errors import SchemaMismatchError


def require_columns(df: DataFrame, columns: Sequence[str], what: str) -> None:
    """Raise a SchemaMismatchError naming every column of `columns` that `df` lacks."""
    present = set(df.columns)
    missing = [c for c in columns if c not in present]
    if missing:
        raise SchemaMismatchError(f"{what} is missing column(s): {', '.join(missing)}")


def dedupe_latest(df: DataFrame, keys: Sequence[str], order_by: Sequence[Column]) -> DataFrame:
    """One row per `keys`: the first by `order_by` (e.g. the latest ingested), ties broken by the
    values of every other column, so the winner depends on the rows only, never on their order in
    the input. Rows with null keys are kept as they are (they cannot be duplicates of anything known)."""
    require_columns(df, keys, "dedupe_latest input")
    orderable = [c for c, kind in df.dtypes if c not in keys and not kind.startswith("map")]
    ties = [F.col(c).desc_nulls_last() for c in orderable]
    window = (
        Window.partitionBy(*keys).orderBy(*order_by, *ties).rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    has_key = F.lit(True)
    for key in keys:
        has_key = has_key & F.col(key).isNotNull()
    ranked = df.withColumn("__rank", F.when(has_key, F.row_number().over(window)).otherwise(F.lit(1)))
    return ranked.where(F.col("__rank") == 1).drop("__rank")
