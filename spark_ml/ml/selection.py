"""Model selection on the validation window: candidates, grid points, early stopping, the rule.

Every candidate of `train.candidates` (or the single `train.estimator`), at every point of its
grid, is fitted on the training window and scored on the validation window with Spark's evaluator
on all rows. The winner is the best by `train.select_by` (a metric of the task: AUC-ROC or AUC-PR
for binary, RMSE, MAE or R² for regression; lower RMSE and MAE are better). Candidates within
`train.tie_tolerance` (default 1e-4) of the best are tied, and the simplest of the tied wins: a
linear model before a tree ensemble, then fewer trees, then shallower trees, then the earlier one
in the configuration. Fit time does not decide: it changes from run to run, and a reproduction
must pick the same winner. When no candidate can be scored (a validation window with one class),
the simplest wins by the same order.

The preprocessing stages (imputer, indexers, encoder, assembler) are fitted once, on the training
window only, and shared by every candidate. An xgboost candidate with `early_stopping_rounds`
trains on the training rows plus the validation rows marked by an indicator column
(xgboost.spark's `validationIndicatorCol`: marked rows form its evaluation set and are never
trained on), stops once the validation metric (xgboost's `auc`, `aucpr`, `rmse` or `mae`, after `select_by`) has
not improved for that many rounds, at most `max_trees` rounds, and predicts with the best round's
trees (the booster's `best_iteration`); that number of trees is recorded.

With `train.refit: train_and_validation` the winner is fitted again, preprocessing included, on
both windows with the chosen params and, for an early-stopped xgboost, the chosen number of trees
and no early stopping.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pyspark.ml import Estimator, Pipeline, PipelineModel
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.param import Param
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.utils import is_remote

from spark_ml.config import LOWER_IS_BETTER, METRIC_LABELS, Candidate, TrainSettings
from spark_ml.config.training import SINGLE_NODE
from spark_ml.errors import SparkMLError
from spark_ml.ml import driver
from spark_ml.ml.driver import DriverModel
from spark_ml.ml.evaluation import positive_probability
from spark_ml.ml.multiclass import evaluate_multiclass
from spark_ml.ml.pipeline import (
    FEATURES,
    LABEL,
    WEIGHT,
    build_estimator,
    configure_estimator,
    make_estimator,
    param_grid,
    preprocessing,
)
from spark_ml.ml.regression import evaluate_regression

log = logging.getLogger(__name__)

INDICATOR = "__is_validation"
XGBOOST_METRIC = {
    "auc_roc": "auc",
    "auc_pr": "aucpr",
    "rmse": "rmse",
    "mae": "mae",
    "r2": "rmse",
    "log_loss": "mlogloss",
    "accuracy": "merror",
    "macro_f1": "mlogloss",
}
TREE_COUNT = {"gbt": "maxIter", "random_forest": "numTrees", "xgboost": "n_estimators"}
TREE_DEPTH = {"gbt": "maxDepth", "random_forest": "maxDepth", "xgboost": "max_depth"}
XGBOOST_DEFAULT_DEPTH = 6


@dataclass(frozen=True)
class Scored:
    """One fitted candidate at one grid point, scored on validation."""

    name: str
    estimator: str
    key: str
    params: dict[str, Any]
    metrics: dict[str, float]
    fit_seconds: float
    trees: int | None
    depth: int | None
    early_stopping: bool
    order: int

    def metric(self, name: str) -> float:
        return float(self.metrics.get(name, math.nan))

    @property
    def auc_roc(self) -> float:
        return self.metric("auc_roc")

    @property
    def auc_pr(self) -> float:
        return self.metric("auc_pr")

    def simplicity(self) -> tuple[int, int, int, int]:
        """Smaller is simpler: linear first, then fewer trees, shallower trees, configuration order."""
        return (0 if self.trees is None else 1, self.trees or 0, self.depth or 0, self.order)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "estimator": self.estimator,
            "params": dict(self.params),
            **{f"validation_{k}": v for k, v in self.metrics.items()},
            "trees": self.trees,
            "early_stopping": self.early_stopping,
            "fit_seconds": round(self.fit_seconds, 1),
        }


@dataclass(frozen=True)
class Selection:
    """`model`: the model to test and log (preprocessing + winner; refitted on train + validation
    when asked); `selected`: the winner as fitted on the training window (the same as `model`
    without refit), whose validation scores are out of sample."""

    model: PipelineModel | DriverModel
    selected: PipelineModel | DriverModel
    winner: Scored
    scored: tuple[Scored, ...]
    select_by: str
    refit: bool
    task: str = "binary"
    notes: list[str] = field(default_factory=list)

    @property
    def params(self) -> dict[str, Any]:
        """The winner's params as set, with the number of trees early stopping chose."""
        if self.winner.early_stopping and self.winner.trees is not None:
            return {**self.winner.params, "n_estimators": self.winner.trees}
        return dict(self.winner.params)

    @property
    def validation_metric(self) -> float:
        return self.winner.metric(self.select_by)


