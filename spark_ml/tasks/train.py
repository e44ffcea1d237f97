"""Task `train`: fit, evaluate, log and register a challenger model, all from config.

Reads the feature table at a pinned Delta version (the latest when the task starts), splits it on
the configured time windows, searches the configured grid on the validation window, evaluates on
validation and test against a prior-rate baseline (all with Spark on the full sets), logs one
MLflow run and registers a new model version with the `challenger` alias.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_ml import __version__
from spark_ml.config import Settings, TrainSettings, flatten
from spark_ml.errors import TableNotFoundError
from spark_ml.ml import plots
from spark_ml.ml.evaluation import Metrics, evaluate, positive_probability
from spark_ml.ml.pipeline import LABEL
from spark_ml.ml.training import (
    check_columns,
    fit_best,
    importances,
    in_window,
    model_frame,
    split_counts,
    with_class_weights,
)
from spark_ml.tasks.base import TaskContext, TaskResult
from spark_ml.tasks.runner import task_main

log = logging.getLogger(__name__)
SCORE = "__p1"


def run(
    spark: SparkSession,
    cfg: Settings,
    *,
    run_id: str | None = None,
    table_version: int | None = None,
    register: bool = True,
    tags: dict[str, str] | None = None,
) -> TaskResult:
    """Train on `train.table` at `table_version` (default: its latest version now).

    `register=False` logs the run and model without registering a version (reproductions);
    `tags` go to the MLflow run and the run manifest."""
    ctx = TaskContext("train", spark, cfg, run_id)
    ctx.tags.update(tags or {})
    tc = cfg.require_train()
    lake = ctx.lakehouse
    version = table_version if table_version is not None else lake.latest_version(tc.table)
    if version is None:
        raise TableNotFoundError(f"table {tc.table} does not exist yet: run the features task first")
    table = lake.read(tc.table, version)
    check_columns(table, tc, tc.table)
    data = model_frame(table, tc)
    counts = split_counts(data, tc)
    train = data.where(in_window(tc.time_column, tc.split.train))
    if tc.class_weighting:
        train = with_class_weights(train, counts["train"])
    train = train.persist()
    validation = data.where(in_window(tc.time_column, tc.split.validation)).persist()
    test = data.where(in_window(tc.time_column, tc.split.test)).persist()
    try:
        fitted = fit_best(train, validation, tc)
        prior = counts["train"].positives / counts["train"].rows
        val_scored = _score(fitted.model, validation, prior)
        test_scored = _score(fitted.model, test, prior)
        val = evaluate(val_scored, LABEL, SCORE)
        tst = evaluate(test_scored, LABEL, SCORE, threshold=val.threshold)
        base_val = evaluate(val_scored, LABEL, "__prior")
        base_test = evaluate(test_scored, LABEL, "__prior", threshold=base_val.threshold)
        val_scored.unpersist()
        test_scored.unpersist()
        kind, values = importances(fitted.model, fitted.model.transform(test.limit(1)))
        example = test.select(*tc.features).limit(5)
        logged = _log_to_mlflow(
            ctx, tc, version, table, fitted, val, tst, base_val, base_test, kind, values, example, register
        )
    finally:
        for frame in (train, validation, test):
            frame.unpersist()
    ctx.note(
        f"{tc.estimator}: test AUC-ROC {tst.auc_roc:.4f} (baseline {base_test.auc_roc:.4f}), AUC-PR {tst.auc_pr:.4f} "
        f"(baseline {base_test.auc_pr:.4f}), F1 {tst.f1:.3f} at threshold {val.threshold:.2f}"
    )
    registered = (
        f"registered {logged['model']} version {logged['version']} as '{cfg.model.challenger_alias}'"
        if register
        else "model logged, not registered"
    )
    ctx.note(f"MLflow run {logged['mlflow_run_id']}: {registered} (trained on {tc.table} version {version})")
    metrics: dict[str, Any] = {
        **val.as_dict("validation_"),
        **tst.as_dict("test_"),
        **base_test.as_dict("baseline_test_"),
        "train_rows": counts["train"].rows,
        "table_version": version,
        **logged,
        "params": fitted.params,
    }
    return ctx.result(metrics)


def _score(model: Any, frame: DataFrame, prior: float) -> DataFrame:
    """Label, model probability of class 1 and the prior-rate baseline score; cached (small)."""
    scored: DataFrame = model.transform(frame).select(
        LABEL, positive_probability().alias(SCORE), F.lit(prior).alias("__prior")
    )
    return scored.persist()


def _log_to_mlflow(
    ctx: TaskContext,
    tc: TrainSettings,
    version: int,
    table: DataFrame,
    fitted: Any,
    val: Metrics,
    tst: Metrics,
    base_val: Metrics,
    base_test: Metrics,
    kind: str,
    values: list[tuple[str, float]],
    example: DataFrame,
    register: bool = True,
) -> dict[str, Any]:
    import mlflow

    from spark_ml.io import tracking
    from spark_ml.io.provenance import git_commit, versions

    cfg = ctx.settings
    experiment_id = tracking.configure_mlflow(cfg)
    with (
        mlflow.start_run(experiment_id=experiment_id, run_name=f"train-{tc.estimator}") as run,
        tempfile.TemporaryDirectory() as tmp,
    ):
        tags = {
            "spark_ml.version": __version__,
            "spark_ml.env": cfg.env,
            "spark_ml.run_id": ctx.run_id,
            "spark_ml.task": "train",
            "spark_ml.table": tc.table,
            "spark_ml.table_version": str(version),
            "spark_ml.estimator": tc.estimator,
            "mlflow.source.git.commit": git_commit() or "unknown",
            **{f"spark_ml.{k}_version": str(v) for k, v in versions().items() if v},
            **{k if k.startswith("spark_ml.") else f"spark_ml.{k}": v for k, v in ctx.tags.items()},
        }
        mlflow.set_tags(tags)
        config = cfg.dump(masked=True)
        tracking.log_params({**flatten(config), **{f"best.{k}": v for k, v in fitted.params.items()}})
        mlflow.log_metrics(
            {
                **val.as_dict("validation_"),
                **tst.as_dict("test_"),
                **base_val.as_dict("baseline_validation_"),
                **base_test.as_dict("baseline_test_"),
            }
        )
        tracking.log_table_input(table, cfg, tc.table, version, context="training")
        folder = Path(tmp)
        (folder / "config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        curves = {"model": tst, "prior-rate baseline": base_test}
        plots.roc_plot(curves, folder / "roc.png")
        plots.pr_plot(curves, folder / "precision_recall.png")
        plots.calibration_plot({"model (test)": tst, "model (validation)": val}, folder / "calibration.png")
        if values:
            plots.importance_plot(values, f"{tc.estimator}: {kind}", folder / "importances.png")
        mlflow.log_artifacts(str(folder), artifact_path="evaluation")
        sample, signature = _signature(tc, example)
        model_uri = tracking.log_spark_model(fitted.model, signature, sample, _requirements(tc), cfg)
        mlflow_run_id = run.info.run_id
    if not register:
        return {
            "mlflow_run_id": mlflow_run_id,
            "model": cfg.registered_model_name,
            "version": None,
            "model_uri": model_uri,
        }
    model_version = tracking.register(cfg, model_uri, ctx.run_id, cfg.model.challenger_alias)
    tracking.tag_version(
        cfg,
        model_version,
        {
            "spark_ml.threshold": f"{val.threshold:.4f}",
            "spark_ml.table_version": str(version),
            "spark_ml.run_id": ctx.run_id,
        },
    )
    return {
        "mlflow_run_id": mlflow_run_id,
        "model": cfg.registered_model_name,
        "version": model_version,
        "model_uri": model_uri,
    }


def _signature(tc: TrainSettings, example: DataFrame) -> tuple[Any, Any]:
    """Input example and signature: numeric features as optional doubles, categorical as optional
    strings (features may be null; an integer column with a null cannot pass pyfunc schema
    enforcement), the prediction as a double."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    sample: Any = example.select(
        *[F.col(c).cast("double").alias(c) for c in tc.numeric], *[F.col(c) for c in tc.categorical]
    ).toPandas()
    inputs: list[Any] = [ColSpec("double", c, required=False) for c in tc.numeric]
    inputs += [ColSpec("string", c, required=False) for c in tc.categorical]
    return sample, ModelSignature(inputs=Schema(inputs), outputs=Schema([ColSpec("double", "prediction")]))


def _requirements(tc: TrainSettings) -> list[str]:
    from spark_ml.io.provenance import versions

    found = versions()
    reqs = [f"pyspark=={found['pyspark']}", f"mlflow=={found['mlflow']}"]
    if tc.estimator == "xgboost":
        from importlib import metadata

        dist = next((d for d in ("xgboost", "xgboost-cpu") if _installed(d)), "xgboost")
        reqs.append(f"{dist}=={metadata.version(dist)}")
    return reqs


def main(argv: Sequence[str] | None = None) -> int:
    return task_main("train", argv)


def _installed(dist: str) -> bool:
    from importlib import metadata

    try:
        metadata.version(dist)
    except metadata.PackageNotFoundError:
        return False
    return True
