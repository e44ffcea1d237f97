"""Task `monitor`: drift of every feature and of the model's output, and the realized metric.

The model's output is a binary classifier's probability of class 1, a regression's prediction, or
a multiclass classifier's predicted class.
The realized metric is AUC-ROC for a binary classifier (column `realized_auc_roc`, as in 0.1.0), and
the train task's `select_by` for the other tasks (columns `realized_metric`, `realized_value`).

Reference: the training window of the feature table (its probabilities from the champion).
Current: the scored month. PSI per column with bins from the reference; status ok / warn / alert
by `monitor.psi_warn` and `monitor.psi_alert`. Results replace the month's rows of the
monitoring table. The overall status and whether it retrains (`monitor.retrain_on`) are published
as task values `drift_status` and `retrain` (on Databricks: the job's condition task runs the retrain
job on `retrain`; the pipeline command follows the same rule). With --fail-on-alert an overall alert
exits with code 3 (EXIT_DRIFT_ALERT) instead, for schedulers that act on exit codes.
"""

from __future__ import annotations

import math
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_ml.config import METRIC_LABELS, Settings
from spark_ml.errors import EXIT_DRIFT_ALERT, EXIT_OK, TableNotFoundError
from spark_ml.io import task_values
from spark_ml.ml.drift import Drift, drift_report, overall_status, retrain_wanted
from spark_ml.ml.evaluation import evaluate, positive_probability
from spark_ml.ml.multiclass import (
    class_position,
    column_name,
    evaluate_multiclass,
    predicted_class,
)
from spark_ml.ml.pipeline import LABEL
from spark_ml.ml.regression import evaluate_regression
from spark_ml.ml.training import check_columns, in_window, with_label
from spark_ml.tasks.base import TaskContext, TaskResult
from spark_ml.tasks.score import MONTH_COLUMN
from spark_ml.transforms.time import month_bounds

SCHEMA = (
    f"{MONTH_COLUMN} STRING, model_version STRING, column_name STRING, kind STRING, psi DOUBLE, status STRING, "
    "reference_rows BIGINT, current_rows BIGINT, overall_status STRING, realized_auc_roc DOUBLE, run_id STRING"
)
TASK_SCHEMA = SCHEMA.replace("realized_auc_roc DOUBLE", "realized_metric STRING, realized_value DOUBLE")
# The column of the predictions table that is the model's output, per task.
OUTPUT_COLUMN = {"binary": "probability", "regression": "prediction", "multiclass": "prediction"}


def run(spark: SparkSession, cfg: Settings, *, run_id: str | None = None, fail_on_alert: bool = False) -> TaskResult:
    with TaskContext("monitor", spark, cfg, run_id) as ctx:
        sc, tc = cfg.require_score(), cfg.require_train()
        table = sc.table or tc.table
        features = ctx.lakehouse.read(table)
        check_columns(features, tc, table)
        reference = features.where(in_window(tc.time_column, tc.split.train)).persist()
        current = features.where(in_window(tc.time_column, month_bounds(sc.month)))
        predictions = ctx.lakehouse.read(sc.output).where(F.col(MONTH_COLUMN) == F.lit(sc.month)).persist()
        try:
            if predictions.isEmpty():
                raise TableNotFoundError(f"{sc.output} has no predictions for {sc.month}: run the score task first")
            report, model_version, classes = _drift(cfg, reference, current, predictions)
            labels = with_label(current, tc, classes).select(*tc.keys, LABEL).where(F.col(LABEL).isNotNull())
            joined = predictions.join(labels, on=list(tc.keys), how="inner")
            realized = _realized_auc(joined) if tc.task == "binary" else _realized(joined, tc.select_by, classes)
        finally:
            reference.unpersist()
            predictions.unpersist()
        overall = overall_status(report)
        _write(ctx, sc.month, str(model_version.version), report, overall, realized)
        drifted = [f"{d.column} {d.psi:.3f} ({d.status})" for d in report if d.status != "ok"]
        ctx.note(f"drift {sc.month} vs training window: {overall}" + (f" - {', '.join(drifted)}" if drifted else ""))
        metric = "auc_roc" if tc.task == "binary" else tc.select_by
        label = METRIC_LABELS[metric]
        ctx.note(f"realized {label} of {sc.month}: {realized:.4f}" if not math.isnan(realized) else "no labels yet")
        retrain = retrain_wanted(overall, cfg.monitor.retrain_on)
        ctx.note(task_values.publish({"drift_status": overall, "retrain": str(retrain).lower()}))
        exit_code = EXIT_DRIFT_ALERT if (fail_on_alert and overall == "alert") else EXIT_OK
        metrics: dict[str, Any] = {
            "overall_status": overall,
            "retrain": retrain,
            f"realized_{metric}": realized,
            "drift": [(d.column, d.kind, d.psi, d.status) for d in report],
        }
        return ctx.result(metrics, exit_code=exit_code)


