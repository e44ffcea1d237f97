"""Task `monitor`: drift of every feature and of the predicted probability, and realized AUC.

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

from spark_ml.config import Settings
from spark_ml.errors import EXIT_DRIFT_ALERT, EXIT_OK, TableNotFoundError
from spark_ml.io import task_values
from spark_ml.ml.drift import Drift, drift_report, overall_status, retrain_wanted
from spark_ml.ml.evaluation import evaluate, positive_probability
from spark_ml.ml.pipeline import LABEL
from spark_ml.ml.training import check_columns, in_window, with_label
from spark_ml.tasks.base import TaskContext, TaskResult
from spark_ml.tasks.score import MONTH_COLUMN
from spark_ml.transforms.time import month_bounds

SCHEMA = (
    f"{MONTH_COLUMN} STRING, model_version STRING, column_name STRING, kind STRING, psi DOUBLE, status STRING, "
    "reference_rows BIGINT, current_rows BIGINT, overall_status STRING, realized_auc_roc DOUBLE, run_id STRING"
)


def run(spark: SparkSession, cfg: Settings, *, run_id: str | None = None, fail_on_alert: bool = False) -> TaskResult:
    with TaskContext("monitor", spark, cfg, run_id) as ctx:
        sc, tc = cfg.require_score(), cfg.require_train()
        table = sc.table or tc.table
        features = ctx.lakehouse.read(table)
        check_columns(features, tc, table)
        reference = with_label(features, tc).where(in_window(tc.time_column, tc.split.train)).persist()
        current = features.where(in_window(tc.time_column, month_bounds(sc.month)))
        predictions = ctx.lakehouse.read(sc.output).where(F.col(MONTH_COLUMN) == F.lit(sc.month)).persist()
        try:
            if predictions.isEmpty():
                raise TableNotFoundError(f"{sc.output} has no predictions for {sc.month}: run the score task first")
            report, model_version = _drift(cfg, reference, current, predictions)
            labels = with_label(current, tc).select(*tc.keys, LABEL).where(F.col(LABEL).isNotNull())
            realized = _realized_auc(predictions.join(labels, on=list(tc.keys), how="inner"))
        finally:
            reference.unpersist()
            predictions.unpersist()
        overall = overall_status(report)
        _write(ctx, sc.month, str(model_version.version), report, overall, realized)
        drifted = [f"{d.column} {d.psi:.3f} ({d.status})" for d in report if d.status != "ok"]
        ctx.note(f"drift {sc.month} vs training window: {overall}" + (f" - {', '.join(drifted)}" if drifted else ""))
        ctx.note(f"realized AUC-ROC of {sc.month}: {realized:.4f}" if not math.isnan(realized) else "no labels yet")
        retrain = retrain_wanted(overall, cfg.monitor.retrain_on)
        ctx.note(task_values.publish({"drift_status": overall, "retrain": str(retrain).lower()}))
        exit_code = EXIT_DRIFT_ALERT if (fail_on_alert and overall == "alert") else EXIT_OK
        metrics: dict[str, Any] = {
            "overall_status": overall,
            "retrain": retrain,
            "realized_auc_roc": realized,
            "drift": [(d.column, d.kind, d.psi, d.status) for d in report],
        }
        return ctx.result(metrics, exit_code=exit_code)


def _drift(cfg: Settings, reference: DataFrame, current: DataFrame, predictions: DataFrame) -> tuple[list[Drift], Any]:
    """PSI of every feature, and of the champion's probability on the training window against the
    scored month's (the reference is scored once, persisted for the quantiles and the histogram)."""
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
    with models.loaded(cfg, sc.alias) as (model, model_version):
        scores = model.transform(reference).select(positive_probability().alias("probability")).persist()
        try:
            report += drift_report(
                scores,
                predictions,
                numeric=["probability"],
                categorical=[],
                bins=mc.bins,
                warn=mc.psi_warn,
                alert=mc.psi_alert,
            )
        finally:
            scores.unpersist()
    return report, model_version


def _realized_auc(joined: Any) -> float:
    counts = joined.agg(F.count(F.lit(1)).alias("n"), F.sum(LABEL).alias("pos")).collect()[0]
    if not counts["n"] or counts["pos"] in (0, counts["n"]):
        return math.nan
    return evaluate(joined, LABEL, "probability").auc_roc


def _write(
    ctx: TaskContext, month: str, model_version: str, report: list[Drift], overall: str, realized: float
) -> None:
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
            None if math.isnan(realized) else realized,
            ctx.run_id,
        )
        for d in report
    ]
    frame = ctx.spark.createDataFrame(rows, SCHEMA).withColumn("monitored_at", F.lit(ctx.started_at))
    ctx.lakehouse.write(frame, ctx.settings.monitor.output, mode="overwrite", where=F.col(MONTH_COLUMN) == F.lit(month))
