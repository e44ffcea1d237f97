"""Task `pipeline`: every configured step in one Spark session, with progress and a report.

Locally: land-demo-data -> ingest -> silver -> features -> train -> promote -> score -> monitor.
When monitor's drift status calls for it (`monitor.retrain_on`), train and promote run once more
after it: the rule the Databricks job applies with its condition task and retrain job.
Running it again is safe: the same tables, a new model version, and the champion changes only
through the promotion gate.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from pyspark.sql import SparkSession

from spark_ml.config import METRIC_LABELS, TASK_METRICS, Settings
from spark_ml.errors import EXIT_OK
from spark_ml.logs import progress
from spark_ml.tasks import check_pipeline, get_task, options_of
from spark_ml.tasks.base import TaskContext, TaskResult

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 30.0
RETRAIN_STEPS = ("train", "promote")  # what the retrain job runs (resources/*.job.yml)


class _Heartbeat:
    """Prints '[i/n] step: running for N s' while a long step runs."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.stop = threading.Event()
        self.start = time.perf_counter()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while not self.stop.wait(HEARTBEAT_SECONDS):
            progress.info("%s: running for %.0f s", self.label, time.perf_counter() - self.start)

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def run(
    spark: SparkSession,
    cfg: Settings,
    *,
    run_id: str | None = None,
    fail_on_reject: bool = False,
    fail_on_alert: bool = False,
) -> TaskResult:
    check_pipeline(cfg)
    options = {"fail_on_reject": fail_on_reject, "fail_on_alert": fail_on_alert}
    with TaskContext("pipeline", spark, cfg, run_id) as ctx:
        steps = cfg.pipeline.steps
        results: list[TaskResult] = []
        exit_code = EXIT_OK
        for number, name in enumerate(steps, 1):
            result = _step(ctx, name, f"[{number}/{len(steps)}] {name}", options)
            results.append(result)
            exit_code = exit_code or result.exit_code
            if name == "monitor" and result.metrics.get("retrain"):
                status = result.metrics.get("overall_status")
                progress.info("drift %s, monitor.retrain_on=%s: retraining", status, cfg.monitor.retrain_on)
                ctx.note(f"retrained after drift status {status} (monitor.retrain_on={cfg.monitor.retrain_on})")
                for step in RETRAIN_STEPS:
                    again = _step(ctx, step, f"[retrain] {step}", options, tag=f"step.retrain.{step}")
                    results.append(again)
                    exit_code = exit_code or again.exit_code
        facts = _facts(cfg, results)
        for key, value in facts.items():
            ctx.note(f"{key}: {value}")
        if cfg.pipeline.report:
            ctx.note(f"report: {_report(ctx, results, facts)}")
        return ctx.result({"steps": [r.task for r in results], **facts}, exit_code=exit_code, list_tables=False)


def _step(ctx: TaskContext, name: str, label: str, options: dict[str, Any], tag: str | None = None) -> TaskResult:
    """Run one step in the pipeline's session, with progress lines and its manifest in the runs table."""
    task = get_task(name)
    progress.info("%s ...", label)
    with _Heartbeat(label):
        result = task.run_function()(ctx.spark, ctx.settings, **options_of(task, options))
    ctx.include(result)
    ctx.tags[tag or f"step.{result.task}"] = result.run_id  # the steps' own manifests in the runs table
    progress.info("%s done in %.1f s", label, result.duration_s)
    for note in result.notes[-3:]:
        progress.info("    %s", note)
    return result


