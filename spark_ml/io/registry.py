"""The MLflow model registry: versions, aliases (champion, challenger), descriptions and tags.

An unset alias or a model not registered yet is `None`; an alias that points at a version that no
longer exists, or a registry that fails, is a `ModelRegistryError` (exit 1); a model, alias or
version named by the user that does not exist is a `ConfigError` (exit 2). Errors are told apart
by MLflow's error codes, never by message text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spark_ml.config import Settings
from spark_ml.errors import ConfigError, ModelRegistryError, error_summary
from spark_ml.io.tracking import ALREADY_EXISTS, NOT_FOUND, client, mlflow_code

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion, RegisteredModel


def _registered(settings: Settings, name: str) -> RegisteredModel | None:
    try:
        return client(settings).get_registered_model(name)
    except Exception as exc:
        if mlflow_code(exc) in NOT_FOUND:
            return None
        raise ModelRegistryError(f"model registry {settings.registry_uri} failed: {error_summary(exc)}") from exc


def _aliases(model: RegisteredModel) -> dict[str, str]:
    return {str(k): str(v) for k, v in (getattr(model, "aliases", {}) or {}).items()}


def register(settings: Settings, source: str, run_id: str, alias: str, tags: dict[str, str]) -> str:
    """A new version of the configured model from `source` (the model's artifact location) with
    `tags`, and `alias` pointed at it; returns the version."""
    name = settings.registered_model_name
    mlflow_client = client(settings)
    try:
        try:
            mlflow_client.create_registered_model(name)
        except Exception as exc:
            if mlflow_code(exc) not in ALREADY_EXISTS:
                raise
        version = mlflow_client.create_model_version(name, source, run_id=run_id, tags=tags)
        mlflow_client.set_registered_model_alias(name, alias, version.version)
    except Exception as exc:
        raise ModelRegistryError(f"could not register {source} as {name}: {error_summary(exc)}") from exc
    return str(version.version)


def version_by_alias(settings: Settings, alias: str) -> ModelVersion | None:
    """The version `alias` points at; None when the model or the alias does not exist yet."""
    name = settings.registered_model_name
    model = _registered(settings, name)
    if model is None or alias not in _aliases(model):
        return None
    number = _aliases(model)[alias]
    try:
        return client(settings).get_model_version(name, number)
    except Exception as exc:
        if mlflow_code(exc) in NOT_FOUND:
            raise ModelRegistryError(
                f"alias '{alias}' of model {name} points at version {number}, which no longer exists; "
                "set it again with MlflowClient().set_registered_model_alias"
            ) from exc
        raise ModelRegistryError(f"model registry {settings.registry_uri} failed: {error_summary(exc)}") from exc


def set_alias(settings: Settings, alias: str, version: str) -> None:
    client(settings).set_registered_model_alias(settings.registered_model_name, alias, version)


def describe_version(settings: Settings, version: str, description: str) -> None:
    client(settings).update_model_version(settings.registered_model_name, version, description=description)


def model_version_record(settings: Settings, name: str, alias: str | None, version: str | None) -> dict[str, Any]:
    """A registered model version by alias or number: its version, tags and run. An unknown model,
    alias or version is a ConfigError (bad usage) naming what exists."""
    full = settings.registered_model_name if name == settings.model.name else name
    model = _registered(settings, full)
    if model is None:
        raise ConfigError(
            f"unknown model {name!r} in the registry {settings.registry_uri} (configured model: {settings.model.name})"
        )
    aliases = _aliases(model)
    known = ", ".join(f"{k} -> version {v}" for k, v in sorted(aliases.items())) or "none"
    if alias is not None and alias not in aliases:
        raise ConfigError(f"model {full} has no alias '{alias}' (aliases: {known})")
    number = aliases[alias] if alias is not None else str(version)
    try:
        found = client(settings).get_model_version(full, number)
    except Exception as exc:
        if mlflow_code(exc) in NOT_FOUND:
            raise ConfigError(f"model {full} has no version {number} (aliases: {known})") from exc
        raise ModelRegistryError(f"model registry {settings.registry_uri} failed: {error_summary(exc)}") from exc
    return {
        "name": full,
        "version": str(found.version),
        "alias": alias,
        "aliases": sorted(k for k, v in aliases.items() if v == str(found.version)),
        "mlflow_run_id": found.run_id,
        "tags": dict(found.tags or {}),
        "source": found.source,
    }