def choose(scored: Sequence[Scored], select_by: str, tolerance: float) -> Scored:
    """The best by `select_by`; within `tolerance` of the best, the simplest (see the module)."""
    if not scored:
        raise SparkMLError("no candidate was fitted: train.candidates is empty")
    valid = [s for s in scored if not math.isnan(s.metric(select_by))]
    if not valid:
        return min(scored, key=Scored.simplicity)
    sign = -1.0 if select_by in LOWER_IS_BETTER else 1.0  # compare as "higher is better"
    best = max(sign * s.metric(select_by) for s in valid)
    return min((s for s in valid if sign * s.metric(select_by) >= best - tolerance), key=Scored.simplicity)


def select_model(train: DataFrame, validation: DataFrame, cfg: TrainSettings, classes: Sequence[str] = ()) -> Selection:
    """Fit every candidate and grid point on `train`, score each on `validation`, keep the winner
    (`classes`: a multiclass label's class list)."""
    # the Spark preprocessing is fitted only for Spark candidates (single-node ones encode on the driver)
    spark_candidates = any(c.estimator not in SINGLE_NODE for _, c in cfg.choices)
    prep = Pipeline(stages=preprocessing(cfg)).fit(train) if spark_candidates else None
    columns = [FEATURES, LABEL, *([WEIGHT] if cfg.class_weighting else [])]
    train_x = prep.transform(train).select(*columns).persist() if prep else train
    val_x = prep.transform(validation).select(*columns).persist() if prep else validation
    try:
        # a binary metric needs both classes on validation; a regression metric a known label
        scorable = (
            validation.select(F.countDistinct(LABEL)).first()[0] == 2  # type: ignore[index]
            if cfg.task == "binary"
            else not validation.where(F.col(LABEL).isNotNull()).isEmpty()
        )
        fitted: list[tuple[Scored, Any]] = []
        driver = _DriverData(train, validation, cfg, classes)
        for key, candidate in cfg.choices:
            if candidate.estimator in SINGLE_NODE:
                fitted += _search_driver(key, candidate, cfg, driver, validation, scorable, len(fitted), classes)
            else:
                fitted += _search(key, candidate, cfg, train_x, val_x, scorable, len(fitted), classes)
    finally:
        if prep is not None:
            train_x.unpersist()
            val_x.unpersist()
    scored = tuple(s for s, _ in fitted)
    winner = choose(scored, cfg.select_by, cfg.tie_tolerance)
    for s in scored:
        log.info("candidate %s: %s%s", s.name, _line(s), "  <- winner" if s is winner else "")
    best = next(m for s, m in fitted if s is winner)
    selected = best if isinstance(best, DriverModel) or prep is None else PipelineModel([*prep.stages, best])
    model = selected
    if cfg.refit == "train_and_validation":
        both = train.unionByName(validation)
        model = (
            _refit_driver(winner, cfg, both, classes) if isinstance(best, DriverModel) else _refit(winner, cfg, both)
        )
    return Selection(model, selected, winner, scored, cfg.select_by, cfg.refit is not None, cfg.task, driver.notes)


class _DriverData:
    """The training and validation windows on the driver, collected once, when a single-node
    candidate first needs them."""

    def __init__(self, train: DataFrame, validation: DataFrame, cfg: TrainSettings, classes: Sequence[str]) -> None:
        self.frames = {"training window": train, "validation window": validation}
        self.cfg = cfg
        self.n_classes = len(classes) if cfg.task == "multiclass" else (2 if cfg.task == "binary" else 0)
        self.collected: dict[str, Any] = {}
        self.notes: list[str] = []

    def get(self, what: str) -> Any:
        if what not in self.collected:
            cfg = self.cfg
            frame = self.frames[what]
            numeric = [F.col(c).cast("double").alias(c) for c in cfg.numeric]
            categorical = [F.col(c).cast("string").alias(c) for c in cfg.categorical]
            rows, note = driver.collect(
                frame.select(*numeric, *categorical, LABEL),
                [*cfg.numeric, *cfg.categorical, LABEL],
                cfg.max_driver_rows,
                cfg.driver_sample,
                cfg.seed,
                what,
            )
            self.collected[what] = rows
            if note:
                self.notes.append(note)
        return self.collected[what]


