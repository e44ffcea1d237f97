"""Task `train`: fit, evaluate, log and register a challenger model, all from config.

Reads the feature table at a pinned Delta version (the latest when the task starts), splits it on
the configured time windows, fits every candidate (and grid point) on the training window and picks
the winner on the validation window (spark_ml.ml.selection), evaluates the winner on validation and
test against a baseline (all with Spark on the full sets): the training window's positive rate for
a binary classifier, its mean label for a regression. Rows whose label is null are counted and left
out. The run logs one MLflow run with one
child run per candidate, and registers a new model version with the `challenger` alias.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_ml.config import METRIC_LABELS, Settings, TrainSettings, flatten
from spark_ml.ml import plots
from spark_ml.ml.driver import DriverModel
from spark_ml.ml.evaluation import Metrics, constant_score_metrics, evaluate, positive_probability
from spark_ml.ml.multiclass import MulticlassMetrics, classes_tag, evaluate_multiclass, prior_metrics
from spark_ml.ml.pipeline import LABEL
from spark_ml.ml.regression import RegressionMetrics, evaluate_regression
from spark_ml.ml.selection import Scored, Selection, select_model
from spark_ml.ml.training import (
    SplitCounts,
    check_columns,
    class_counts,
    find_classes,
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


TaskMetrics = Metrics | RegressionMetrics | MulticlassMetrics


@dataclass(frozen=True)
class Evaluation:
    """The model and the baseline on validation and test (a classifier's threshold from
    validation). With a refit, validation is the winner as fitted on the training window (out of
    sample) and test the refitted model, with the threshold chosen on validation."""

    validation: TaskMetrics
    test: TaskMetrics
    baseline_validation: TaskMetrics
    baseline_test: TaskMetrics

    @property
    def threshold(self) -> float | None:
        """A binary classifier's decision threshold (chosen on validation)."""
        return self.validation.threshold if isinstance(self.validation, Metrics) else None

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
    unlabelled_rows: int = 0
    classes: tuple[str, ...] = ()


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
        for note in selection.notes:
            ctx.note(note)
        ctx.note(
            f"{selection.winner.name}{' (refit on train + validation)' if selection.refit else ''}: {test_line(ev)}"
        )
        if trained.unlabelled_rows:
            ctx.note(f"{trained.unlabelled_rows:,} rows with a null {tc.label} left out of training and evaluation")
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
            "unlabelled_rows": trained.unlabelled_rows,
            "task": tc.task,
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
    classes = find_classes(table, tc) if tc.task == "multiclass" else ()
    counts = split_counts(model_frame(table, tc, classes), tc)
    data = model_frame(table, tc, classes).where(F.col(LABEL).isNotNull())
    train = data.where(in_window(tc.time_column, tc.split.train))
    validation = data.where(in_window(tc.time_column, tc.split.validation))
    if tc.class_weighting:  # the training window's weights, also for early stopping and a refit
        train = with_class_weights(train, counts["train"])
        validation = with_class_weights(validation, counts["train"])
    frames = [train.persist(), validation.persist(), data.where(in_window(tc.time_column, tc.split.test)).persist()]
    train, validation, test = frames
    try:
        selection = select_model(train, validation, tc, classes)
        if tc.task == "multiclass":
            evaluation = _evaluate_multiclass(selection, validation, test, class_counts(data, tc, classes), classes)
        else:
            evaluation = _evaluate(selection, validation, test, counts, tc.calibration_bins)
        kind, values = importances(
            selection.model,
            test.limit(1) if isinstance(selection.model, DriverModel) else selection.model.transform(test.limit(1)),
        )
    finally:
        for frame in frames:
            frame.unpersist()
    example = data.where(in_window(tc.time_column, tc.split.test)).select(*tc.features).limit(5)
    unlabelled = sum(c.unlabelled for c in counts.values())
    train_rows = counts["train"].rows
    return Trained(
        tc.table, version, table, selection, evaluation, kind, values, example, train_rows, unlabelled, classes
    )


def test_line(ev: Evaluation) -> str:
    """The test window's headline metrics against the baseline's."""
    if not isinstance(ev.test, Metrics):
        base = ev.baseline_test
        names = (
            ("rmse", "mae", "r2") if isinstance(ev.test, RegressionMetrics) else ("log_loss", "macro_f1", "accuracy")
        )
        return ", ".join(
            f"test {METRIC_LABELS[m]} {ev.test.metric(m):.4f} (baseline {base.metric(m):.4f})" for m in names
        )
    assert isinstance(ev.baseline_test, Metrics)
    assert isinstance(ev.validation, Metrics)
    return (
        f"test AUC-ROC {ev.test.auc_roc:.4f} (baseline {ev.baseline_test.auc_roc:.4f}), "
        f"AUC-PR {ev.test.auc_pr:.4f} (baseline {ev.baseline_test.auc_pr:.4f}), "
        f"F1 {ev.test.f1:.3f} at threshold {ev.validation.threshold:.2f}"
    )


