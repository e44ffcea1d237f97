"""MLflow: the configured tracking store and registry (local SQLite, or Databricks and Unity Catalog)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from spark_ml.config import Settings
from spark_ml.errors import ModelRegistryError

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

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