def _points(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of a single-node candidate's grid (one empty point without a grid)."""
    names = list(grid)
    for name in names:
        if not grid[name]:
            raise SparkMLError(f"grid {name!r} needs at least one value")
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*(grid[n] for n in names))]


def _search_driver(
    key: str,
    candidate: Candidate,
    cfg: TrainSettings,
    data: _DriverData,
    validation: DataFrame,
    scorable: bool,
    order: int,
    classes: Sequence[str],
) -> list[tuple[Scored, Any]]:
    """A single-node candidate at every grid point: fitted on the driver, scored in Spark."""
    train_rows = data.get("training window")
    early = candidate.early_stopping_rounds is not None
    val_rows = data.get("validation window") if early else None
    points = _points(candidate.grid)
    out: list[tuple[Scored, Any]] = []
    for i, point in enumerate(points):
        params = {**candidate.params, **point}
        start = time.perf_counter()
        model = driver.fit(
            candidate.estimator,
            cfg.task,
            params,
            train=train_rows,
            validation=val_rows,
            numeric=cfg.numeric,
            categorical=cfg.categorical,
            n_classes=data.n_classes,
            key=key,
            seed=cfg.seed,
            early_stopping_rounds=candidate.early_stopping_rounds,
            max_trees=candidate.tree_cap if early else None,
        )
        seconds = time.perf_counter() - start
        metrics = (
            _validation_metrics(model, validation, cfg, classes) if scorable else dict.fromkeys(cfg.metrics, math.nan)
        )
        name = candidate.label if len(points) == 1 else f"{candidate.label}[{i}]"
        scored = Scored(
            name, candidate.estimator, key, params, metrics, seconds, model.trees, model.depth, early, order
        )
        out.append((scored, model))
        order += 1
    return out


def _refit_driver(winner: Scored, cfg: TrainSettings, both: DataFrame, classes: Sequence[str]) -> DriverModel:
    """A single-node winner fitted again on train + validation with its params and trees."""
    data = _DriverData(both, both, cfg, classes)
    params = dict(winner.params)
    if winner.early_stopping and winner.trees is not None:
        params["max_iter" if winner.estimator == "sklearn_hgb" else "n_estimators"] = winner.trees
    return driver.fit(
        winner.estimator,
        cfg.task,
        params,
        train=data.get("training window"),
        validation=None,
        numeric=cfg.numeric,
        categorical=cfg.categorical,
        n_classes=data.n_classes,
        key=winner.key,
        seed=cfg.seed,
    )


def _line(s: Scored) -> str:
    trees = "" if s.trees is None else f", {s.trees} trees{' (early stopping)' if s.early_stopping else ''}"
    values = ", ".join(f"{METRIC_LABELS[k]} {v:.4f}" for k, v in s.metrics.items())
    return f"{s.params or '(defaults)'}: validation {values}{trees}, fit {s.fit_seconds:.1f} s"


def _search(
    key: str,
    candidate: Candidate,
    cfg: TrainSettings,
    train_x: DataFrame,
    val_x: DataFrame,
    scorable: bool,
    order: int,
    classes: Sequence[str] = (),
) -> list[tuple[Scored, Any]]:
    """The candidate at every grid point: fitted, timed and scored on validation."""
    estimator = build_estimator(candidate, cfg, key)
    points = param_grid(estimator, candidate.grid, key)
    data = train_x
    if candidate.early_stopping_rounds is not None:
        _early_stopping(estimator, candidate, cfg)
        marked = F.lit(True).alias(INDICATOR)
        data = train_x.select("*", (~marked).alias(INDICATOR)).unionByName(val_x.select("*", marked))

    def fit_one(point: dict[Param[Any], Any]) -> tuple[Any, float]:
        start = time.perf_counter()
        model = estimator.fit(data, point) if point else estimator.fit(data)
        return model, time.perf_counter() - start

    target = fit_one
    if is_remote():
        # Under Spark Connect the active session is per thread: hand it to the pool's threads.
        from pyspark.util import inheritable_thread_target

        target = inheritable_thread_target(train_x.sparkSession)(fit_one)
    # xgboost trains in a barrier stage that takes every core: its grid points run one at a time.
    workers = 1 if candidate.estimator == "xgboost" else min(cfg.parallelism, len(points))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(target, points))
    out = []
    for i, (point, (model, seconds)) in enumerate(zip(points, results, strict=True)):
        metrics = _validation_metrics(model, val_x, cfg, classes) if scorable else dict.fromkeys(cfg.metrics, math.nan)
        trees, depth = _size(candidate, estimator.copy(point), model)
        params = {**candidate.params, **{p.name: v for p, v in point.items()}}
        name = candidate.label if len(points) == 1 else f"{candidate.label}[{i}]"
        early = candidate.early_stopping_rounds is not None
        scored = Scored(name, candidate.estimator, key, params, metrics, seconds, trees, depth, early, order)
        out.append((scored, model))
        order += 1
    return out


