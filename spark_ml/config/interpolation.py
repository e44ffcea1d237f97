"""`${env:NAME}` and `${env:NAME:-default}` in string values, replaced by environment variables.

No other `${...}` form is accepted: a value that still holds one after replacement is an error, so a
reference that was meant to be resolved (`${train.seed}`) is never passed on as literal text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from spark_ml.config.messages import source_of
from spark_ml.errors import ConfigError

ENV_PATTERN = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(value: Any, origins: Mapping[str, str], environ: Mapping[str, str], dotted: str = "") -> Any:
    """`value` with every `${env:...}` replaced; an unset variable without default is a ConfigError
    naming it, the key (`dotted`) and its file."""
    if isinstance(value, dict):
        return {k: interpolate(v, origins, environ, f"{dotted}.{k}" if dotted else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, origins, environ, dotted) for v in value]
    if not isinstance(value, str) or "${" not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        raise ConfigError(
            f"environment variable {name} is not set (needed by '{dotted}' in {source_of(origins, dotted)})"
        )

    out = ENV_PATTERN.sub(replace, value)
    if "${" in out:
        raise ConfigError(
            f"unsupported interpolation in '{dotted}' ({source_of(origins, dotted)}): "
            "only ${env:NAME} and ${env:NAME:-default} are supported"
        )
    return out
