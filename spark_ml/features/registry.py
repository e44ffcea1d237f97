"""The feature builders and silver builders, by name: `features.builder` picks one feature builder
(the `features` task runs it) and each `silver.steps` entry one silver builder (the `silver` task).

The list is code, not configuration: each use case's module is imported below and its `BUILDER`
listed (a use case's silver builders come with its BUILDER), so nothing is ever imported from a
configuration string. `spark-ml new usecase NAME`
rewrites the lines between the markers (keep them): one import per use case module, then
USE_CASES. To add a builder by hand, import its module there and list its BUILDER.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spark_ml.config import Settings, SilverStep
from spark_ml.errors import ConfigError
from spark_ml.features.builder import FeatureBuilder, SilverBuilder

# -- use cases: `spark-ml new usecase` rewrites the lines from here to the end marker --
from spark_ml.features import flights  # isort: skip

USE_CASES = (flights.BUILDER,)
# -- end of use cases --

BUILDERS: dict[str, FeatureBuilder[Any]] = {builder.name: builder for builder in USE_CASES}
if len(BUILDERS) != len(USE_CASES):
    raise ImportError(f"two feature builders share a name: {[b.name for b in USE_CASES]}")
_SILVER = [silver for builder in USE_CASES for silver in builder.silver]
SILVER_BUILDERS: dict[str, SilverBuilder] = {silver.name: silver for silver in _SILVER}
if len(SILVER_BUILDERS) != len(_SILVER):
    raise ImportError(f"two silver builders share a name: {[s.name for s in _SILVER]}")


@dataclass(frozen=True)
class Resolved:
    """The configured builder with its validated parameters and its input tables (role -> table)."""

    builder: FeatureBuilder[Any]
    params: Any
    tables: Mapping[str, str]


def get(name: str, cfg: Settings | None = None) -> FeatureBuilder[Any]:
    """The builder called `name`; a ConfigError naming the known ones otherwise."""
    found = BUILDERS.get(name)
    if found is None:
        from spark_ml.config.messages import suggest

        where = f" at 'features.builder' in {cfg.origin('features.builder')}" if cfg is not None else ""
        raise ConfigError(
            f"unknown feature builder {name!r}{where}{suggest(name, BUILDERS)} (known: {', '.join(sorted(BUILDERS))})"
        )
    return found


def resolve(cfg: Settings) -> Resolved:
    """The builder `features.builder` names, its parameters and inputs, checked without Spark: an
    unknown builder, bad parameters, an undeclared input table or `features.months` for a builder
    that cannot rebuild months are ConfigErrors."""
    builder = get(cfg.features.builder, cfg)
    params = builder.parameters(cfg)
    tables = dict(builder.inputs(params))
    undeclared = [t for t in tables.values() if t not in cfg.tables]
    if undeclared:
        raise ConfigError(
            f"feature builder {builder.name!r} reads {undeclared[0]!r}, which is not declared under 'tables:'"
        )
    if cfg.features.months and builder.monthly is None:
        raise ConfigError(
            f"'features.months' in {cfg.origin('features.months')}: builder {builder.name!r} rebuilds every "
            "month at once (it has no month-by-month rebuild): set features.months to []"
        )
    return Resolved(builder, params, tables)


def resolve_silver(cfg: Settings) -> list[tuple[SilverStep, SilverBuilder]]:
    """Each `silver.steps` entry with its builder, checked without Spark: an unknown builder or a
    table not declared under `tables:` is a ConfigError naming the step."""
    from spark_ml.config.messages import suggest

    resolved = []
    for i, step in enumerate(cfg.silver.steps):
        key = f"silver.steps.{i}"
        found = SILVER_BUILDERS.get(step.builder)
        if found is None:
            known = ", ".join(sorted(SILVER_BUILDERS)) or "none registered"
            raise ConfigError(
                f"unknown silver builder {step.builder!r} at '{key}.builder' in {cfg.origin(key)}"
                f"{suggest(step.builder, SILVER_BUILDERS)} (known: {known})"
            )
        undeclared = [t for t in (step.source, step.target) if t not in cfg.tables]
        if undeclared:
            raise ConfigError(
                f"'{key}' in {cfg.origin(key)} names {undeclared[0]!r}, which is not declared under 'tables:'"
            )
        resolved.append((step, found))
    return resolved
