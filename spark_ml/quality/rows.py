"""Row-level validation: why a parsed row must be quarantined (null when it is good)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_ml.config import AcceptedValuesCheck, RangeCheck, ReferentialCheck
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
    frame = df
    reasons: list[Column] = [F.when(F.col(c).isNull(), F.lit(f"missing required field {c}")) for c in required]
    for i, rule in enumerate(rules):
        value = F.col(rule.column)
        shown = F.substring(value.cast("string"), 1, 60)
        if isinstance(rule, AcceptedValuesCheck):
            allowed = ", ".join(str(v) for v in rule.values)
            reasons.append(
                F.when(
                    value.isNotNull() & ~value.isin(list(rule.values)),
                    F.format_string(f"{rule.column} '%s' not in accepted values [{allowed}]", shown),
                )
            )
        elif isinstance(rule, RangeCheck):
            low = value < F.lit(rule.min) if rule.min is not None else F.lit(False)
            high = value > F.lit(rule.max) if rule.max is not None else F.lit(False)
            reasons.append(
                F.when(
                    value.isNotNull() & (low | high),
                    F.format_string(
                        f"{rule.column} %s out of range [{_num(rule.min, '-inf')}, {_num(rule.max, 'inf')}]", shown
                    ),
                )
            )
        else:
            ref = (references or {}).get(rule.ref_table)
            if ref is None:
                raise ValueError(f"no reference table given for {rule.ref_table}")
            flag = f"__ref_{i}"
            keys = ref.select(F.col(rule.ref_column).alias(f"__refkey_{i}")).distinct().withColumn(flag, F.lit(True))
            frame = frame.join(F.broadcast(keys), on=F.col(rule.column) == F.col(f"__refkey_{i}"), how="left")
            frame = frame.drop(f"__refkey_{i}")
            reasons.append(
                F.when(
                    value.isNotNull() & F.col(flag).isNull(),
                    F.format_string(f"{rule.column} '%s' not found in {rule.ref_table}.{rule.ref_column}", shown),
                )
            )
    checks = F.nullif(F.concat_ws("; ", *reasons), F.lit("")) if reasons else F.lit(None).cast("string")
    reason = F.coalesce(F.col(parse_error), checks) if parse_error else checks
    return frame.withColumn(REASON, reason).select(*df.columns, REASON)


def _num(value: float | None, unbounded: str) -> str:
    if value is None:
        return unbounded
    return str(int(value)) if float(value).is_integer() else str(value)
