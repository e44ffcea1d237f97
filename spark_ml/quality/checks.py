"""Table-level data-quality checks from config, evaluated in ONE aggregation per table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_ml.config import (
    AcceptedValuesCheck,
    Check,
    MinRowsCheck,
    NotNullCheck,
    RangeCheck,
    ReferentialCheck,
    UniqueCheck,
)
from spark_ml.errors import DataQualityError
from spark_ml.quality.predicates import violation, with_reference_flags
from spark_ml.transforms.frames import require_columns


@dataclass(frozen=True)
class CheckResult:
    table: str
    check: str
    kind: str
    severity: str
    failed: int
    total: int
    details: str

    @property
    def status(self) -> str:
        if self.failed == 0:
            return "pass"
        return "fail" if self.severity == "error" else "warn"

    def line(self) -> str:
        return f"{self.status:<4} {self.table} {self.check}: {self.details}"


def check_name(check: Check) -> str:
    if check.name:
        return check.name
    if isinstance(check, NotNullCheck | UniqueCheck):
        return f"{check.check}({', '.join(check.columns)})"
    if isinstance(check, AcceptedValuesCheck | RangeCheck):
        return f"{check.check}({check.column})"
    if isinstance(check, ReferentialCheck):
        return f"referential({check.column} in {check.ref_table}.{check.ref_column})"
    return f"min_rows({check.min})"


def evaluate(
    df: DataFrame, table: str, checks: Sequence[Check], references: Mapping[str, DataFrame] | None = None
) -> list[CheckResult]:
    """Every check's failing-row count from one aggregated pass over `df`.

    Referential checks join the distinct keys of their reference table (broadcast) before the
    aggregation, so they still cost one pass over `df`.
    """
    if not checks:
        return []
    needed: list[str] = []
    for check in checks:
        if isinstance(check, NotNullCheck | UniqueCheck):
            needed.extend(check.columns)
        elif isinstance(check, AcceptedValuesCheck | RangeCheck | ReferentialCheck):
            needed.append(check.column)
    require_columns(df, needed, f"data-quality checks of {table}")
    frame = with_reference_flags(df, checks, references, table)
    aggregates: list[Column] = [F.count(F.lit(1)).alias("__total")]
    for i, check in enumerate(checks):
        failing = violation(check, i)
        if failing is not None:
            aggregates.append(F.count_if(failing).alias(f"__c{i}"))
        elif isinstance(check, UniqueCheck):
            key = F.struct(*[F.col(c) for c in check.columns])
            aggregates.append((F.count(F.lit(1)) - F.count_distinct(key)).alias(f"__c{i}"))
    row = frame.agg(*aggregates).collect()[0]
    total = int(row["__total"])
    results = []
    for i, check in enumerate(checks):
        if isinstance(check, MinRowsCheck):
            failed = 0 if total >= check.min else 1
            details = f"{total:,} rows (minimum {check.min:,})"
        else:
            failed = int(row[f"__c{i}"] or 0)
            details = f"{failed:,} of {total:,} rows fail"
        results.append(CheckResult(table, check_name(check), check.check, check.severity, failed, total, details))
    return results


def raise_on_errors(results: Sequence[CheckResult]) -> None:
    """A DataQualityError naming the table, every failing `error` check and its failing count."""
    failing = [r for r in results if r.status == "fail"]
    if failing:
        table = failing[0].table
        parts = "; ".join(f"{r.check} failed for {r.details}" for r in failing)
        raise DataQualityError(f"data quality errors in {table} (nothing written): {parts}")
