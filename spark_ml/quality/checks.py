"""Table-level data-quality checks from config, evaluated in ONE aggregation per table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
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
    row = frame.agg(*aggregates).collect()[0].asDict()
    total = int(row["__total"])
    return [_result(table, check, total, int(row.get(f"__c{i}") or 0)) for i, check in enumerate(checks)]


def _result(table: str, check: Check, total: int, failed: int) -> CheckResult:
    if isinstance(check, MinRowsCheck):
        failed, allowed = (0 if total >= check.min else 1), 0
        details = f"{total:,} rows (minimum {check.min:,})"
    else:
        allowed = check.allowed(total)
        details = f"{failed:,} of {total:,} rows fail"
        if check.severity == "quarantine" and 0 < failed <= allowed:
            details += ", quarantined"
        if check.max_count is not None or check.max_fraction is not None:
            details += f" ({allowed:,} allowed)"
    return CheckResult(table, check_name(check), check.check, check.severity, failed, total, details, allowed)


# The message a guarded write's failing row raises (see `guarded`).
GUARD_FAILED = "spark_ml data-quality guard failed"


def guardable(checks: Sequence[Check]) -> bool:
    """True when one failing row fails the table: every check is of severity error without a
    threshold (no warn or quarantine check, whose failing rows must be counted)."""
    return bool(checks) and all(
        c.severity == "error" and c.max_count is None and c.max_fraction is None for c in checks
    )


def guarded(
    df: DataFrame, table: str, checks: Sequence[Check], references: Mapping[str, DataFrame] | None = None
) -> DataFrame:
    """`df` (same columns and rows) that fails the action writing it at its first row failing one
    of `checks` (all `guardable`), with GUARD_FAILED in the error: the checks run in the write's own
    pass, and a failed job commits nothing. A unique check numbers the rows of each key (a window
    over the key, which reuses a partitioning by some of its columns). min_rows is not a row's
    property: the caller checks it before writing."""
    frame = prepare(df, table, checks, references)
    failing = F.lit(False)
    for i, check in enumerate(checks):
        row_fails = violation(check, i)
        if row_fails is None and isinstance(check, UniqueCheck):
            number = f"__row_of_key_{i}"
            key = [F.col(c) for c in check.columns]
            frame = frame.withColumn(number, F.row_number().over(Window.partitionBy(*key).orderBy(*key)))
            row_fails = F.col(number) > 1
        if row_fails is not None:
            failing = failing | row_fails
    # The guard is part of a written column, so no optimizer rule can drop it or move it below
    # another filter of `df`: every written row is checked, and only those.
    first = df.columns[0]
    stop = F.raise_error(F.lit(f"{GUARD_FAILED}: {table}"))
    return frame.select(F.when(failing, stop).otherwise(F.col(first)).alias(first), *df.columns[1:])


def passed(table: str, checks: Sequence[Check], total: int) -> list[CheckResult]:
    """The results of `checks` on `total` rows that all passed (a guarded write that succeeded)."""
    return [_result(table, check, total, 0) for check in checks]


def has_rows(df: DataFrame, n: int) -> bool:
    """Whether `df` has at least `n` rows, reading as little as Spark can. One row: a
    duplicate-agnostic aggregate, under which Spark's optimizer drops the left outer joins whose
    columns it does not need (the feature build's five broadcast sides are not computed: 0.3 s
    where a limit took 0.8-1.1 s); more: at most `n` rows (a count is not duplicate-agnostic)."""
    if n <= 0:
        return True
    if n == 1:
        return df.agg(F.max(F.lit(1)).alias("any")).collect()[0]["any"] is not None
    return df.limit(n).count() >= n


def min_rows_needed(checks: Sequence[Check]) -> int:
    """The largest minimum of the error min_rows checks (0 without one)."""
    return max((c.min for c in checks if isinstance(c, MinRowsCheck) and c.severity == "error"), default=0)


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
