"""The `train:` section: columns, time split, and the candidate models searched on validation.

The model is chosen among `train.candidates`, a list of estimators, each with its params, an
optional grid and (xgboost only) early stopping on the validation window. The single-estimator
keys `train.estimator` / `train.params` / `train.grid` (the form of 0.1.0's conf folders) are a
one-candidate list. A layer gives one or the other (model_choice.py: how a later layer replaces an
earlier choice).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from spark_ml.config.base import Identifier, Model, TableName

TaskKind = Literal["binary", "multiclass", "regression"]
EstimatorName = Literal[
    "logistic_regression", "linear_regression", "random_forest", "gbt", "xgboost", "sklearn_hgb", "lightgbm"
]
# Trained on the driver from the collected training window, applied in Spark by mapInPandas.
SINGLE_NODE = ("sklearn_hgb", "lightgbm")
MetricName = Literal["auc_roc", "auc_pr", "rmse", "mae", "r2", "log_loss", "macro_f1", "accuracy"]
SelectBy = MetricName
# What each task is selected, gated and monitored by; the first is its default `select_by`.
TASK_METRICS: dict[str, tuple[str, ...]] = {
    "binary": ("auc_roc", "auc_pr"),
    "regression": ("rmse", "mae", "r2"),
    "multiclass": ("log_loss", "macro_f1", "accuracy"),
}
LOWER_IS_BETTER = frozenset({"rmse", "mae", "log_loss"})
METRIC_LABELS = {
    "auc_roc": "AUC-ROC",
    "auc_pr": "AUC-PR",
    "rmse": "RMSE",
    "mae": "MAE",
    "r2": "R²",
    "log_loss": "log loss",
    "macro_f1": "macro F1",
    "accuracy": "accuracy",
}
# The estimators each task has (Spark has no multiclass GBT: GBTClassifier is binary only).
TASK_ESTIMATORS: dict[str, tuple[str, ...]] = {
    "binary": ("logistic_regression", "random_forest", "gbt", "xgboost", *SINGLE_NODE),
    "multiclass": ("logistic_regression", "random_forest", "xgboost", *SINGLE_NODE),
    "regression": ("linear_regression", "random_forest", "gbt", "xgboost", *SINGLE_NODE),
}
# The candidates when a conf gives neither `train.candidates` nor `train.estimator` (binary keeps
# 0.1.0's single logistic regression).
DEFAULT_CANDIDATES: dict[str, tuple[str, ...]] = {
    "binary": ("logistic_regression",),
    "multiclass": ("logistic_regression", "random_forest"),
    "regression": ("linear_regression", "random_forest"),
}


def better(metric: str, value: float, than: float) -> bool:
    """Whether `value` is strictly better than `than` on `metric` (its direction)."""
    return value < than if metric in LOWER_IS_BETTER else value > than


def regression_by(metric: str, value: float, reference: float) -> float:
    """How much worse `value` is than `reference` on `metric` (negative when better)."""
    return value - reference if metric in LOWER_IS_BETTER else reference - value


# The keys of the single-estimator form; `train.candidates` replaces all three.
SINGLE_MODEL_KEYS = ("estimator", "params", "grid")
DEFAULT_MAX_TREES = 500
# Set by spark_ml when early stopping: a candidate's params must not set them.
EARLY_STOPPING_OWNED = ("n_estimators", "early_stopping_rounds", "validation_indicator_col")
SINGLE_NODE_OWNED = ("max_iter", "early_stopping", "n_iter_no_change")


class DateWindow(Model):
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> DateWindow:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class SplitSettings(Model):
    train: DateWindow
    validation: DateWindow
    test: DateWindow

    @model_validator(mode="after")
    def _in_order(self) -> SplitSettings:
        if not (self.train.end < self.validation.start and self.validation.end < self.test.start):
            raise ValueError("windows must be in time order without overlap: train < validation < test")
        return self


class Candidate(Model):
    """One estimator to try. Every point of its `grid` (one point when empty) is fitted on the
    training window with `params` plus the point, and scored on the validation window.

    `early_stopping_rounds` (xgboost only): the booster trains on the training window and stops
    when the `train.select_by` metric on the validation window has not improved for that many
    rounds, up to `max_trees` (default 500); the model predicts with the best round's trees, and
    that number of trees is recorded. `name` labels the candidate in runs and reports (default:
    the estimator's name)."""

    name: Identifier | None = None
    estimator: EstimatorName
    params: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    early_stopping_rounds: int | None = Field(default=None, ge=1)
    max_trees: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _early_stopping(self) -> Candidate:
        if self.early_stopping_rounds is None:
            if self.max_trees is not None:
                raise ValueError("max_trees caps early stopping: set early_stopping_rounds too")
            return self
        if self.estimator not in ("xgboost", *SINGLE_NODE):
            raise ValueError(
                f"early_stopping_rounds applies to xgboost, sklearn_hgb and lightgbm candidates, not {self.estimator}"
            )
        owned = [k for k in EARLY_STOPPING_OWNED + SINGLE_NODE_OWNED if k in self.params or k in self.grid]
        if owned:
            raise ValueError(
                f"with early stopping the number of trees is chosen on validation: remove {', '.join(owned)} "
                "from params/grid (the cap is max_trees)"
            )
        return self

    @property
    def label(self) -> str:
        return self.name or self.estimator

    @property
    def tree_cap(self) -> int:
        return self.max_trees or DEFAULT_MAX_TREES


class TrainSettings(Model):
    """`task`: binary (default), multiclass or regression: it decides the estimators, the metrics
    and what scoring writes. `select_by`: the validation metric that picks the winner (default:
    the task's first metric, see TASK_METRICS). `tie_tolerance`: candidates within
    it of the best are tied, and the simplest of them wins (see spark_ml.ml.selection).
    `refit: train_and_validation` refits the winner on both windows before the test evaluation."""

    task: TaskKind = "binary"
    table: TableName
    label: Identifier
    keys: tuple[Identifier, ...] = Field(min_length=1)
    time_column: Identifier
    numeric: tuple[Identifier, ...] = ()
    categorical: tuple[Identifier, ...] = ()
    split: SplitSettings
    candidates: tuple[Candidate, ...] | None = None
    estimator: EstimatorName | None = None
    params: dict[str, Any] | None = None
    grid: dict[str, list[Any]] | None = None
    select_by: SelectBy = "auc_roc"
    tie_tolerance: float = Field(default=1e-4, ge=0.0, le=0.1)
    refit: Literal["train_and_validation"] | None = None
    parallelism: int = Field(default=1, ge=1)
    class_weighting: bool = False
    seed: int = 42
    calibration_bins: int = Field(default=10, ge=2, le=100)
    # Single-node candidates: the most rows collected to the driver (training and validation
    # windows each); above it an error, or with driver_sample a random sample of that many.
    max_driver_rows: int = Field(default=2_000_000, ge=1)
    driver_sample: bool = False

    @model_validator(mode="before")
    @classmethod
    def _default_metric(cls, data: Any) -> Any:
        """`select_by` defaults to the task's first metric (auc_roc for binary, as in 0.1.0)."""
        if isinstance(data, dict) and "select_by" not in data:
            task = data.get("task", "binary")
            if task in TASK_METRICS:
                return {**data, "select_by": TASK_METRICS[task][0]}
        return data

    @model_validator(mode="after")
    def _fits_the_task(self) -> TrainSettings:
        metrics = TASK_METRICS[self.task]
        if self.select_by not in metrics:
            raise ValueError(
                f"select_by {self.select_by!r} does not fit task {self.task!r}: its metrics are {', '.join(metrics)}"
            )
        allowed = TASK_ESTIMATORS[self.task]
        for key, candidate in self.choices:
            if candidate.estimator not in allowed:
                extra = (
                    " (Spark's GBT is binary only: use random_forest or xgboost)"
                    if candidate.estimator == "gbt"
                    else ""
                )
                raise ValueError(
                    f"{key}.estimator {candidate.estimator!r} does not fit task {self.task!r}{extra}: "
                    f"its estimators are {', '.join(allowed)}"
                )
        if self.class_weighting and self.task != "binary":
            raise ValueError(f"class_weighting applies to the binary task only, not {self.task!r}")
        single = sorted({c.estimator for _, c in self.choices} & set(SINGLE_NODE))
        if self.class_weighting and single:
            raise ValueError(f"class_weighting applies to Spark estimators, not to {', '.join(single)}")
        if self.task != "binary" and self.candidates is None and self.estimator is None and (self.params or self.grid):
            raise ValueError("params and grid need train.estimator (or list train.candidates)")
        return self

    @model_validator(mode="after")
    def _has_features(self) -> TrainSettings:
        if not self.numeric and not self.categorical:
            raise ValueError("train needs at least one numeric or categorical feature")
        overlap = set(self.numeric) & set(self.categorical)
        if overlap:
            raise ValueError(f"columns {sorted(overlap)} are both numeric and categorical")
        if self.label in self.numeric or self.label in self.categorical:
            raise ValueError(f"the label {self.label!r} is also listed as a feature")
        return self

    @model_validator(mode="after")
    def _one_model_choice(self) -> TrainSettings:
        if self.candidates is None:
            return self
        both = [f"train.{k}" for k in SINGLE_MODEL_KEYS if getattr(self, k) is not None]
        if both:
            raise ValueError(
                f"train.candidates and {' and '.join(both)} are both given: list every estimator under "
                "train.candidates, or give train.estimator (with params and grid) alone"
            )
        return self

    @field_validator("candidates")
    @classmethod
    def _distinct(cls, candidates: tuple[Candidate, ...] | None) -> tuple[Candidate, ...] | None:
        if candidates is None:
            return None
        if not candidates:
            raise ValueError("the list is empty: give at least one estimator")
        labels = [c.label for c in candidates]
        repeated = sorted({n for n in labels if labels.count(n) > 1})
        if repeated:
            raise ValueError(f"several candidates are labelled {', '.join(repeated)}: give them distinct `name`s")
        return candidates

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric + self.categorical

    @property
    def choices(self) -> tuple[tuple[str, Candidate], ...]:
        """(config key, candidate) for each candidate, in order; the single-estimator form is one
        candidate at key 'train' (so its params are named 'train.params.<name>' in errors)."""
        if self.candidates is not None:
            return tuple((f"train.candidates.{i}", c) for i, c in enumerate(self.candidates))
        if self.estimator is None and self.task != "binary":
            return tuple(
                (f"train.candidates.{i}", Candidate(estimator=name))  # type: ignore[arg-type]
                for i, name in enumerate(DEFAULT_CANDIDATES[self.task])
            )
        estimator = self.estimator or "logistic_regression"
        return (("train", Candidate(estimator=estimator, params=self.params or {}, grid=self.grid or {})),)

    @property
    def lower_is_better(self) -> bool:
        return self.select_by in LOWER_IS_BETTER

    @property
    def metrics(self) -> tuple[str, ...]:
        """The task's metrics (selection, gate, monitoring)."""
        return TASK_METRICS[self.task]

    @property
    def estimators(self) -> tuple[str, ...]:
        """The estimator of every candidate, in order (repeats kept)."""
        return tuple(c.estimator for _, c in self.choices)
