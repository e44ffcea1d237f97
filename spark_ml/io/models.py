"""Spark ML models in MLflow: one persistence path for classic sessions, Spark Connect and Databricks
serverless.

Spark itself saves and loads the PipelineModel (on the driver, or on the Spark Connect server) in a
staging folder that Spark and this Python process both see: `<lakehouse.root>/_staging/models`, a
local folder locally and a Unity Catalog volume (`/Volumes/...`) on Databricks. This process moves
the files between that folder and MLflow's artifact store with plain file copies.

`mlflow.spark.log_model` is not used: outside Databricks it copies the saved model to the driver
through the JVM's Hadoop client, which a Spark Connect client does not have (it fails with
`'NoneType' object has no attribute 'jvm'`). The logged model has the mlflow.spark flavour's layout
(`MLmodel` with the `spark` and `python_function` flavours, `sparkml/`, requirements), so
`mlflow.spark.load_model` and `mlflow.pyfunc.load_model` read it as usual in a classic session.
"""

from __future__ import annotations

import atexit
import json
import logging
import platform
import shutil
import tempfile
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from spark_ml.config import Settings
from spark_ml.errors import ModelRegistryError, error_summary, has_condition
from spark_ml.io.tracking import stores

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion

    from spark_ml.ml.driver import DriverModel

log = logging.getLogger(__name__)

ARTIFACT_PATH = "model"
MODEL_DATA = "sparkml"
MODEL_CLASS = "pyspark.ml.pipeline.PipelineModel"
# Beside a single-node model's sklearn pipeline: what Spark needs to apply it (spark_ml.ml.driver).
DRIVER_MODEL = "spark_ml_driver.json"


# A saved stage whose reader needs the JVM (xgboost.spark's models) cannot load over Spark Connect:
# an xgboost stage is then read by spark_ml.ml.booster.
NEEDS_JVM = frozenset({"JVM_ATTRIBUTE_NOT_SUPPORTED"})


def staging_root(settings: Settings) -> Path:
    """The folder Spark and this process share for model files (see the module docstring)."""
    root = settings.lakehouse.root
    if "://" in root or root.startswith("dbfs:"):
        raise ModelRegistryError(
            f"lakehouse.root {root!r} is not a folder this process can read: Spark ML models are staged under it, "
            "so it must be a local folder, a shared mount or a Unity Catalog volume (/Volumes/...)"
        )
    return Path(settings.layout.model_staging_dir)


@contextmanager
def _quiet_collector() -> Iterator[None]:
    """Run MLflow's artifact transfers with the garbage collector paused, after a collection.

    Over Spark Connect a fitted model's finalizer asks the server to drop it (pyspark's
    RemoteModelRef). Run by a collection that starts inside `ThreadPoolExecutor.submit` (MLflow's
    download and upload threads), that request submits to an executor too and waits for the lock
    the outer submit holds: the process hangs (seen in the serverless runtime, promote after train).
    Collecting first runs those finalizers here; pausing the collector keeps new ones out of the
    transfer."""
    import gc

    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def _staging(settings: Settings) -> Iterator[Path]:
    folder = staging_root(settings) / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def log_spark_model(settings: Settings, model: Any, signature: Any, requirements: Sequence[str]) -> str:
    """Log a fitted PipelineModel to the active MLflow run at `model/`; returns the artifact URI
    of the logged model (the registry's source for a new version)."""
    import mlflow

    with _staging(settings) as staged, tempfile.TemporaryDirectory() as tmp:
        model.write().overwrite().save(str(staged / MODEL_DATA))
        folder = Path(tmp)
        shutil.copytree(staged / MODEL_DATA, folder / MODEL_DATA)
        _write_metadata(folder, signature, requirements)
        with _quiet_collector():
            mlflow.log_artifacts(str(folder), ARTIFACT_PATH)
    return str(mlflow.get_artifact_uri(ARTIFACT_PATH))


def classes_of(settings: Settings, version: ModelVersion) -> tuple[str, ...]:
    """A multiclass model version's class list (its `spark_ml.classes` tag); () for other tasks."""
    from spark_ml.ml.multiclass import classes_from_tags

    if settings.require_train().task != "multiclass":
        return ()
    return classes_from_tags(version.tags, f"{settings.registered_model_name} version {version.version}")


