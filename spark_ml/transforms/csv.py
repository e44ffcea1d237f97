"""Parsing CSV text lines with an explicit schema, keeping the raw line and why a line is bad."""

from __future__ import annotations

import re
from collections.abc import Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_ml.transforms.frames import require_columns

CORRUPT = "_corrupt_record"
PARSE_ERROR = "_parse_error"
SPARK_TYPES = {
    "string": "STRING",
    "int": "INT",
    "bigint": "BIGINT",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}


def ddl(columns: Mapping[str, str]) -> str:
    """`{'year': 'int'}` -> `year INT` (column names quoted)."""
    return ", ".join(f"`{name}` {SPARK_TYPES[kind]}" for name, kind in columns.items())


def parse_csv_lines(
    lines: DataFrame,
    columns: Mapping[str, str],
    *,
    value: str = "value",
    null_value: str = "NA",
    delimiter: str = ",",
    timestamp_format: str | None = None,
) -> DataFrame:
    """Adds the typed `columns` parsed from each `value` line (PERMISSIVE, `null_value` as null),
    `_corrupt_record` (the raw line when it does not parse) and `_parse_error` (why, or null):
    too many or too few fields, a value that is not of its column's type (naming the column), or a malformed
    line (broken quoting). Existing columns are kept.
    """
    require_columns(lines, [value], "parse_csv_lines input")
    options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT, "nullValue": null_value, "sep": delimiter}
    if timestamp_format:
        options["timestampFormat"] = timestamp_format
    typed_schema = f"{ddl(columns)}, `{CORRUPT}` STRING"
    names = list(columns)
    raw_schema = ", ".join(f"`__raw_{i}` STRING" for i in range(len(names) + 1))
    parsed = lines.withColumn("__typed", F.from_csv(F.col(value), typed_schema, options)).withColumn(
        "__raw", F.from_csv(F.col(value), raw_schema, {"mode": "PERMISSIVE", "sep": delimiter})
    )
    raw = [F.col(f"__raw.__raw_{i}") for i in range(len(names) + 1)]
    bad_type: list[Column] = []
    for i, name in enumerate(names):
        text = raw[i]
        wrong = (
            text.isNotNull() & (text != F.lit(null_value)) & (F.trim(text) != "") & F.col(f"__typed.{name}").isNull()
        )
        message = F.format_string(f"column {name}: '%s' is not {columns[name]}", F.substring(text, 1, 60))
        bad_type.append(F.when(wrong, message))
    corrupt = F.col(f"__typed.{CORRUPT}").isNotNull()
    too_many = raw[len(names)].isNotNull()
    # Fields of a line without quotes, counted exactly (a quoted line may hold the delimiter).
    fields = F.when(~F.col(value).contains('"'), F.size(F.split(F.col(value), re.escape(delimiter), -1)))
    reason = (
        F.when(~corrupt, F.lit(None).cast("string"))
        .when(too_many, F.lit(f"too many fields (expected {len(names)})"))
        .when(fields < len(names), F.format_string(f"too few fields (found %d, expected {len(names)})", fields))
        .otherwise(
            F.coalesce(
                F.nullif(F.concat_ws("; ", *bad_type), F.lit("")),
                F.lit(f"malformed line (expected {len(names)} fields: {delimiter.join(names)})"),
            )
        )
    )
    typed = [F.col(f"__typed.{name}").alias(name) for name in names]
    return parsed.select(
        *list(lines.columns), *typed, F.col(f"__typed.{CORRUPT}").alias(CORRUPT), reason.alias(PARSE_ERROR)
    )
