"""Loading: conf/ layers -> interpolation -> validation into one frozen `Settings`.

The steps, each in its module: read and merge the base, env and --set layers with the origin of
every key (layers.py, the model choice's rules in model_choice.py); replace ``${env:NAME}`` and
``${env:NAME:-default}`` (interpolation.py); fill in what a conf leaves implicit (defaults.py);
validate with the pydantic models (schema.py); check across sections (consistency.py). Every error
is a `ConfigError` naming the file (or --set), the dotted key and what was expected.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import ValidationError

from spark_ml.config.consistency import check_quarantines, check_references
from spark_ml.config.defaults import absolute_root, with_operational_tables
from spark_ml.config.interpolation import interpolate
from spark_ml.config.layers import read_layers
from spark_ml.config.messages import format_validation
from spark_ml.config.model_choice import check_model_choice
from spark_ml.config.schema import Settings
from spark_ml.errors import ConfigError


def default_conf_dir() -> Path:
    """The conf/ folder shipped inside the wheel (a link to the repository's conf/ in a checkout)."""
    return Path(__file__).resolve().parents[1] / "conf"


def load_settings(
    env: str = "local",
    conf_dir: str | Path | None = None,
    overrides: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read the layers, interpolate, validate. Raises ConfigError naming file, key and problem."""
    layered = read_layers(Path(conf_dir) if conf_dir is not None else default_conf_dir(), env, overrides)
    check_model_choice(layered.data, layered.origin)
    layered.data["env"] = env
    resolved = interpolate(layered.data, layered.origin, os.environ if environ is None else environ)
    resolved = with_operational_tables(absolute_root(resolved))
    try:
        settings = Settings.model_validate(resolved)
    except ValidationError as exc:
        raise ConfigError(format_validation(exc, layered.origin, Settings)) from None
    settings.remember_origins(layered.origin)
    check_references(settings, layered.origin, configured_features="features" in layered.data)
    check_quarantines(settings, layered.origin)
    return settings
