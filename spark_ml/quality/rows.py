"""Row-level validation: why a parsed row must be quarantined (null when it is good)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_ml.config import AcceptedValuesCheck, RangeCheck, ReferentialCheck
from spark_ml.errors import SparkMLError
from spark_ml.quality.predicates import violation, with_reference_flags
from spark_ml.transforms.frames import require_columns

REASON = "reason"
Rule = AcceptedValuesCheck | RangeCheck | ReferentialCheck


def with_rejection_reason(
    df: DataFrame,
    *,
    required: Sequence[str] = (),
    rules: Sequence[Rule] = (),
    references: Mapping[str, DataFrame] | None = None,
    parse_error: str | None = None,
) -> DataFrame:
    """Adds `reason`: every failed check of the row joined by '; ', or null for a good row.

    A parse error wins (the other fields are not trustworthy then). `required` columns must be
    non-null; rules check accepted values, ranges and references to another table's column
    (`references` maps a rule's ref_table to that table, joined as a broadcast of distinct keys).
    """
    require_columns(df, [*required, *[r.column for r in rules]], "with_rejection_reason input")
    frame = with_reference_flags(df, rules, references, "with_rejection_reason")
    reasons: list[Column] = [F.when(F.col(c).isNull(), F.lit(f"missing required field {c}")) for c in required]
    for i, rule in enumerate(rules):
        failing = violation(rule, i)
        if failing is None:  # row rules are value checks: every one has a row predicate
            raise SparkMLError(f"row rule {rule.check} has no row-level predicate")
        shown = F.substring(F.col(rule.column).cast("string"), 1, 60)
        if isinstance(rule, AcceptedValuesCheck):
            allowed = ", ".join(str(v) for v in rule.values)
            message = F.format_string(f"{rule.column} '%s' not in accepted values [{allowed}]", shown)
        elif isinstance(rule, RangeCheck):
            bounds = f"[{_num(rule.min, '-inf')}, {_num(rule.max, 'inf')}]"
            message = F.format_string(f"{rule.column} %s out of range {bounds}", shown)
        else:
            message = F.format_string(f"{rule.column} '%s' not found in {rule.ref_table}.{rule.ref_column}", shown)
        reasons.append(F.when(failing, message))
    checks = F.nullif(F.concat_ws("; ", *reasons), F.lit("")) if reasons else F.lit(None).cast("string")
    reason = F.coalesce(F.col(parse_error), checks) if parse_error else checks
    return frame.withColumn(REASON, reason).select(*df.columns, REASON)


def _num(value: float | None, unbounded: str) -> str:
    if value is None:
        return unbounded
    return str(int(value)) if float(value).is_integer() else str(value)