def _facts(cfg: Settings, results: Sequence[TaskResult]) -> dict[str, Any]:
    import sys
    from pathlib import Path

    by_task = {r.task: r for r in results}  # after a retrain, its train and promote
    facts: dict[str, Any] = {"project": cfg.project.name}
    train, promote, monitor = by_task.get("train"), by_task.get("promote"), by_task.get("monitor")
    tc = cfg.require_train() if cfg.train is not None else None
    task = tc.task if tc is not None else "binary"
    if promote is not None:
        champion = promote.metrics.get("champion_version")
        gate = "auc_roc" if task == "binary" else cfg.promote.metric
        value = (
            promote.metrics.get(f"challenger_{gate}")
            if promote.metrics.get("promoted")
            else promote.metrics.get(f"champion_{gate}")
        )
        facts["champion"] = f"{cfg.registered_model_name} version {champion}"
        if value is not None:
            facts[f"champion test {METRIC_LABELS[gate]}"] = round(float(value), 4)
    if train is not None and task == "binary":
        facts["challenger"] = _challenger(train.metrics)
        facts["challenger test AUC-ROC"] = round(float(train.metrics["test_auc_roc"]), 4)
        facts["prior-rate baseline test AUC-ROC"] = round(float(train.metrics["baseline_test_auc_roc"]), 4)
        facts["challenger test AUC-PR vs baseline"] = (
            f"{train.metrics['test_auc_pr']:.4f} vs {train.metrics['baseline_test_auc_pr']:.4f}"
        )
    elif train is not None:
        facts["challenger"] = _challenger(train.metrics)
        for metric in TASK_METRICS[task]:
            facts[f"challenger test {METRIC_LABELS[metric]} vs baseline"] = (
                f"{train.metrics[f'test_{metric}']:.4f} vs {train.metrics[f'baseline_test_{metric}']:.4f}"
            )
    if monitor is not None:
        facts["drift status"] = monitor.metrics.get("overall_status")
    if cfg.tracking_uri.startswith("sqlite:"):
        facts["MLflow UI"] = f"{Path(sys.executable).parent / 'mlflow'} ui --backend-store-uri {cfg.tracking_uri}"
    return facts


def _challenger(metrics: dict[str, Any]) -> str:
    """'xgboost (312 trees), best validation AUC-ROC of 2 candidates' (one line)."""
    trees = metrics.get("winner_trees")
    label = METRIC_LABELS.get(str(metrics.get("select_by")), "metric")
    count = len(metrics.get("candidates") or [])
    what = f"{metrics.get('winner')}{f' ({trees} trees)' if trees else ''}"
    refit = ", refit on train + validation" if metrics.get("refit") else ""
    return f"{what}, best validation {label} of {count} candidate{'s' if count != 1 else ''}{refit}"


def _report(ctx: TaskContext, results: Sequence[TaskResult], facts: dict[str, Any]) -> str:
    """Write the HTML report (locally under <root>/reports) and log it to MLflow."""
    import tempfile
    from pathlib import Path

    from spark_ml.io import tracking
    from spark_ml.reporting.html import render

    images: dict[str, bytes] = {}
    train = next((r for r in results if r.task == "train"), None)
    if train is not None:
        with tempfile.TemporaryDirectory() as tmp:
            folder = tracking.download_folder(ctx.settings, train.metrics["mlflow_run_id"], "evaluation", Path(tmp))
            images = {p.stem: p.read_bytes() for p in sorted(folder.glob("*.png"))}
    monitor = next((r for r in results if r.task == "monitor"), None)
    if monitor is not None and monitor.metrics.get("drift"):
        images["psi"] = _psi_chart(ctx.settings, monitor.metrics["drift"])
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    title = f"spark-ml pipeline run {ctx.run_id[:12]} ({ctx.settings.project.name}, {ctx.settings.env}, {stamp})"
    page = render(title, results, images, facts)
    return tracking.save_report(ctx.settings, page, f"pipeline-{ctx.run_id[:12]}.html", ctx.run_id)


def _psi_chart(cfg: Settings, drift: Sequence[tuple[str, str, float, str]]) -> bytes:
    """The PSI of every monitored column as a PNG bar chart, with the warn and alert lines."""
    import io

    from spark_ml.ml import plots

    figure = plots.psi_plot(drift, cfg.monitor.psi_warn, cfg.monitor.psi_alert)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    plots.close(figure)
    return buffer.getvalue()
