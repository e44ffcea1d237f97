"""The feature builders, by name: `features.builder` picks one, and the `features` task runs it.

The list is code, not configuration: each use case's module is imported below and its `BUILDER`
listed, so nothing is ever imported from a configuration string. `spark-ml new usecase NAME`
rewrites the lines between the markers (keep them): one import per use case module, then
USE_CASES. To add a builder by hand, import its module there and list its BUILDER.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spark_ml.config import Settings
from spark_ml.errors import ConfigError
from spark_ml.features.builder import FeatureBuilder

# -- use cases: `spark-ml new usecase` rewrites the lines from here to the end marker --
from spark_ml.features import flights  # isort: skip

USE_CASES = (flights.BUILDER,)
# -- end of use cases --

BUILDERS: dict[str, FeatureBuilder[Any]] = {builder.name: builder for builder in USE_CASES}
if len(BUILDERS) != len(USE_CASES):
    raise ImportError(f"two feature builders share a name: {[b.name for b in USE_CASES]}")


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