def log_driver_model(model: DriverModel, signature: Any, requirements: Sequence[str]) -> str:
    """Log a single-node model to the active MLflow run at `model/`: the scikit-learn pipeline with
    MLflow's sklearn flavour (pyfunc included) and, beside it, what Spark needs to apply it
    (`spark_ml_driver.json`: its columns, task and classes); returns the artifact URI."""
    import mlflow
    import mlflow.sklearn

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / ARTIFACT_PATH
        mlflow.sklearn.save_model(
            model.pipeline,
            str(folder),
            signature=signature,
            pip_requirements=list(requirements),
            **_skops_trust(mlflow.sklearn.save_model, model.pipeline),
        )
        (folder / DRIVER_MODEL).write_text(json.dumps(model.describe(), indent=2) + "\n", encoding="utf-8")
        with _quiet_collector():
            mlflow.log_artifacts(str(folder), ARTIFACT_PATH)
    return str(mlflow.get_artifact_uri(ARTIFACT_PATH))


# The modules whose types a single-node pipeline may hold (the skops format loads no other type).
TRUSTED_MODULES = ("sklearn.", "lightgbm.", "numpy.", "scipy.", "collections.", "builtins.", "functools.partial")


def _skops_trust(save: Any, pipeline: Any) -> dict[str, Any]:
    """MLflow 3 saves scikit-learn models in the skops format, which loads only the types it is told
    to trust: the types of this pipeline, each from a module of TRUSTED_MODULES (anything else is an
    error naming it). MLflow 2 (Databricks Runtime 16.4) pickles them and takes no such argument."""
    import inspect

    if "skops_trusted_types" not in inspect.signature(save).parameters:
        return {}
    import skops.io

    types = list(skops.io.get_untrusted_types(data=skops.io.dumps(pipeline)))
    unknown = [t for t in types if not t.startswith(TRUSTED_MODULES)]
    if unknown:
        raise ModelRegistryError(f"the single-node model holds types of unexpected modules: {', '.join(unknown)}")
    return {"skops_trusted_types": types}


def _write_metadata(folder: Path, signature: Any, requirements: Sequence[str]) -> None:
    """MLmodel (spark and python_function flavours, the signature) and the environment files."""
    import pyspark
    from mlflow import pyfunc
    from mlflow.models import Model

    mlflow_model = Model(artifact_path=ARTIFACT_PATH)
    mlflow_model.signature = signature
    mlflow_model.add_flavor(
        "spark", pyspark_version=pyspark.__version__, model_data=MODEL_DATA, code=None, model_class=MODEL_CLASS
    )
    pyfunc.add_to_model(
        mlflow_model,
        loader_module="mlflow.spark",
        data=MODEL_DATA,
        conda_env="conda.yaml",
        python_env="python_env.yaml",
        code=None,
    )
    mlflow_model.save(str(folder / "MLmodel"))
    python = platform.python_version()
    (folder / "requirements.txt").write_text("\n".join(requirements) + "\n", encoding="utf-8")
    conda = {
        "name": "mlflow-env",
        "channels": ["conda-forge"],
        "dependencies": [f"python={python}", "pip", {"pip": list(requirements)}],
    }
    (folder / "conda.yaml").write_text(yaml.safe_dump(conda, sort_keys=False), encoding="utf-8")
    env = {"python": python, "build_dependencies": ["pip"], "dependencies": ["-r requirements.txt"]}
    (folder / "python_env.yaml").write_text(yaml.safe_dump(env, sort_keys=False), encoding="utf-8")


@dataclass(frozen=True)
class _Cached:
    model: Any
    folder: Path


# Models this process loaded, newest last: a model version is immutable, so the same version in the
# same Spark session (the pipeline's promote, score and monitor; a notebook scoring again) is loaded
# once. A Spark model may read files of its staging folder when it transforms (an Imputer's
# surrogates), so the folder lives as long as its entry.
_CACHE: OrderedDict[tuple[str, ...], _Cached] = OrderedDict()
_CACHE_LOCK = threading.Lock()
MAX_CACHED_MODELS = 4


