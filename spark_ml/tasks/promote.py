"""Task `promote`: the challenger becomes champion only through the gate.

Both models are evaluated on the same test window of the same table version. The challenger
must pass the absolute bounds (`promote.min` / `promote.max`, and for a binary classifier 0.1.0's
`min_auc_roc` / `min_auc_pr`) and, when there is a champion, be no worse than it by more than
`promote.max_regression` on `promote.metric`, in the metric's direction (a lower RMSE is
better). The decision and its reasons are logged to MLflow and written to the challenger
version's description.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import SparkSession

from spark_ml.config import PromoteSettings, Settings, regression_by
from spark_ml.errors import EXIT_OK, EXIT_REJECTED, ModelRegistryError
from spark_ml.ml.evaluation import Metrics, evaluate, positive_probability
from spark_ml.ml.multiclass import MulticlassMetrics, evaluate_multiclass
from spark_ml.ml.pipeline import LABEL
from spark_ml.ml.regression import RegressionMetrics, evaluate_regression
from spark_ml.ml.training import check_columns, in_window, with_label
from spark_ml.tasks.base import TaskContext, TaskResult


@dataclass
class Decision:
    promoted: bool
    reasons: list[str] = field(default_factory=list)

    def text(self) -> str:
        verdict = "promoted to champion" if self.promoted else "rejected"
        return f"{verdict}: " + "; ".join(self.reasons)


TaskMetrics = Metrics | RegressionMetrics | MulticlassMetrics


def decide(
    challenger: TaskMetrics, champion: TaskMetrics | None, gate: PromoteSettings, task: str = "binary"
) -> Decision:
    """The gate: absolute bounds first, then no regression beyond the tolerance (in the metric's
    direction)."""
    reasons = []
    ok = True
    for name, side, bound in gate.bounds(task):
        value = challenger.metric(name)
        passed = value >= bound if side == "min" else value <= bound
        ok = ok and passed
        sign = (">=" if passed else "<") if side == "min" else ("<=" if passed else ">")
        reasons.append(f"{name} {value:.4f} {sign} {'minimum' if side == 'min' else 'maximum'} {bound:.4f}")
    if champion is None:
        reasons.append("no champion yet")
    else:
        mine, theirs = challenger.metric(gate.metric), champion.metric(gate.metric)
        passed = regression_by(gate.metric, mine, theirs) <= gate.max_regression
        ok = ok and passed
        reasons.append(
            f"{gate.metric} {mine:.4f} vs champion {theirs:.4f} "
            f"({'within' if passed else 'worse than'} tolerance {gate.max_regression:.4f})"
        )
    return Decision(ok, reasons)


def run(spark: SparkSession, cfg: Settings, *, run_id: str | None = None, fail_on_reject: bool = False) -> TaskResult:
    from spark_ml.io import registry

    with TaskContext("promote", spark, cfg, run_id) as ctx:
        tc = cfg.require_train()
        challenger_alias, champion_alias = cfg.model.challenger_alias, cfg.model.champion_alias
        challenger = registry.version_by_alias(cfg, challenger_alias)
        if challenger is None:
            raise ModelRegistryError(
                f"model {cfg.registered_model_name} has no '{challenger_alias}' version: run the train task first"
            )
        champion = registry.version_by_alias(cfg, champion_alias)
        if champion is not None and champion.version == challenger.version:
            ctx.note(f"version {challenger.version} is already '{champion_alias}': nothing to decide")
            return ctx.result({"promoted": False, "champion_version": str(champion.version), "reasons": []})
        table = ctx.lakehouse.read(tc.table)
        version = next(r.version for r in ctx.lakehouse.reads if r.table == tc.table)
        check_columns(table, tc, tc.table)
        window = table.where(in_window(tc.time_column, tc.split.test))
        # a multiclass label is indexed by each version's own classes (in _evaluate)
        test = (window if tc.task == "multiclass" else with_label(window, tc)).persist()
        try:
            challenger_metrics = _evaluate(cfg, challenger_alias, test)
            champion_metrics = _evaluate(cfg, champion_alias, test) if champion is not None else None
        finally:
            test.unpersist()
        decision = decide(challenger_metrics, champion_metrics, cfg.promote, tc.task)
        if decision.promoted:
            registry.set_alias(cfg, champion_alias, challenger.version)
        description = (
            f"{decision.text()} (test window {tc.split.test.start}..{tc.split.test.end} of {tc.table} v{version}, "
            f"promote run {ctx.run_id})"
        )
        registry.describe_version(cfg, challenger.version, description)
        _log_decision(
            ctx,
            Compared(
                challenger.version,
                champion.version if champion else None,
                challenger_metrics,
                champion_metrics,
                decision,
                version,
            ),
        )
        ctx.note(f"version {challenger.version} {decision.text()}")
        exit_code = EXIT_REJECTED if (fail_on_reject and not decision.promoted) else EXIT_OK
        new_champion = challenger.version if decision.promoted else (champion.version if champion else None)
        metrics: dict[str, Any] = {
            "promoted": decision.promoted,
            "challenger_version": str(challenger.version),
            "champion_version": None if new_champion is None else str(new_champion),
            f"challenger_{cfg.promote.metric}": challenger_metrics.metric(cfg.promote.metric),
            f"champion_{cfg.promote.metric}": champion_metrics.metric(cfg.promote.metric) if champion_metrics else None,
            "reasons": decision.reasons,
        }
        if tc.task == "binary":
            metrics["challenger_auc_roc"] = challenger_metrics.metric("auc_roc")
            metrics["champion_auc_roc"] = champion_metrics.metric("auc_roc") if champion_metrics else None
        return ctx.result(metrics, exit_code=exit_code)


@dataclass(frozen=True)
class Compared:
    """The two versions compared on the same test rows, and the decision."""

    challenger: str
    champion: str | None
    challenger_metrics: TaskMetrics
    champion_metrics: TaskMetrics | None
    decision: Decision
    table_version: int


def _evaluate(cfg: Settings, alias: str, test: Any) -> TaskMetrics:
    """The version's metrics on the test rows (a multiclass label indexed by its own classes)."""
    from spark_ml.io import models

    tc = cfg.require_train()
    with models.loaded(cfg, alias) as (model, version):
        classes = models.classes_of(cfg, version)
        scored = model.transform(with_label(test, tc, classes) if classes else test)
        if tc.task == "regression":
            metrics, _ = evaluate_regression(scored, LABEL, "prediction", plot_bins=1)
            return metrics
        if tc.task == "multiclass":
            return evaluate_multiclass(scored, classes)
        return evaluate(scored.select(LABEL, positive_probability().alias("__p1")), LABEL, "__p1")


def _log_decision(ctx: TaskContext, compared: Compared) -> None:
    import mlflow

    from spark_ml.io import tracking

    tags = {
        "spark_ml.task": "promote",
        "spark_ml.run_id": ctx.run_id,
        "spark_ml.decision": "promoted" if compared.decision.promoted else "rejected",
        "spark_ml.challenger_version": compared.challenger,
        "spark_ml.champion_version": compared.champion or "none",
        "spark_ml.table_version": str(compared.table_version),
    }
    with tracking.active_run(ctx.settings, f"promote-v{compared.challenger}", tags):
        mlflow.log_metrics(compared.challenger_metrics.as_dict("challenger_test_"))
        if compared.champion_metrics is not None:
            mlflow.log_metrics(compared.champion_metrics.as_dict("champion_test_"))
        mlflow.log_text(compared.decision.text() + "\n", "decision.txt")