def _drift(
    cfg: Settings, reference: DataFrame, current: DataFrame, predictions: DataFrame
) -> tuple[list[Drift], Any, tuple[str, ...]]:
    """PSI of every feature, and of the champion's output on the training window against the
    scored month's (the reference is scored once, persisted for the quantiles and the histogram):
    a binary classifier's probability, a regression's prediction, a multiclass classifier's
    predicted class (categorical). Also the champion's version and its classes (multiclass)."""
    from spark_ml.io import models

    sc, tc, mc = cfg.require_score(), cfg.require_train(), cfg.monitor
    report = drift_report(
        reference,
        current,
        numeric=tc.numeric,
        categorical=tc.categorical,
        bins=mc.bins,
        warn=mc.psi_warn,
        alert=mc.psi_alert,
    )
    output = OUTPUT_COLUMN[tc.task]
    with models.loaded(cfg, sc.alias) as (model, model_version):
        classes = models.classes_of(cfg, model_version)
        scored = model.transform(reference)
        if tc.task == "binary":
            column = positive_probability()
        elif tc.task == "regression":
            column = F.col("prediction").cast("double")
        else:
            column = predicted_class(classes)
        scores = scored.select(column.alias(output)).persist()
        kind = "categorical" if tc.task == "multiclass" else "numeric"
        try:
            report += drift_report(
                scores,
                predictions,
                numeric=[output] if kind == "numeric" else [],
                categorical=[output] if kind == "categorical" else [],
                bins=mc.bins,
                warn=mc.psi_warn,
                alert=mc.psi_alert,
            )
        finally:
            scores.unpersist()
    return report, model_version, classes


def _realized_auc(joined: Any) -> float:
    counts = joined.agg(F.count(F.lit(1)).alias("n"), F.sum(LABEL).alias("pos")).collect()[0]
    if not counts["n"] or counts["pos"] in (0, counts["n"]):
        return math.nan
    return evaluate(joined, LABEL, "probability").auc_roc


def _realized(joined: DataFrame, metric: str, classes: tuple[str, ...]) -> float:
    """The task's metric of the month's predictions on the rows whose label is known."""
    if joined.isEmpty():
        return math.nan
    if classes:  # multiclass: the predictions table holds class names and probability_<class> columns
        found = evaluate_multiclass(
            joined,
            classes,
            prediction=class_position(F.col("prediction"), classes),
            probabilities=F.array(*[F.col(column_name("probability", c)) for c in classes]),
        )
        return found.metric(metric)
    metrics, _ = evaluate_regression(joined, LABEL, "prediction", plot_bins=1)
    return metrics.metric(metric)


def _write(
    ctx: TaskContext, month: str, model_version: str, report: list[Drift], overall: str, realized: float
) -> None:
    tc = ctx.settings.require_train()
    realized_columns: tuple[Any, ...] = (None if math.isnan(realized) else realized,)
    if tc.task != "binary":
        realized_columns = (tc.select_by, *realized_columns)
    rows = [
        (
            month,
            model_version,
            d.column,
            d.kind,
            None if math.isnan(d.psi) else d.psi,
            d.status,
            d.reference_rows,
            d.current_rows,
            overall,
            *realized_columns,
            ctx.run_id,
        )
        for d in report
    ]
    schema = SCHEMA if tc.task == "binary" else TASK_SCHEMA
    frame = ctx.spark.createDataFrame(rows, schema).withColumn("monitored_at", F.lit(ctx.started_at))
    ctx.lakehouse.write(frame, ctx.settings.monitor.output, mode="overwrite", where=F.col(MONTH_COLUMN) == F.lit(month))
