"""The data-quality DSL of `quality:` and of ingest row rules: one model per kind of check."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from spark_ml.config.base import Identifier, Model, TableName

Severity = Literal["error", "warn"]


class _Check(Model):
    severity: Severity = "error"
    name: str | None = None


class NotNullCheck(_Check):
    check: Literal["not_null"]
    columns: tuple[Identifier, ...] = Field(min_length=1)


class UniqueCheck(_Check):
    check: Literal["unique"]
    columns: tuple[Identifier, ...] = Field(min_length=1)


class AcceptedValuesCheck(_Check):
    check: Literal["accepted_values"]
    column: Identifier
    values: tuple[str | int | float, ...] = Field(min_length=1)


class RangeCheck(_Check):
    check: Literal["range"]
    column: Identifier
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _has_bound(self) -> RangeCheck:
        if self.min is None and self.max is None:
            raise ValueError("a range check needs min, max or both")
        return self


class MinRowsCheck(_Check):
    check: Literal["min_rows"]
    min: int = Field(ge=0)


class ReferentialCheck(_Check):
    check: Literal["referential"]
    column: Identifier
    ref_table: TableName
    ref_column: Identifier


Check = Annotated[
    NotNullCheck | UniqueCheck | AcceptedValuesCheck | RangeCheck | MinRowsCheck | ReferentialCheck,
    Field(discriminator="check"),
]
RowRule = Annotated[AcceptedValuesCheck | RangeCheck | ReferentialCheck, Field(discriminator="check")]
CHECK_KINDS = ("not_null", "unique", "accepted_values", "range", "min_rows", "referential")
