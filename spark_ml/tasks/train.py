"""Task `train`: fit, evaluate, log and register a challenger model, all from config.

Reads the feature table at a pinned Delta version (the latest when the task starts), splits it on
the configured time windows, fits every candidate (and grid point) on the training window and picks
the winner on the validation window (spark_ml.ml.selection), evaluates the winner on validation and
test against a prior-rate baseline (all with Spark on the full sets), logs one MLflow run with one
child run per candidate, and registers a new model version with the `challenger` alias.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from spark_ml.config import Settings, TrainSettings, flatten
from spark_ml.ml import plots
from spark_ml.ml.evaluation import Metrics, constant_score_metrics, evaluate, positive_probability
from spark_ml.ml.pipeline import LABEL
from spark_ml.ml.selection import Scored, Selection, select_model
from spark_ml.ml.training import (
    SplitCounts,
    check_columns,
    importances,
    in_window,
    model_frame,
    split_counts,
    with_class_weights,
)
from spark_ml.tasks.base import TaskContext, TaskResult
from spark_ml.versions import __version__

# The evaluation frames' column holding the model's probability of class 1.
POSITIVE_PROBABILITY_COLUMN = "__p1"


@dataclass(frozen=True)
class Evaluation:
    """The model and the prior-rate baseline on validation and test (threshold from validation).
    With a refit, validation is the winner as fitted on the training window (out of sample) and
    test the refitted model, with the threshold chosen on validation."""

    validation: Metrics
    test: Metrics
    baseline_validation: Metrics
    baseline_test: Metrics

    def metrics(self) -> dict[str, float]:
        return {
            **self.validation.as_dict("validation_"),
            **self.test.as_dict("test_"),
            **self.baseline_validation.as_dict("baseline_validation_"),
            **self.baseline_test.as_dict("baseline_test_"),
        }


@dataclass(frozen=True)
class Trained:
    """Everything a training produced that is logged: what it read, the model and its evaluation."""

    table: str
    table_version: int
    data: DataFrame
    selection: Selection
    evaluation: Evaluation
    importance_kind: str
    importances: list[tuple[str, float]]
    example: DataFrame
    train_rows: int


@dataclass(frozen=True)
class Logged:
    mlflow_run_id: str
    model_uri: str
    version: str | None


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
    with TaskContext("train", spark, cfg, run_id) as ctx:
        ctx.tags.update(tags or {})
        tc = cfg.require_train()
        table = ctx.lakehouse.read(tc.table, table_version)
        version = next(r.version for r in ctx.lakehouse.reads if r.table == tc.table)
        trained = fit_and_evaluate(table, tc, version)
        logged = log_training(ctx, tc, trained)
        registered = register_version(ctx, logged, trained) if register else None
        logged = Logged(logged.mlflow_run_id, logged.model_uri, registered)
        ctx.mlflow_run_id = logged.mlflow_run_id
        if registered is not None:
            ctx.model = (cfg.registered_model_name, registered)
        ev, selection = trained.evaluation, trained.selection
        ctx.note(candidates_line(selection))
        ctx.note(
            f"{selection.winner.name}{' (refit on train + validation)' if selection.refit else ''}: "
            f"test AUC-ROC {ev.test.auc_roc:.4f} (baseline {ev.baseline_test.auc_roc:.4f}), "
            f"AUC-PR {ev.test.auc_pr:.4f} (baseline {ev.baseline_test.auc_pr:.4f}), "
            f"F1 {ev.test.f1:.3f} at threshold {ev.validation.threshold:.2f}"
        )
        what = (
            f"registered {cfg.registered_model_name} version {registered} as '{cfg.model.challenger_alias}'"
            if registered is not None
            else "model logged, not registered"
        )
        ctx.note(f"MLflow run {logged.mlflow_run_id}: {what} (trained on {tc.table} version {version})")
        metrics: dict[str, Any] = {
            **ev.validation.as_dict("validation_"),
            **ev.test.as_dict("test_"),
            **ev.baseline_test.as_dict("baseline_test_"),
            "train_rows": trained.train_rows,
            "table_version": version,
            "mlflow_run_id": logged.mlflow_run_id,
            "model": cfg.registered_model_name,
            "version": registered,
            "model_uri": logged.model_uri,
            "params": selection.params,
            "winner": selection.winner.name,
            "winner_estimator": selection.winner.estimator,
            "winner_trees": selection.winner.trees,
            "select_by": selection.select_by,
            "tie_tolerance": tc.tie_tolerance,
            "refit": selection.refit,
            "candidates": [{**s.as_dict(), "winner": s is selection.winner} for s in selection.scored],
        }
        return ctx.result(metrics)


def fit_and_evaluate(table: DataFrame, tc: TrainSettings, version: int) -> Trained:
    """Split by time, fit the candidates on train, keep the best on validation, evaluate on both."""
    check_columns(table, tc, tc.table)
    data = model_frame(table, tc)
    counts = split_counts(data, tc)
    train = data.where(in_window(tc.time_column, tc.split.train))
    validation = data.where(in_window(tc.time_column, tc.split.validation))
    if tc.class_weighting:  # the training window's weights, also for early stopping and a refit
        train = with_class_weights(train, counts["train"])
        validation = with_class_weights(validation, counts["train"])
    frames = [train.persist(), validation.persist(), data.where(in_window(tc.time_column, tc.split.test)).persist()]
    train, validation, test = frames
    try:
        selection = select_model(train, validation, tc)
        evaluation = _evaluate(selection, validation, test, counts, tc.calibration_bins)
        kind, values = importances(selection.model, selection.model.transform(test.limit(1)))
    finally:
        for frame in frames:
            frame.unpersist()
    example = data.where(in_window(tc.time_column, tc.split.test)).select(*tc.features).limit(5)
    return Trained(tc.table, version, table, selection, evaluation, kind, values, example, counts["train"].rows)


def _evaluate(
    selection: Selection, validation: DataFrame, test: DataFrame, counts: dict[str, SplitCounts], bins: int
) -> Evaluation:
    """The model on both windows (Spark, full sets), and the prior-rate baseline, whose metrics
    follow from each window's counts and the training window's positive rate."""
    prior = counts["train"].positives / counts["train"].rows
    val_scored, test_scored = _score(selection.selected, validation), _score(selection.model, test)
    try:
        val = evaluate(val_scored, LABEL, POSITIVE_PROBABILITY_COLUMN, calibration_bins=bins)
        test_metrics = evaluate(
            test_scored, LABEL, POSITIVE_PROBABILITY_COLUMN, threshold=val.threshold, calibration_bins=bins
        )
    finally:
        val_scored.unpersist()
        test_scored.unpersist()
    v, t = counts["validation"], counts["test"]
    base_val = constant_score_metrics(v.rows, v.positives, prior, calibration_bins=bins)
    base_test = constant_score_metrics(t.rows, t.positives, prior, base_val.threshold, calibration_bins=bins)
    return Evaluation(val, test_metrics, base_val, base_test)


def _score(model: Any, frame: DataFrame) -> DataFrame:
    """Label and model probability of class 1; cached (two columns of one window)."""
    scored: DataFrame = model.transform(frame).select(LABEL, positive_probability().alias(POSITIVE_PROBABILITY_COLUMN))
    return scored.persist()


# -- MLflow ----------------------------------------------------------------------------------------


def candidates_line(selection: Selection) -> str:
    """One line: each candidate's validation metric (and trees), the winner marked."""
    label = "AUC-ROC" if selection.select_by == "auc_roc" else "AUC-PR"
    parts = []
    for s in selection.scored:
        trees = "" if s.trees is None else f" ({s.trees} trees)"
        mark = " <- winner" if s is selection.winner else ""
        parts.append(f"{s.name} {s.metric(selection.select_by):.4f}{trees}{mark}")
    return f"candidates by validation {label}: {', '.join(parts)}"


