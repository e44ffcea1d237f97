"""MLflow tracking: the configured store, runs, params, metrics, artifacts and dataset inputs.

Nothing here changes MLflow's process-wide state for longer than a call: `client(settings)` is an
explicit client, and `stores(settings)` points MLflow's fluent API at the configured stores for the
duration of a `with` block and restores what was there before.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spark_ml.config import Settings
from spark_ml.errors import ConfigError, ModelRegistryError, error_summary

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient
    from pyspark.sql import DataFrame

log = logging.getLogger(__name__)


def mlflow_code(exc: BaseException) -> str | None:
    """The error code of an MlflowException (RESOURCE_DOES_NOT_EXIST, ...), None for other errors."""
    from mlflow.exceptions import MlflowException

    return str(exc.error_code) if isinstance(exc, MlflowException) else None


NOT_FOUND = frozenset({"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"})
ALREADY_EXISTS = frozenset({"RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"})
MAX_PARAM_VALUE = 6000  # MLflow's limit for a parameter value
MAX_PARAM_KEY = 250


def client(settings: Settings) -> MlflowClient:
    """An MLflow client for the configured tracking store and registry (no global state)."""
    from mlflow.tracking import MlflowClient

    uri = settings.tracking_uri
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri=uri, registry_uri=settings.registry_uri)


@contextmanager
def stores(settings: Settings) -> Iterator[None]:
    """MLflow's fluent API (start_run, log_input, ...) on the configured stores, restored after."""
    import mlflow

    client(settings)  # creates the SQLite folder when needed
    tracking, registry = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.registry_uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(tracking)
        mlflow.set_registry_uri(registry)


def experiment_id(settings: Settings) -> str:
    """The configured experiment's id, created when missing (locally with artifacts under the root)."""
    mlflow_client = client(settings)
    name = settings.mlflow.experiment
    try:
        found = mlflow_client.get_experiment_by_name(name)
        if found is not None:
            return str(found.experiment_id)
        location = None
        if settings.layout.is_local_filesystem and settings.tracking_uri.startswith("sqlite:"):
            artifacts = Path(settings.artifact_location)
            artifacts.mkdir(parents=True, exist_ok=True)
            location = artifacts.as_uri()
        return str(mlflow_client.create_experiment(name, artifact_location=location))
    except Exception as exc:
        if mlflow_code(exc) in ALREADY_EXISTS:  # created by a concurrent run
            again = mlflow_client.get_experiment_by_name(name)
            if again is not None:
                return str(again.experiment_id)
        raise ModelRegistryError(
            f"MLflow tracking store {settings.tracking_uri} is unreachable or unusable: {error_summary(exc)}"
        ) from exc


@contextmanager
def active_run(settings: Settings, name: str, tags: dict[str, str]) -> Iterator[Run]:
    """A new MLflow run in the configured experiment, active for the block (fluent API on)."""
    import mlflow

    exp = experiment_id(settings)
    with stores(settings), mlflow.start_run(experiment_id=exp, run_name=name, tags=tags) as run:
        yield run


# -- within a run ----------------------------------------------------------------------------------


def log_child_run(
    experiment_id: str, name: str, tags: dict[str, str], params: dict[str, Any], metrics: dict[str, float]
) -> str:
    """A child run of the active run (same experiment) with its params and metrics; its id."""
    import mlflow

    with mlflow.start_run(experiment_id=experiment_id, run_name=name, nested=True, tags=tags) as child:
        log_params(params)
        mlflow.log_metrics(metrics)
        return str(child.info.run_id)


def log_params(params: dict[str, Any]) -> None:
    """Log flattened params in batches (MLflow takes at most 100 per call); long values truncated."""
    import mlflow

    items = [(k[:MAX_PARAM_KEY], _param_text(v)) for k, v in params.items()]
    for start in range(0, len(items), 100):
        mlflow.log_params(dict(items[start : start + 100]))


def _param_text(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, list | dict | tuple) else str(value)
    return text if len(text) <= MAX_PARAM_VALUE else text[: MAX_PARAM_VALUE - 3] + "..."


