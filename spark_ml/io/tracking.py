"""MLflow: the configured tracking store and registry (local SQLite, or Databricks and Unity Catalog)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spark_ml.config import Settings
from spark_ml.errors import ModelRegistryError

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.tracking import MlflowClient
    from pyspark.sql import DataFrame

log = logging.getLogger(__name__)


def configure_mlflow(settings: Settings) -> str:
    """Point MLflow at the configured stores and return the experiment id (created if missing)."""
    import mlflow

    uri = settings.tracking_uri
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(settings.registry_uri)
    name = settings.mlflow.experiment
    try:
        experiment = mlflow.get_experiment_by_name(name)
        if experiment is not None:
            return str(experiment.experiment_id)
        artifact_location = None
        if not settings.uses_catalog and uri.startswith("sqlite:"):
            artifacts = Path(settings.artifact_location)
            artifacts.mkdir(parents=True, exist_ok=True)
            artifact_location = artifacts.as_uri()
        return str(mlflow.create_experiment(name, artifact_location=artifact_location))
    except Exception as exc:
        if "RESOURCE_ALREADY_EXISTS" in str(exc):
            found = mlflow.get_experiment_by_name(name)
            if found is not None:
                return str(found.experiment_id)
        raise ModelRegistryError(
            f"MLflow tracking store {uri} is unreachable or unusable: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else ''}"
        ) from exc


def client(settings: Settings) -> MlflowClient:
    from mlflow.tracking import MlflowClient

    configure_mlflow(settings)
    return MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.registry_uri)


# -- runs ------------------------------------------------------------------------------------------

MAX_PARAM_VALUE = 500


def log_params(params: dict[str, Any]) -> None:
    """Log flattened params in batches (MLflow takes at most 100 per call); long values truncated."""
    import mlflow

    items = [(k[:250], _param_text(v)) for k, v in params.items()]
    for start in range(0, len(items), 100):
        mlflow.log_params(dict(items[start : start + 100]))


def _param_text(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, list | dict | tuple) else str(value)
    return text if len(text) <= MAX_PARAM_VALUE else text[: MAX_PARAM_VALUE - 3] + "..."


def log_table_input(df: DataFrame, settings: Settings, table: str, version: int, context: str) -> None:
    """The training table as a dataset input with its explicit Delta version."""
    import mlflow
    from mlflow.data.spark_dataset import from_spark

    location = settings.table_location(table)
    if settings.uses_catalog:
        dataset = from_spark(df, table_name=location, version=str(version), name=table)
    else:
        dataset = from_spark(df, path=location, version=str(version), name=table)
    mlflow.log_input(dataset, context=context)


def log_spark_model(model: Any, signature: Any, input_example: Any, requirements: list[str], settings: Settings) -> str:
    """Log a fitted PipelineModel in the mlflow.spark flavour; returns the model URI.

    On Databricks the model is staged in a Unity Catalog volume under the lakehouse root, which
    serverless and shared clusters (Spark Connect) require.
    """
    import mlflow

    info = mlflow.spark.log_model(
        model,
        artifact_path="model",
        signature=signature,
        input_example=input_example,
        pip_requirements=requirements,
        dfs_tmpdir=f"{settings.lakehouse.root.rstrip('/')}/_mlflow_tmp" if settings.uses_catalog else None,
    )
    return str(info.model_uri)


# -- registry --------------------------------------------------------------------------------------


def register(settings: Settings, model_uri: str, run_id: str, alias: str) -> str:
    """Register a new version of the configured model and point `alias` at it; returns the version."""
    import mlflow

    name = settings.registered_model_name
    try:
        version = mlflow.register_model(model_uri, name, tags={"spark_ml.run_id": run_id})
        client(settings).set_registered_model_alias(name, alias, version.version)
    except Exception as exc:
        raise ModelRegistryError(f"could not register {model_uri} as {name}: {_first_line(exc)}") from exc
    return str(version.version)


def version_by_alias(settings: Settings, alias: str) -> ModelVersion | None:
    """The model version an alias points at, None when the alias is not set (or no model yet).

    An alias pointing at a deleted version, or an unreachable registry, is a ModelRegistryError.
    """
    name = settings.registered_model_name
    mlflow_client = client(settings)
    try:
        return mlflow_client.get_model_version_by_alias(name, alias)
    except Exception as exc:
        text = str(exc)
        if "RESOURCE_DOES_NOT_EXIST" in text or "not found" in text.lower():
            if _alias_exists(mlflow_client, name, alias):
                raise ModelRegistryError(
                    f"alias '{alias}' of model {name} points at a version that no longer exists; "
                    f"set it again with MlflowClient().set_registered_model_alias"
                ) from exc
            return None
        raise ModelRegistryError(f"model registry {settings.registry_uri} failed: {_first_line(exc)}") from exc


def _alias_exists(mlflow_client: MlflowClient, name: str, alias: str) -> bool:
    try:
        model = mlflow_client.get_registered_model(name)
    except Exception:
        return False
    aliases = getattr(model, "aliases", {}) or {}
    return alias in aliases


def set_alias(settings: Settings, alias: str, version: str) -> None:
    client(settings).set_registered_model_alias(settings.registered_model_name, alias, version)


def describe_version(settings: Settings, version: str, description: str) -> None:
    client(settings).update_model_version(settings.registered_model_name, version, description=description)


def load_spark_model(settings: Settings, alias: str) -> tuple[Any, ModelVersion]:
    """The Spark PipelineModel behind `models:/<name>@<alias>`, loaded natively (no pyfunc UDF)."""
    import mlflow

    found = version_by_alias(settings, alias)
    if found is None:
        raise ModelRegistryError(
            f"model {settings.registered_model_name} has no '{alias}' alias yet: run train and promote first"
        )
    uri = f"models:/{settings.registered_model_name}@{alias}"
    try:
        model = mlflow.spark.load_model(uri)
    except Exception as exc:
        raise ModelRegistryError(f"could not load {uri} (version {found.version}): {_first_line(exc)}") from exc
    return model, found


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:300] if text else ''}"


def tag_version(settings: Settings, version: str, tags: dict[str, str]) -> None:
    mlflow_client = client(settings)
    for key, value in tags.items():
        mlflow_client.set_model_version_tag(settings.registered_model_name, version, key, value)


def save_report(settings: Settings, page: str, name: str, run_id: str) -> str:
    """Write an HTML report under <root>/reports (local) and log it to MLflow; returns where it is."""
    import mlflow

    experiment_id = configure_mlflow(settings)
    with mlflow.start_run(experiment_id=experiment_id, run_name=name.removesuffix(".html")) as run:
        mlflow.set_tags({"spark_ml.task": "pipeline", "spark_ml.run_id": run_id})
        mlflow.log_text(page, f"report/{name}")
    if settings.uses_catalog or "://" in settings.lakehouse.root:
        return f"MLflow run {run.info.run_id}, artifact report/{name}"
    path = Path(settings.lakehouse.root) / "reports" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return str(path)