def log_training(ctx: TaskContext, tc: TrainSettings, trained: Trained) -> Logged:
    """One MLflow run: tags, the resolved config, metrics, the training table as a dataset input,
    the evaluation plots and the model; one child run per candidate (its params, validation
    metrics, fit time and trees)."""
    import mlflow

    from spark_ml.io import models, tracking
    from spark_ml.provenance.code import git_commit
    from spark_ml.versions import versions

    cfg = ctx.settings
    tags = {
        "spark_ml.version": __version__,
        "spark_ml.env": cfg.env,
        "spark_ml.project": cfg.project.name,
        "spark_ml.run_id": ctx.run_id,
        "spark_ml.task": "train",
        "spark_ml.table": tc.table,
        "spark_ml.table_version": str(trained.table_version),
        "spark_ml.estimator": trained.selection.winner.estimator,
        "spark_ml.winner": trained.selection.winner.name,
        "mlflow.source.git.commit": git_commit() or "unknown",
        **{f"spark_ml.{k}_version": str(v) for k, v in versions().items() if v},
        **{k if k.startswith("spark_ml.") else f"spark_ml.{k}": v for k, v in ctx.tags.items()},
    }
    selection = trained.selection
    with tracking.active_run(cfg, f"train-{selection.winner.name}", tags) as run:
        config = cfg.dump(masked=True)
        chosen = {"winner.name": selection.winner.name, "winner.trees": selection.winner.trees}
        best = {f"best.{k}": v for k, v in selection.params.items()}
        tracking.log_params({**flatten(config), **best, **chosen})
        mlflow.log_metrics(trained.evaluation.metrics())
        tracking.log_table_input(trained.data, cfg, tc.table, trained.table_version, context="training")
        mlflow.log_dict(config, "evaluation/config.yml")
        _log_plots(trained)
        model_uri = models.log_spark_model(
            cfg, selection.model, _signature(tc), _requirements(selection.winner.estimator)
        )
        _log_candidates(ctx, tc, selection, run.info.experiment_id)
        return Logged(run.info.run_id, model_uri, None)


