"""What a feature builder is: the tables it reads, how it builds the feature table from them, its
parameters, whether it can rebuild some months only, and the silver builders of its use case.

A builder is a value in code, registered by name in spark_ml/features/registry.py; the
`features` task looks it up by `features.builder` and does the reading and writing. Building is
DataFrame -> DataFrame: `build` gets one DataFrame per input role and returns the feature rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_ml.config import FeatureSettings, Settings, SilverSettings
from spark_ml.errors import ConfigError

P = TypeVar("P", bound=BaseModel)
Frames = Mapping[str, DataFrame]

# Keys of `features` that only the flights builder reads: they sit directly under `features` (not under
# `features.params`) so that conf folders written for 0.1.0 load unchanged.
FLIGHTS_ONLY_SETTINGS = tuple(
    name for name in FeatureSettings.model_fields if name not in ("builder", "output", "months", "params")
)


@dataclass(frozen=True)
class MonthlyRebuild(Generic[P]):
    """How a builder rebuilds only the months of `features.months` (replaced with replaceWhere).

    `available`: the months ('2013-12') its inputs hold; `inputs_for`: its inputs cut to what the
    months from `first` to `last` need, their history included. Its output must have integer
    `year` and `month` columns (the partition columns of the feature table): the task keeps and
    replaces the rows of the rebuilt months by them. `source` is the input role whose months count
    and `noun` what its rows are, for the error naming a month the data does not hold.
    """

    source: str
    available: Callable[[Frames], list[str]]
    inputs_for: Callable[[Frames, dt.date, dt.date, P], dict[str, DataFrame]]
    noun: str = "rows"


@dataclass(frozen=True)
class SilverBuilder:
    """One silver table of a use case: the rows of a bronze table -> typed, de-duplicated rows.
    `silver.steps` names it (by `name`) with the source and target tables; `partition_by` are
    columns the rows are repartitioned by before the write (one file per partition value)."""

    name: str
    description: str
    build: Callable[[DataFrame, SilverSettings], DataFrame]
    partition_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class FeatureBuilder(Generic[P]):
    """One use case's feature table.

    `parameters` reads the builder's parameters from the settings (`params_from(Model)`: the
    `features.params` mapping validated by a pydantic model); `inputs` maps each input role to a
    declared table name; `build` turns one DataFrame per role into the feature rows; `monthly` is
    None when only full rebuilds are supported; `silver` are the use case's silver builders (the
    registry lists them for `silver.steps`).
    """

    name: str
    description: str
    parameters: Callable[[Settings], P]
    inputs: Callable[[P], Mapping[str, str]]
    build: Callable[[Frames, P], DataFrame]
    monthly: MonthlyRebuild[P] | None = None
    silver: tuple[SilverBuilder, ...] = ()


def params_from(model: type[P]) -> Callable[[Settings], P]:
    """`features.params` validated by `model` (errors name the file and `features.params.<key>`).
    The flights builder's own keys are errors here: they would be silently ignored."""

    def parameters(cfg: Settings) -> P:
        stray = [k for k in FLIGHTS_ONLY_SETTINGS if k in cfg.features.model_fields_set]
        if stray:
            raise ConfigError(
                f"'features.{stray[0]}' in {cfg.origin(f'features.{stray[0]}')} is a setting of the flights builder; "
                f"builder {cfg.features.builder!r} takes its parameters under 'features.params'"
            )
        return cfg.section("features.params", model)

    return parameters


def by_date(source: str, date_column: str, history_days: Callable[[P], int]) -> MonthlyRebuild[P]:
    """Month-by-month rebuilds for a builder whose rows are dated by `date_column` of its `source`
    input and look back at most `history_days(params)` days: the months are those of the dates,
    and a rebuild reads the dates from `history_days` before the first month to its last day."""

    def available(frames: Frames) -> list[str]:
        month = F.date_format(F.col(date_column), "yyyy-MM")
        rows = frames[source].select(month.alias("m")).where(F.col("m").isNotNull()).distinct().collect()
        return sorted(str(r["m"]) for r in rows)

    def inputs_for(frames: Frames, first: dt.date, last: dt.date, params: P) -> dict[str, DataFrame]:
        start = first - dt.timedelta(days=history_days(params))
        day = F.to_date(F.col(date_column))
        cut = frames[source].where((day >= F.lit(start)) & (day <= F.lit(last)))
        return {**frames, source: cut}

    return MonthlyRebuild(source, available, inputs_for)
