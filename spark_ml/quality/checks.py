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

QUARANTINED_BY = "quarantine_checks"


@dataclass(frozen=True)
class CheckResult:
    table: str
    check: str
    kind: str
    severity: str
    failed: int
    total: int
    details: str
    allowed: int = 0

    @property
    def status(self) -> str:
        """pass; quarantine (failing rows set aside); warn or fail (more failing rows than allowed)."""
        if self.failed == 0:
            return "pass"
        if self.failed <= self.allowed:
            return "quarantine" if self.severity == "quarantine" else "pass"
        return "warn" if self.severity == "warn" else "fail"

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


def prepare(
    df: DataFrame, table: str, checks: Sequence[Check], references: Mapping[str, DataFrame] | None = None
) -> DataFrame:
    """`df` with what the checks need: the reference flags of referential checks (a broadcast join
    of the reference's distinct keys) and `quarantine_checks`, the names of the quarantine checks
    each row fails (empty for a good row). Persist it, evaluate it and split it: one pass over `df`."""
    needed: list[str] = []
    for check in checks:
        if isinstance(check, NotNullCheck | UniqueCheck):
            needed.extend(check.columns)
        elif isinstance(check, AcceptedValuesCheck | RangeCheck | ReferentialCheck):
            needed.append(check.column)
    require_columns(df, needed, f"data-quality checks of {table}")
    frame = with_reference_flags(df, checks, references, table)
    names = [
        F.when(failing, F.lit(check_name(check)))
        for i, check in enumerate(checks)
        if check.severity == "quarantine" and (failing := violation(check, i)) is not None
    ]
    flagged = F.filter(F.array(*names), lambda name: name.isNotNull()) if names else F.array().cast("array<string>")
    return frame.withColumn(QUARANTINED_BY, flagged)


def evaluate(
    df: DataFrame, table: str, checks: Sequence[Check], references: Mapping[str, DataFrame] | None = None
) -> list[CheckResult]:
    """Every check's failing-row count from one aggregated pass over `df` (a frame from `prepare`,
    or any frame: it is prepared here then)."""
    if not checks:
        return []
    frame = df if QUARANTINED_BY in df.columns else prepare(df, table, checks, references)
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
            failed, allowed = (0 if total >= check.min else 1), 0
            details = f"{total:,} rows (minimum {check.min:,})"
        else:
            failed, allowed = int(row[f"__c{i}"] or 0), check.allowed(total)
            details = f"{failed:,} of {total:,} rows fail"
            if check.severity == "quarantine" and 0 < failed <= allowed:
                details += ", quarantined"
            if check.max_count is not None or check.max_fraction is not None:
                details += f" ({allowed:,} allowed)"
        results.append(
            CheckResult(table, check_name(check), check.check, check.severity, failed, total, details, allowed)
        )
    return results


def good_rows(prepared: DataFrame) -> DataFrame:
    return prepared.where(F.size(QUARANTINED_BY) == 0)


def quarantined_rows(prepared: DataFrame) -> DataFrame:
    return prepared.where(F.size(QUARANTINED_BY) > 0)


def raise_on_errors(results: Sequence[CheckResult]) -> None:
    """A DataQualityError naming the table, every failing check (an error check, or a quarantine
    check with more failing rows than it allows) and its failing count."""
    failing = [r for r in results if r.status == "fail"]
    if failing:
        table = failing[0].table
        parts = "; ".join(f"{r.check} failed for {r.details}" for r in failing)
        raise DataQualityError(f"data quality errors in {table} (nothing written): {parts}")