def _log_candidates(ctx: TaskContext, tc: TrainSettings, selection: Selection, experiment_id: str) -> None:
    """One child run of the active run per candidate and grid point."""
    from spark_ml.io import tracking

    configured = dict(tc.choices)
    for s in selection.scored:
        candidate = configured[s.key]
        tags = {
            "spark_ml.task": "train-candidate",
            "spark_ml.run_id": ctx.run_id,
            "spark_ml.estimator": s.estimator,
            "spark_ml.winner": str(s is selection.winner).lower(),
        }
        params: dict[str, Any] = {
            "name": s.name,
            "estimator": s.estimator,
            "config_key": s.key,
            **{f"params.{k}": v for k, v in s.params.items()},
        }
        if candidate.early_stopping_rounds is not None:
            params |= {"early_stopping_rounds": candidate.early_stopping_rounds, "max_trees": candidate.tree_cap}
        if s.trees is not None:
            params["trees"] = s.trees
        tracking.log_child_run(experiment_id, f"candidate-{s.name}", tags, params, _child_metrics(s))


def _child_metrics(s: Scored) -> dict[str, float]:
    metrics = {"validation_auc_roc": s.auc_roc, "validation_auc_pr": s.auc_pr, "fit_seconds": s.fit_seconds}
    return metrics | ({"trees": float(s.trees)} if s.trees is not None else {})


def _log_plots(trained: Trained) -> None:
    import mlflow

    ev = trained.evaluation
    curves = {"model": ev.test, "prior-rate baseline": ev.baseline_test}
    figures = {
        "roc": plots.roc_plot(curves),
        "precision_recall": plots.pr_plot(curves),
        "calibration": plots.calibration_plot({"model (test)": ev.test, "model (validation)": ev.validation}),
    }
    if trained.importances:
        figures["importances"] = plots.importance_plot(
            trained.importances, f"{trained.selection.winner.name}: {trained.importance_kind}"
        )
    for name, figure in figures.items():
        mlflow.log_figure(figure, f"evaluation/{name}.png")
        plots.close(figure)


def register_version(ctx: TaskContext, logged: Logged, trained: Trained) -> str:
    """A new version of the registered model, tagged, with the challenger alias on it."""
    from spark_ml.io import registry

    cfg = ctx.settings
    tags = {
        "spark_ml.run_id": ctx.run_id,
        "spark_ml.threshold": f"{trained.evaluation.validation.threshold:.4f}",
        "spark_ml.table_version": str(trained.table_version),
    }
    return registry.register(cfg, logged.model_uri, logged.mlflow_run_id, cfg.model.challenger_alias, tags)


def _signature(tc: TrainSettings) -> Any:
    """Numeric features as optional doubles, categorical as optional strings (features may be
    null; an integer column with a null cannot pass pyfunc schema enforcement), the prediction
    as a double."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    inputs: list[Any] = [ColSpec("double", c, required=False) for c in tc.numeric]
    inputs += [ColSpec("string", c, required=False) for c in tc.categorical]
    return ModelSignature(inputs=Schema(inputs), outputs=Schema([ColSpec("double", "prediction")]))


def _requirements(estimator: str) -> list[str]:
    from spark_ml.versions import dist_version, versions

    found = versions()
    reqs = [f"pyspark=={found['pyspark']}", f"mlflow=={found['mlflow']}"]
    if estimator == "xgboost":
        for dist in ("xgboost", "xgboost-cpu"):
            installed = dist_version(dist)
            if installed:
                reqs.append(f"{dist}=={installed}")
                break
    return reqs
