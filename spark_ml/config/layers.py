"""The conf layers read and merged into one mapping, with the file (or --set) of every dotted key.

Layers, later wins: ``<conf_dir>/base/*.yml``, then ``<conf_dir>/<env>/*.yml`` (``*.yml`` then
``*.yaml``, each sorted), deep-merged, except ``train.params`` and ``train.grid``, which a later layer
replaces whole, as it does any list such as ``train.candidates``; then ``--set a.b.c=value``
overrides, whose value replaces the one at its key (a mapping is not merged into the old one). The
model choice's two forms replace each other (model_choice.py). Files are read with `yaml.safe_load`
only. Under ``tables`` and ``quality`` a key is a table name, which holds a dot itself, so
``--set tables.bronze.flights.location=x`` sets ``location`` of table ``bronze.flights``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from spark_ml.config.model_choice import replace_model_choice
from spark_ml.errors import ConfigError, first_line

# Mappings that belong to one choice (the estimator's parameters and grid): a later layer that sets
# them replaces them whole, since merging one estimator's parameters into another's is an error.
REPLACED_WHOLE = frozenset({"train.params", "train.grid"})
# Mappings keyed by table name: a table name holds a dot itself ("tables.bronze.flights.location").
KEYED_BY_TABLE = ("tables", "quality")


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
class Layered:
    """The merged data and, for each dotted key, the file or `--set KEY` it last came from."""

    data: dict[str, Any] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)

    def record(self, dotted: str, value: Any, source: str) -> None:
        """`dotted` now holds `value` from `source`: what an earlier layer put under it is gone."""
        for stale in [key for key in self.origin if key.startswith(f"{dotted}.")]:
            del self.origin[stale]
        self.origin[dotted] = source
        if isinstance(value, dict):
            for sub in flatten(value):
                self.origin[f"{dotted}.{sub}"] = source


def read_layers(conf_dir: Path, env: str, overrides: Sequence[str]) -> Layered:
    """The base and `env` layers of `conf_dir` merged, then the `overrides` (KEY=VALUE) applied."""
    if not (conf_dir / "base").is_dir():
        raise ConfigError(f"conf folder {conf_dir} has no base/ folder (pass --conf-dir DIR holding base/ and <env>/)")
    env_dir = conf_dir / env
    if env == "base" or not env_dir.is_dir():
        known = sorted(p.name for p in conf_dir.iterdir() if p.is_dir() and p.name != "base")
        raise ConfigError(f"unknown env {env!r}: no folder {env_dir} (available: {', '.join(known)})")
    layered = Layered()
    for folder in (conf_dir / "base", env_dir):
        for path in sorted(folder.glob("*.yml")) + sorted(folder.glob("*.yaml")):
            _merge_into(layered, layered.data, _read_yaml(path), str(path), "")
    for item in overrides:
        key, value = _parse_override(item)
        _set_path(layered, _path(key), value, f"--set {key}")
    return layered


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
        problem = getattr(exc, "problem", None) or first_line(exc)
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


def _set_path(layered: Layered, parts: list[str], value: Any, source: str) -> None:
    """A --set replaces the value at its key (a mapping value is not merged into the old one)."""
    node = layered.data
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
            layered.origin[".".join(parts[: i + 1])] = source
        node = child
    if parts[:-1] == ["train"]:
        replace_model_choice(node, {parts[-1]: value})
    node[parts[-1]] = value
    layered.record(".".join(parts), value, source)


def _merge_into(layered: Layered, node: dict[str, Any], incoming: Mapping[str, Any], source: str, prefix: str) -> None:
    for key, value in incoming.items():
        dotted = f"{prefix}{key}"
        if dotted == "train" and isinstance(value, dict) and isinstance(node.get(key), dict):
            replace_model_choice(node[key], value)
        if isinstance(value, dict) and isinstance(node.get(key), dict) and value and dotted not in REPLACED_WHOLE:
            _merge_into(layered, node[key], value, source, f"{dotted}.")
            continue
        node[key] = value
        layered.record(dotted, value, source)