def log_table_input(df: DataFrame, settings: Settings, table: str, version: int, context: str) -> None:
    """A table read at an explicit Delta version, as a dataset input of the active run. The digest
    is derived from the table's address and version (the same data gives the same digest)."""
    import mlflow
    from mlflow.data.spark_dataset import from_spark

    ref = settings.table(table)
    digest = hashlib.sha256(f"{ref.location}@{version}".encode()).hexdigest()[:8]
    # MLflow's optional dataset profile counts rows through RDDs, which Spark Connect lacks: it then
    # logs a warning no user can act on and leaves the profile out. Keep that warning off the console.
    profile_logger = logging.getLogger("mlflow.data.spark_dataset")
    level = profile_logger.level
    profile_logger.setLevel(logging.ERROR)
    try:
        if ref.catalog_name is not None:
            dataset = from_spark(df, table_name=ref.catalog_name, version=str(version), name=table, digest=digest)
        else:
            dataset = from_spark(df, path=ref.location, version=str(version), name=table, digest=digest)
        mlflow.log_input(dataset, context=context)
    finally:
        profile_logger.setLevel(level)


# -- runs by id ------------------------------------------------------------------------------------


def log_dict(settings: Settings, run_id: str, data: dict[str, Any], artifact_file: str) -> None:
    client(settings).log_dict(run_id, data, artifact_file)


def load_dict(settings: Settings, run_id: str, artifact_file: str) -> dict[str, Any] | None:
    """A JSON artifact of a run; None only when the run has no such artifact. An unreachable
    store or an unreadable file is raised, never taken for a missing artifact."""
    import mlflow

    folder = str(Path(artifact_file).parent) if "/" in artifact_file else None
    listed = {a.path for a in client(settings).list_artifacts(run_id, folder)}
    if artifact_file not in listed:
        return None
    with stores(settings):
        data: dict[str, Any] = mlflow.artifacts.load_dict(f"runs:/{run_id}/{artifact_file}")
    return data


def load_text(settings: Settings, run_id: str, artifact_file: str) -> str | None:
    """A text artifact of a run; None only when the run has no such artifact."""
    import mlflow

    folder = str(Path(artifact_file).parent) if "/" in artifact_file else None
    listed = {a.path for a in client(settings).list_artifacts(run_id, folder)}
    if artifact_file not in listed:
        return None
    with stores(settings):
        return str(mlflow.artifacts.load_text(f"runs:/{run_id}/{artifact_file}"))


def set_run_tags(settings: Settings, run_id: str, tags: dict[str, str]) -> None:
    from mlflow.entities import RunTag

    client(settings).log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])


def run_record(settings: Settings, run_id: str) -> dict[str, Any]:
    """An MLflow run's tags and metrics; an unknown run id is a ConfigError (bad usage)."""
    try:
        found = client(settings).get_run(run_id)
    except Exception as exc:
        if mlflow_code(exc) in NOT_FOUND:
            raise ConfigError(f"unknown MLflow run {run_id!r} in the tracking store {settings.tracking_uri}") from exc
        raise ModelRegistryError(f"MLflow tracking store {settings.tracking_uri} failed: {error_summary(exc)}") from exc
    return {
        "run_id": found.info.run_id,
        "tags": dict(found.data.tags),
        "metrics": {k: float(v) for k, v in found.data.metrics.items()},
    }


def download_folder(settings: Settings, run_id: str, artifact_path: str, dst: Path) -> Path:
    """A run's artifact folder downloaded into `dst` (which must exist). Within stores(): some
    MLflow versions resolve the run's artifact location through the global tracking URI."""
    with stores(settings):
        return Path(client(settings).download_artifacts(run_id, artifact_path, str(dst)))


def save_report(settings: Settings, page: str, name: str, run_id: str) -> str:
    """Write an HTML report under <root>/reports (local) and log it to MLflow; returns where it is."""
    import mlflow

    with active_run(settings, name.removesuffix(".html"), {"spark_ml.task": "pipeline", "spark_ml.run_id": run_id}):
        run_info = mlflow.active_run()
        mlflow.log_text(page, f"report/{name}")
        mlflow_run_id = run_info.info.run_id if run_info else ""
    reports = settings.layout.reports_dir
    if reports is None:
        return f"MLflow run {mlflow_run_id}, artifact report/{name}"
    path = Path(reports) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return str(path)