def _evaluate(
    selection: Selection, validation: DataFrame, test: DataFrame, counts: dict[str, SplitCounts], bins: int
) -> Evaluation:
    if selection.task == "regression":
        return _evaluate_regression(selection, validation, test, counts["train"].mean_label)
    return _evaluate_binary(selection, validation, test, counts, bins)


def _evaluate_multiclass(
    selection: Selection,
    validation: DataFrame,
    test: DataFrame,
    counts: dict[str, list[int]],
    classes: tuple[str, ...],
) -> Evaluation:
    """The model on both windows, and the training window's class prior as the baseline."""
    val = evaluate_multiclass(selection.selected.transform(validation), classes)
    test_metrics = evaluate_multiclass(selection.model.transform(test), classes)
    prior = [c / sum(counts["train"]) for c in counts["train"]]
    base_val = prior_metrics(counts["validation"], prior, classes)
    base_test = prior_metrics(counts["test"], prior, classes)
    return Evaluation(val, test_metrics, base_val, base_test)


def _evaluate_regression(selection: Selection, validation: DataFrame, test: DataFrame, mean: float) -> Evaluation:
    """The model's prediction and the training mean on both windows, each in one pass."""
    val, base_val = evaluate_regression(selection.selected.transform(validation), LABEL, "prediction", mean)
    test_metrics, base_test = evaluate_regression(selection.model.transform(test), LABEL, "prediction", mean)
    assert base_val is not None
    assert base_test is not None
    return Evaluation(val, test_metrics, base_val, base_test)


def _evaluate_binary(
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
    label = METRIC_LABELS[selection.select_by]
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
        chosen: dict[str, Any] = {"winner.name": selection.winner.name, "winner.trees": selection.winner.trees}
        if trained.classes:
            chosen["classes"] = ", ".join(trained.classes)
        best = {f"best.{k}": v for k, v in selection.params.items()}
        tracking.log_params({**flatten(config), **best, **chosen})
        mlflow.log_metrics(trained.evaluation.metrics())
        tracking.log_table_input(trained.data, cfg, tc.table, trained.table_version, context="training")
        mlflow.log_dict(config, "evaluation/config.yml")
        _log_plots(trained)
        if isinstance(selection.model, DriverModel):
            model_uri = models.log_driver_model(
                selection.model, _signature(tc), _requirements(selection.winner.estimator)
            )
        else:
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
    metrics = {**{f"validation_{k}": v for k, v in s.metrics.items()}, "fit_seconds": s.fit_seconds}
    return metrics | ({"trees": float(s.trees)} if s.trees is not None else {})


def _log_plots(trained: Trained) -> None:
    import mlflow

    ev = trained.evaluation
    if isinstance(ev.test, RegressionMetrics):
        figures = {
            "predicted_vs_actual": plots.predicted_vs_actual_plot(ev.test),
            "residuals": plots.residual_plot(ev.test),
        }
    elif isinstance(ev.test, MulticlassMetrics):
        figures = {"confusion_matrix": plots.confusion_plot(ev.test)}
    else:
        assert isinstance(ev.baseline_test, Metrics)
        assert isinstance(ev.validation, Metrics)
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
        "spark_ml.task": ctx.settings.require_train().task,
        "spark_ml.table_version": str(trained.table_version),
    }
    if trained.classes:
        tags["spark_ml.classes"] = classes_tag(trained.classes)
    threshold = trained.evaluation.threshold
    if threshold is not None:
        tags["spark_ml.threshold"] = f"{threshold:.4f}"
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
    if estimator in ("sklearn_hgb", "lightgbm"):
        for dist in ("scikit-learn", "pandas", "pyarrow", *(["lightgbm"] if estimator == "lightgbm" else [])):
            installed = dist_version(dist)
            if installed:
                reqs.append(f"{dist}=={installed}")
    if estimator == "xgboost":
        for dist in ("xgboost", "xgboost-cpu"):
            installed = dist_version(dist)
            if installed:
                reqs.append(f"{dist}=={installed}")
                break
    return reqs
