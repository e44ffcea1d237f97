"""Task `pipeline`: every configured step in one Spark session, with progress and a report.

Locally: land-demo-data -> ingest -> silver -> features -> train -> promote -> score -> monitor.
Running it again is safe: the same tables, a new model version, and the champion changes only
through the promotion gate.
"""

from __future__ import annotations

import importlib
import logging
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from spark_ml.config import Settings
from spark_ml.errors import EXIT_OK
from spark_ml.tasks import TASKS
from spark_ml.tasks.base import TaskContext, TaskResult
from spark_ml.tasks.report import render
from spark_ml.tasks.runner import task_main

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 30.0


class _Heartbeat:
    """Prints '[i/n] step: running for N s' while a long step runs."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.stop = threading.Event()
        self.start = time.perf_counter()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while not self.stop.wait(HEARTBEAT_SECONDS):
            print(f"{self.label}: running for {time.perf_counter() - self.start:.0f} s", flush=True)

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()


def _land(spark: SparkSession, cfg: Settings, **_: Any) -> TaskResult:
    from spark_ml.io.landing import land_demo_data

    ctx = TaskContext("land-demo-data", spark, cfg)
    lines = land_demo_data(cfg)
    changed = sum(1 for line in lines if line.startswith("landed"))
    ctx.note(f"{changed} of {len(lines)} landing files written ({len(lines) - changed} unchanged)")
    return ctx.result({"files": len(lines), "changed": changed})


def _step(name: str) -> Callable[..., TaskResult]:
    if name == "land-demo-data":
        return _land
    module = importlib.import_module(TASKS[name])
    runner: Callable[..., TaskResult] = module.run
    return runner


def run(
    spark: SparkSession,
    cfg: Settings,
    *,
    run_id: str | None = None,
    fail_on_reject: bool = False,
    fail_on_alert: bool = False,
) -> TaskResult:
    ctx = TaskContext("pipeline", spark, cfg, run_id)
    steps = cfg.pipeline.steps
    results: list[TaskResult] = []
    exit_code = EXIT_OK
    for number, name in enumerate(steps, 1):
        label = f"[{number}/{len(steps)}] {name}"
        print(f"{label} ...", flush=True)
        options: dict[str, Any] = {}
        if name == "promote":
            options["fail_on_reject"] = fail_on_reject
        if name == "monitor":
            options["fail_on_alert"] = fail_on_alert
        with _Heartbeat(label):
            result = _step(name)(spark, cfg, **options)
        results.append(result)
        ctx.tags[f"step.{result.task}"] = result.run_id  # the steps' own manifests in the runs table
        print(f"{label} done in {result.duration_s:.1f} s", flush=True)
        for note in result.notes[-3:]:
            print(f"    {note}", flush=True)
        exit_code = exit_code or result.exit_code
    ctx.lakehouse.reads.extend(r for res in results for r in res.reads)
    ctx.lakehouse.writes.extend(w for res in results for w in res.writes)
    facts = _facts(cfg, results)
    for key, value in facts.items():
        ctx.note(f"{key}: {value}")
    if cfg.pipeline.report:
        ctx.note(f"report: {_report(ctx, results, facts)}")
    for res in results:
        ctx.note(f"{res.task}: {res.duration_s:.1f} s")
    return ctx.result({"steps": [r.task for r in results], **facts}, exit_code=exit_code)


def _facts(cfg: Settings, results: Sequence[TaskResult]) -> dict[str, Any]:
    by_task = {r.task: r for r in results}
    facts: dict[str, Any] = {}
    train, promote, monitor = by_task.get("train"), by_task.get("promote"), by_task.get("monitor")
    if promote is not None:
        champion = promote.metrics.get("champion_version")
        auc = (
            promote.metrics.get("challenger_auc_roc")
            if promote.metrics.get("promoted")
            else promote.metrics.get("champion_auc_roc")
        )
        facts["champion"] = f"{cfg.registered_model_name} version {champion}"
        if auc is not None:
            facts["champion test AUC-ROC"] = round(float(auc), 4)
    if train is not None:
        facts["challenger test AUC-ROC"] = round(float(train.metrics["test_auc_roc"]), 4)
        facts["prior-rate baseline test AUC-ROC"] = round(float(train.metrics["baseline_test_auc_roc"]), 4)
        facts["challenger test AUC-PR vs baseline"] = (
            f"{train.metrics['test_auc_pr']:.4f} vs {train.metrics['baseline_test_auc_pr']:.4f}"
        )
    if monitor is not None:
        facts["drift status"] = monitor.metrics.get("overall_status")
    if cfg.tracking_uri.startswith("sqlite:"):
        facts["MLflow UI"] = f"{Path(sys.executable).parent / 'mlflow'} ui --backend-store-uri {cfg.tracking_uri}"
    return facts


def _report(ctx: TaskContext, results: Sequence[TaskResult], facts: dict[str, Any]) -> str:
    """Write the HTML report (locally under <root>/reports) and log it to MLflow."""
    import mlflow

    from spark_ml.io import tracking

    images: dict[str, Path] = {}
    train = next((r for r in results if r.task == "train"), None)
    with tempfile.TemporaryDirectory() as tmp:
        if train is not None:
            folder = mlflow.artifacts.download_artifacts(
                run_id=train.metrics["mlflow_run_id"],
                artifact_path="evaluation",
                dst_path=tmp,
                tracking_uri=ctx.settings.tracking_uri,
            )
            images = {p.stem: p for p in sorted(Path(folder).glob("*.png"))}
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        page = render(f"spark-ml pipeline run {ctx.run_id[:12]} ({ctx.settings.env}, {stamp})", results, images, facts)
    return tracking.save_report(ctx.settings, page, f"pipeline-{ctx.run_id[:12]}.html", ctx.run_id)


def main(argv: Sequence[str] | None = None) -> int:
    return task_main("pipeline", argv)
