"""Loading: conf/ layers -> interpolation -> validation into one frozen `Settings`.

Layers, later wins: ``<conf_dir>/base/*.yml``, then ``<conf_dir>/<env>/*.yml`` (deep merge, except
``train.params`` and ``train.grid``, which a later layer replaces whole, as it does any list such as
``train.candidates``), then ``--set a.b.c=value`` overrides (a mapping value replaces the whole
mapping). The model is chosen by ``train.candidates`` or by ``train.estimator`` (with ``params`` and
``grid``): a later layer that sets ``candidates`` drops an earlier layer's ``estimator``, ``params``
and ``grid``, and one that sets ``estimator`` drops an earlier ``candidates``; both in one layer, or
``params``/``grid`` over a candidates list, is an error naming both keys. ``${env:NAME}`` (or
``${env:NAME:-default}``) in a string value is replaced by the environment variable; an unset
variable without default is a `ConfigError` naming it. Files are read with `yaml.safe_load` only.
Every error names the file (or --set), the dotted key and what was expected.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from spark_ml.config.consistency import check_quarantines, check_references
from spark_ml.config.defaults import absolute_root, with_operational_tables
from spark_ml.config.interpolation import interpolate
from spark_ml.config.messages import format_validation, source_of
from spark_ml.config.schema import Settings
from spark_ml.config.training import SINGLE_MODEL_KEYS
from spark_ml.errors import ConfigError

# Mappings that belong to one choice (the estimator's parameters and grid): a later layer that sets
# them replaces them whole, since merging one estimator's parameters into another's is an error.
REPLACED_WHOLE = frozenset({"train.params", "train.grid"})
# Each form of the model choice replaces the other when a later layer sets it (see the docstring).
REPLACES = {"candidates": SINGLE_MODEL_KEYS, "estimator": ("candidates",)}
# Mappings keyed by table name: a table name holds a dot itself ("tables.bronze.flights.location").
KEYED_BY_TABLE = ("tables", "quality")


def default_conf_dir() -> Path:
    """The conf/ folder shipped inside the wheel (a link to the repository's conf/ in a checkout)."""
    return Path(__file__).resolve().parents[1] / "conf"


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}, 'c': [{'d': 2}], 'e': [1, 2]} -> {'a.b': 1, 'c.0.d': 2, 'e': [1, 2]}: a list
    of mappings is numbered, any other list stays one value."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, f"{dotted}."))
        elif isinstance(value, list | tuple) and value and all(isinstance(v, Mapping) for v in value):
            out.update(flatten({str(i): v for i, v in enumerate(value)}, f"{dotted}."))
        else:
            out[dotted] = value
    return out


@dataclass
class _Layered:
    data: dict[str, Any] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)

    def record(self, dotted: str, value: Any, source: str) -> None:
        self.origin[dotted] = source
        if isinstance(value, dict):
            for sub in flatten(value):
                self.origin[f"{dotted}.{sub}"] = source


def load_settings(
    env: str = "local",
    conf_dir: str | Path | None = None,
    overrides: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read the layers, interpolate, validate. Raises ConfigError naming file, key and problem."""
    base_dir = Path(conf_dir) if conf_dir is not None else default_conf_dir()
    if not (base_dir / "base").is_dir():
        raise ConfigError(f"conf folder {base_dir} has no base/ folder (pass --conf-dir DIR holding base/ and <env>/)")
    env_dir = base_dir / env
    if env == "base" or not env_dir.is_dir():
        known = sorted(p.name for p in base_dir.iterdir() if p.is_dir() and p.name != "base")
        raise ConfigError(f"unknown env {env!r}: no folder {env_dir} (available: {', '.join(known)})")
    layered = _Layered()
    for folder in (base_dir / "base", env_dir):
        for path in sorted(folder.glob("*.yml")) + sorted(folder.glob("*.yaml")):
            _merge_into(layered, layered.data, _read_yaml(path), str(path), "")
    for item in overrides:
        key, value = _parse_override(item)
        _set_path(layered, _path(key), value, f"--set {key}")
    _check_model_choice(layered)
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


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"malformed YAML in {path}{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of keys at the top level, found {type(data).__name__}")
    return data


def _parse_override(item: str) -> tuple[str, Any]:
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key or not re.fullmatch(r"[A-Za-z_][\w-]*(\.[A-Za-z_][\w.-]*)*", key):
        raise ConfigError(f"bad --set {item!r}: expected KEY=VALUE with a dotted key, e.g. train.seed=7")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


def _path(dotted: str) -> list[str]:
    parts = dotted.split(".")
    if parts[0] in KEYED_BY_TABLE and len(parts) >= 3:
        parts = [parts[0], f"{parts[1]}.{parts[2]}", *parts[3:]]
    return parts


def _set_path(layered: _Layered, parts: list[str], value: Any, source: str) -> None:
    """A --set replaces the value at its key (a mapping value is not merged into the old one)."""
    node = layered.data
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
            layered.origin[".".join(parts[: i + 1])] = source
        node = child
    if parts[:-1] == ["train"]:
        _replace_model_choice(node, {parts[-1]: value})
    node[parts[-1]] = value
    layered.record(".".join(parts), value, source)


def _replace_model_choice(train: dict[str, Any], incoming: Mapping[str, Any]) -> None:
    """A layer that sets one form of the model choice drops the other form of earlier layers; a
    layer holding both keeps both, for `_check_model_choice` to name."""
    if "candidates" in incoming and "estimator" in incoming:
        return
    for key, replaced in REPLACES.items():
        if key in incoming:
            for old in replaced:
                train.pop(old, None)


def _check_model_choice(layered: _Layered) -> None:
    train = layered.data.get("train")
    if not isinstance(train, dict) or "candidates" not in train:
        return
    both = [k for k in SINGLE_MODEL_KEYS if k in train]
    if both:
        given = " and ".join(f"'train.{k}' ({source_of(layered.origin, f'train.{k}')})" for k in both)
        raise ConfigError(
            f"'train.candidates' ({source_of(layered.origin, 'train.candidates')}) and {given} are both given: "
            "list every estimator under train.candidates (each with its params and grid), "
            "or set train.estimator to train a single one"
        )


def _merge_into(layered: _Layered, node: dict[str, Any], incoming: Mapping[str, Any], source: str, prefix: str) -> None:
    for key, value in incoming.items():
        dotted = f"{prefix}{key}"
        if dotted == "train" and isinstance(value, dict) and isinstance(node.get(key), dict):
            _replace_model_choice(node[key], value)
        if isinstance(value, dict) and isinstance(node.get(key), dict) and value and dotted not in REPLACED_WHOLE:
            _merge_into(layered, node[key], value, source, f"{dotted}.")
            continue
        node[key] = value
        layered.record(dotted, value, source)