def _early_stopping(estimator: Estimator[Any], candidate: Candidate, cfg: TrainSettings) -> None:
    settings: dict[str, Any] = {
        "n_estimators": candidate.tree_cap,
        "early_stopping_rounds": candidate.early_stopping_rounds,
        "validationIndicatorCol": INDICATOR,
    }
    if "eval_metric" not in candidate.params:
        settings["eval_metric"] = XGBOOST_METRIC[cfg.select_by]
    for name, value in settings.items():
        estimator.set(estimator.getParam(name), value)


def _validation_metrics(model: Any, val_x: DataFrame, cfg: TrainSettings, classes: Sequence[str]) -> dict[str, float]:
    """The task's metrics of a fitted candidate on the validation window."""
    if cfg.task == "regression":
        metrics, _ = evaluate_regression(model.transform(val_x), LABEL, "prediction", plot_bins=1)
        return {name: metrics.metric(name) for name in cfg.metrics}
    if cfg.task == "multiclass":
        found = evaluate_multiclass(model.transform(val_x), classes)
        return {name: found.metric(name) for name in cfg.metrics}
    auc_roc, auc_pr = _validation_aucs(model, val_x)
    return {"auc_roc": auc_roc, "auc_pr": auc_pr}


def _validation_aucs(model: Any, val_x: DataFrame) -> tuple[float, float]:
    scored = model.transform(val_x).select(positive_probability().alias("__p1"), LABEL).persist()
    try:
        evaluator = BinaryClassificationEvaluator(rawPredictionCol="__p1", labelCol=LABEL)
        auc_roc = evaluator.setMetricName("areaUnderROC").evaluate(scored)
        auc_pr = evaluator.setMetricName("areaUnderPR").evaluate(scored)
    finally:
        scored.unpersist()
    return float(auc_roc), float(auc_pr)


def _size(candidate: Candidate, estimator: Estimator[Any], model: Any) -> tuple[int | None, int | None]:
    """(trees, depth) of a tree ensemble, the trees early stopping chose included; (None, None)
    for a linear model."""
    name = candidate.estimator
    if name not in TREE_COUNT:
        return None, None
    depth = estimator.getOrDefault(TREE_DEPTH[name])
    if name == "xgboost" and depth is None:
        depth = XGBOOST_DEFAULT_DEPTH
    trees = int(estimator.getOrDefault(TREE_COUNT[name]))
    if candidate.early_stopping_rounds is not None:
        booster = model.get_booster()
        try:
            trees = int(booster.best_iteration) + 1
        except AttributeError:  # no round improved on the first: xgboost keeps no best_iteration
            trees = int(booster.num_boosted_rounds())
    return trees, None if depth is None else int(depth)


def _refit(winner: Scored, cfg: TrainSettings, both: DataFrame) -> PipelineModel:
    """The winner, preprocessing included, fitted on train + validation with its params (and the
    trees early stopping chose, without early stopping)."""
    params = dict(winner.params)
    if winner.early_stopping and winner.trees is not None:
        params["n_estimators"] = winner.trees
    estimator = configure_estimator(make_estimator(winner.estimator, winner.key, cfg.task), params, cfg, winner.key)
    start = time.perf_counter()
    model = Pipeline(stages=[*preprocessing(cfg), estimator]).fit(both)
    log.info("refit %s on train + validation with %s in %.1f s", winner.name, params, time.perf_counter() - start)
    return model
