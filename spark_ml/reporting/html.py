"""The HTML report of a pipeline run. It leads with the summary, the model's metrics and plots
(per task: ROC, precision-recall and calibration; predicted-vs-actual and residuals; the confusion
matrix), then drift (a PSI bar chart, the table folded), the promotion decision, the steps, and the
tables written and data-quality checks folded behind a one-line count. Rendered from
templates/report.html.j2 with autoescape."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from spark_ml.config import METRIC_LABELS as LABELS
from spark_ml.config import TASK_METRICS


class Write(Protocol):
    @property
    def table(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def rows(self) -> int: ...
    @property
    def operation(self) -> str: ...


class Quality(Protocol):
    @property
    def table(self) -> str: ...
    @property
    def check(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def details(self) -> str: ...
    @property
    def status(self) -> str: ...


class StepResult(Protocol):
    """What the report reads of a task's result."""

    @property
    def task(self) -> str: ...
    @property
    def duration_s(self) -> float: ...
    @property
    def status(self) -> str: ...
    @property
    def metrics(self) -> dict[str, Any]: ...
    @property
    def notes(self) -> list[str]: ...
    @property
    def writes(self) -> Sequence[Write]: ...
    @property
    def quality(self) -> Sequence[Quality]: ...


# The metrics table's rows per task, and what the baseline is.
METRICS = {
    "binary": ("auc_roc", "auc_pr", "log_loss", "brier", "precision", "recall", "f1"),
    "regression": ("rmse", "mae", "r2", "mean_label", "mean_prediction"),
    "multiclass": ("log_loss", "macro_f1", "accuracy"),
}
BASELINES = {
    "binary": "prior-rate baseline",
    "regression": "training-mean baseline",
    "multiclass": "class-prior baseline",
}
RULE = (
    "Every candidate is fitted on the training window and scored on validation; the best wins, and "
    "within {tolerance} of the best the simplest: a linear model, then fewer trees, then shallower "
    "trees, then the first configured."
)


def render(title: str, results: Sequence[StepResult], images: Mapping[str, bytes], facts: Mapping[str, Any]) -> str:
    """The report page for the steps of one pipeline run."""
    from jinja2 import Environment, PackageLoader

    env = Environment(loader=PackageLoader("spark_ml.reporting", "templates"), autoescape=True)
    env.filters["cell"] = _cell
    by_task = {r.task: r for r in results}
    train = by_task.get("train")
    task = str(train.metrics.get("task", "binary")) if train is not None else "binary"
    metrics = (
        [
            (
                LABELS.get(n, n),
                train.metrics.get(f"validation_{n}"),
                train.metrics.get(f"test_{n}"),
                train.metrics.get(f"baseline_test_{n}"),
            )
            for n in METRICS[task]
        ]
        if train is not None
        else []
    )
    return env.get_template("report.html.j2").render(
        title=title,
        facts=facts,
        steps=results,
        writes=[w for r in results for w in r.writes],
        quality=[q for r in results for q in r.quality],
        train=train,
        task=task,
        baseline=BASELINES[task],
        candidate_metrics={m: LABELS[m] for m in TASK_METRICS[task]},
        metrics=metrics,
        images={name: base64.b64encode(data).decode("ascii") for name, data in images.items()},
        **_candidates(train.metrics if train is not None else {}),
        promote=by_task.get("promote"),
        monitor=by_task.get("monitor"),
    )


def _candidates(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The candidates table of a train step's metrics, the metric that chose and the rule."""
    return {
        "candidates": list(metrics.get("candidates") or []),
        "select_by": LABELS.get(str(metrics.get("select_by")), ""),
        "rule": RULE.format(tolerance=metrics.get("tie_tolerance", 1e-4)),
    }


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "" if value is None else str(value)
