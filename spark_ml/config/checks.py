"""The data-quality DSL of `quality:` and of ingest row rules: one model per kind of check."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from spark_ml.config.base import Identifier, Model, TableName

Severity = Literal["error", "warn", "quarantine"]


class _Check(Model):
    """`severity`: error (the task fails and writes nothing), warn (reported and recorded only) or
    quarantine (the failing rows go to `<table>_quarantine` with the checks' names, the table gets
    the rest). `max_count` / `max_fraction`: how many failing rows are tolerated before the check
    fails or warns (for quarantine: before the task fails instead of quarantining); default none."""

    severity: Severity = "error"
    name: str | None = None
    max_count: int | None = Field(default=None, ge=0)
    max_fraction: float | None = Field(default=None, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _one_threshold(self) -> _Check:
        if self.max_count is not None and self.max_fraction is not None:
            raise ValueError("give max_count or max_fraction, not both")
        return self

    def allowed(self, total: int) -> int:
        """How many failing rows of `total` the check tolerates: its threshold; without one, none
        for error and warn checks, and all of them for a quarantine check."""
        if self.max_count is not None:
            return self.max_count
        if self.max_fraction is not None:
            return int(self.max_fraction * total)
        return total if self.severity == "quarantine" else 0


class NotNullCheck(_Check):
    check: Literal["not_null"]
    columns: tuple[Identifier, ...] = Field(min_length=1)


class UniqueCheck(_Check):
    check: Literal["unique"]
    columns: tuple[Identifier, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _not_quarantine(self) -> UniqueCheck:
        if self.severity == "quarantine":
            raise ValueError("a unique check cannot quarantine rows (which copy is the bad one?): use error or warn")
        return self


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

    @model_validator(mode="after")
    def _whole_table(self) -> MinRowsCheck:
        if self.severity == "quarantine" or self.max_count is not None or self.max_fraction is not None:
            raise ValueError("min_rows judges the whole table: it takes severity error or warn, and no threshold")
        return self


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


def quarantine_table(table: str) -> str:
    """Where the rows a table's quarantine checks reject go: `<schema>.<table>_quarantine`."""
    return f"{table}_quarantine"