def _session_key() -> str:
    """The Spark session a loaded model belongs to: the application of a classic session, the
    session id of a Spark Connect one ('' when none is active: a single-node model needs none)."""
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is None:
        return ""
    session_id = getattr(session, "session_id", None)  # Spark Connect's; a classic session has none
    return f"{session.conf.get('spark.app.id', '')}:{session_id if isinstance(session_id, str) else ''}"


def _cache_key(settings: Settings, version: ModelVersion) -> tuple[str, ...]:
    return (
        str(settings.mlflow.tracking_uri),
        settings.registered_model_name,
        str(version.version),
        str(version.run_id),
        str(version.source),
        str(settings.layout.model_staging_dir),
        _session_key(),
    )


def forget_loaded_models() -> int:
    """Drop every model this process keeps loaded and delete their staging folders; how many."""
    with _CACHE_LOCK:
        entries = list(_CACHE.values())
        _CACHE.clear()
    for entry in entries:
        shutil.rmtree(entry.folder, ignore_errors=True)
    return len(entries)


atexit.register(forget_loaded_models)


def _remember(key: tuple[str, ...], entry: _Cached) -> None:
    with _CACHE_LOCK:
        _CACHE[key] = entry
        evicted = [_CACHE.popitem(last=False)[1] for _ in range(len(_CACHE) - MAX_CACHED_MODELS)]
    for old in evicted:
        shutil.rmtree(old.folder, ignore_errors=True)


@contextmanager
def loaded(settings: Settings, alias: str) -> Iterator[tuple[Any, ModelVersion]]:
    """The model behind `models:/<name>@<alias>` and its version. The alias is resolved on every
    call; a version already loaded in this Spark session is not loaded again (see _CACHE)."""
    from spark_ml.io.registry import version_by_alias

    version = version_by_alias(settings, alias)
    if version is None:
        raise ModelRegistryError(
            f"model {settings.registered_model_name} has no '{alias}' alias yet: run train and promote first"
        )
    key = _cache_key(settings, version)
    with _CACHE_LOCK:
        entry = _CACHE.get(key)
        if entry is not None:
            _CACHE.move_to_end(key)
    if entry is None:
        folder = staging_root(settings) / uuid.uuid4().hex
        folder.mkdir(parents=True, exist_ok=True)
        try:
            entry = _Cached(_load(settings, alias, version, folder), folder)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        _remember(key, entry)
    yield entry.model, version


def _load(settings: Settings, alias: str, version: ModelVersion, staged: Path) -> Any:
    """The model of `version`, its files downloaded to `staged` and loaded by Spark from there (a
    single-node model: by scikit-learn, applied through Spark)."""
    import mlflow
    from pyspark.ml import PipelineModel

    uri = f"models:/{settings.registered_model_name}/{version.version}"
    try:
        with stores(settings), _quiet_collector():
            local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(staged))
    except Exception as exc:
        raise ModelRegistryError(
            f"could not load {uri} ('{alias}', version {version.version}): {error_summary(exc)}"
        ) from exc
    described = Path(local) / DRIVER_MODEL
    if described.is_file():
        import mlflow.sklearn

        pipeline = mlflow.sklearn.load_model(str(local))
        from spark_ml.ml.driver import DriverModel

        return DriverModel.from_description(pipeline, json.loads(described.read_text(encoding="utf-8")))
    data = Path(local) / MODEL_DATA
    if not data.is_dir():
        raise ModelRegistryError(
            f"could not load {uri} ('{alias}', version {version.version}): its files are missing "
            f"(no {MODEL_DATA}/ folder in {version.source})"
        )
    try:
        return PipelineModel.load(str(data))
    except Exception as exc:
        if not has_condition(exc, NEEDS_JVM):
            raise
        from spark_ml.ml import booster

        if not booster.has_xgboost_stage(data):
            raise ModelRegistryError(
                f"could not load {uri} ('{alias}', version {version.version}) over Spark Connect: a stage of "
                f"it needs the JVM ({error_summary(exc)}); use a classic session"
            ) from exc
        from pyspark.sql import SparkSession

        # an xgboost.spark champion (trained on a classic cluster): its booster is applied here
        log.info("loading %s over Spark Connect: its xgboost stage is applied through its booster", uri)
        return booster.load_stages(data, SparkSession.active())
