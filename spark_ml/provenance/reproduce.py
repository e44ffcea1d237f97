"""`spark-ml reproduce <mlflow_run_id>`: re-train a recorded training run and compare its metrics.

The configuration is the one recorded in the run's manifest (the JSON artifact on the MLflow run,
else its row in the runs table, else the `evaluation/config.yml` artifact, which is all a run
recorded by spark-ml 0.1.0 holds) and the training table is read at the exact Delta version the run
read (time travel), so later appends or overwrites of the table change nothing. What describes
*this* process is taken from the current environment: `spark` and `logging`, the MLflow store (where
the original was found and the reproduction is logged) and secret values, which are masked in the
record. The reproduction is a new MLflow run tagged `spark_ml.reproduction_of=<original>`; it
registers no model version unless asked, so the registry's aliases stay as they are.

Metrics must be equal for the deterministic trainers (logistic regression, and the tree ensembles
with their fixed seed on the same data), to `EXACT` = 1e-12: the model is the same, but Spark's
evaluators sum partition results in whatever order tasks finish, which can change the last bit of
an AUC (measured: 1.1e-16). xgboost, whose distributed histogram sums are not bit-for-bit
repeatable, must be within `TOLERANCES["xgboost"]` = 0.001. With several candidates the tolerance
follows the original run's winner (its `spark_ml.estimator` tag; the loosest of the candidates'
when the tag is missing), and a reproduction that picks another winner says so in a note.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import yaml
from pydantic import ValidationError
from pyspark.sql import SparkSession

from spark_ml.config import MASK, Settings
from spark_ml.errors import ConfigError, ReproducibilityError
from spark_ml.io import tracking
from spark_ml.io.delta import Lakehouse
from spark_ml.logs import text_table
from spark_ml.provenance import runs
from spark_ml.provenance.code import git_commit
from spark_ml.versions import versions


class TrainResult(Protocol):
    """What reproduce reads of the train task's result."""

    run_id: str
    metrics: dict[str, Any]


Train = Callable[..., TrainResult]

EXACT = 1e-12
HEADLINE = ("test_auc_roc", "test_auc_pr", "test_log_loss", "validation_auc_roc", "test_rows")
TOLERANCES: dict[str, float] = {
    "logistic_regression": EXACT,
    "linear_regression": EXACT,
    "random_forest": EXACT,
    "gbt": EXACT,
    "xgboost": 1e-3,
}
RUNTIME_SECTIONS = ("spark", "logging")


@dataclass(frozen=True)
class MetricCheck:
    name: str
    original: float
    reproduced: float | None
    ok: bool

    @property
    def difference(self) -> float | None:
        return None if self.reproduced is None else abs(self.reproduced - self.original)


@dataclass
class Reproduction:
    original_run_id: str
    reproduction_run_id: str
    spark_ml_run_id: str
    estimator: str
    table: str
    table_version: int
    tolerance: float
    checks: list[MetricCheck]
    recorded_from: str
    recorded_code: str
    current_code: str
    registered_version: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def differing(self) -> list[MetricCheck]:
        return [c for c in self.checks if not c.ok]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["matches"] = self.matches
        return data

    def text(self) -> str:
        rule = (
            f"exact (deterministic trainer; to {EXACT:g} for summation order)"
            if self.tolerance <= EXACT
            else f"within {self.tolerance:g} (absolute)"
        )
        lines = [
            f"reproduce MLflow run {self.original_run_id}: "
            f"{self.estimator} on {self.table} version {self.table_version}",
            f"  recorded config from {self.recorded_from}; code then {self.recorded_code}, now {self.current_code}",
            f"  new MLflow run {self.reproduction_run_id} (tag spark_ml.reproduction_of={self.original_run_id}), "
            + (f"registered as version {self.registered_version}" if self.registered_version else "not registered"),
            *(f"  note: {n}" for n in self.notes),
            f"  {len(self.checks)} metrics compared, {rule}; the headline ones and any not bit-for-bit equal:",
        ]
        shown = [c for c in self.checks if c.name in HEADLINE or c.difference != 0]
        rows = []
        for c in shown:
            new = "missing" if c.reproduced is None else f"{c.reproduced:.12g}"
            verdict = "equal" if c.difference == 0 else ("within tolerance" if c.ok else "DIFFERS")
            diff = "" if c.difference in (None, 0) else f"  (difference {c.difference:.3g})"
            rows.append((c.name, f"{c.original:.12g} -> {new}  {verdict}{diff}"))
        lines.extend(text_table(rows, indent="    "))
        if self.matches:
            lines.append("result: reproduced, every metric matches")
        else:
            names = ", ".join(c.name for c in self.differing) or "no metrics recorded"
            lines.append(f"result: NOT reproduced, differing metrics: {names}")
        return "\n".join(lines)


# -- pure helpers ----------------------------------------------------------------------------------


def unmask(recorded: Any, current: Any, path: str = "") -> Any:
    """The recorded config with every masked value ('***') replaced by the current environment's
    value at the same key; a masked mapping entry the current environment lacks is dropped
    (training never needs secrets), any other is a ConfigError."""
    if isinstance(recorded, dict):
        out: dict[str, Any] = {}
        for key, value in recorded.items():
            here = current.get(key) if isinstance(current, dict) else None
            dotted = f"{path}.{key}" if path else str(key)
            if value == MASK and (here is None or here == MASK):
                continue
            out[key] = unmask(value, here, dotted)
        return out
    if isinstance(recorded, list):
        here_list = current if isinstance(current, list) and len(current) == len(recorded) else [None] * len(recorded)
        return [unmask(v, c, path) for v, c in zip(recorded, here_list, strict=True)]
    if recorded == MASK:
        if current is None or current == MASK:
            raise ConfigError(f"the recorded config masks '{path}' and the current environment has no value for it")
        return current
    return recorded


def recorded_settings(recorded: dict[str, Any], current: Settings) -> Settings:
    """Settings for the reproduction: the recorded config, secrets from the current environment,
    and the sections that describe this process (spark, logging, the MLflow store) from `current`."""
    live = current.dump(masked=False)
    data = unmask(recorded, live)
    for section in RUNTIME_SECTIONS:
        data[section] = live[section]
    data["env"] = current.env
    try:
        rebuilt = Settings.model_validate(data)
        store = (current.tracking_uri, current.registry_uri, current.mlflow.experiment)
        if (rebuilt.tracking_uri, rebuilt.registry_uri, rebuilt.mlflow.experiment) == store:
            return rebuilt  # the recorded MLflow section points at this store: keep it (same config hash)
        data["mlflow"] = {"tracking_uri": store[0], "registry_uri": store[1], "experiment": store[2]}
        return Settings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            f"the recorded config no longer validates with this version of spark_ml ('{where}': {first['msg']}); "
            "reproduce it with the recorded version of the code"
        ) from exc


def compare(original: dict[str, float], reproduced: dict[str, float], tolerance: float) -> list[MetricCheck]:
    """Every metric of the original run against the reproduction's, within `tolerance` (0: equal)."""
    checks = []
    for name in sorted(original):
        before, after = original[name], reproduced.get(name)
        if after is None:
            ok = False
        elif math.isnan(before) or math.isnan(after):
            ok = math.isnan(before) and math.isnan(after)
        else:
            ok = abs(after - before) <= tolerance
        checks.append(MetricCheck(name, before, after, ok))
    return checks


# -- the record ------------------------------------------------------------------------------------


@dataclass
class Recorded:
    mlflow_run_id: str
    run_id: str | None
    config: dict[str, Any]
    table: str
    table_version: int
    metrics: dict[str, float]
    source: str
    git_commit: str | None
    spark_ml_version: str | None
    winner: str | None = None
    winner_estimator: str | None = None


def original(cfg: Settings, mlflow_run_id: str) -> dict[str, Any]:
    """The MLflow run, checked to be a spark-ml training run (no Spark needed)."""
    found = tracking.run_record(cfg, mlflow_run_id)
    task = found["tags"].get("spark_ml.task")
    if task != "train":
        raise ConfigError(
            f"MLflow run {mlflow_run_id} is not a spark-ml training run (spark_ml.task tag: {task or 'missing'})"
        )
    return found


def load_record(lake: Lakehouse, mlflow_run_id: str) -> Recorded:
    """The recorded config and training-table version of a training run, from its manifest."""
    cfg = lake.settings
    found = original(cfg, mlflow_run_id)
    tags = found["tags"]
    run_id = tags.get("spark_ml.run_id")
    record = runs.load_from_mlflow(cfg, mlflow_run_id)
    source = f"the manifest on MLflow run {mlflow_run_id}"
    if record is None and run_id:
        record = runs.RunsTable(lake).by_run_id(run_id, with_config=True)
        source = f"{cfg.ops.runs_table} (run {run_id})"
    if record is not None:
        config = json.loads(record["config"]) if isinstance(record["config"], str) else record["config"]
        commit, package = record.get("git_commit"), record.get("spark_ml_version")
    else:
        text = tracking.load_text(cfg, mlflow_run_id, "evaluation/config.yml")
        if text is None:
            raise ReproducibilityError(
                f"MLflow run {mlflow_run_id} has no recorded config: no manifest artifact, "
                f"no row in {cfg.ops.runs_table} and no evaluation/config.yml"
            )
        config, source = yaml.safe_load(text), f"evaluation/config.yml of MLflow run {mlflow_run_id}"
        commit, package = tags.get("mlflow.source.git.commit"), tags.get("spark_ml.spark_ml_version")
    train = config.get("train") or {}
    table = str(train.get("table") or tags.get("spark_ml.table") or "")
    if not table:
        raise ReproducibilityError(f"the recorded config of MLflow run {mlflow_run_id} has no train.table")
    versions_read = [int(r["version"]) for r in (record or {}).get("inputs") or [] if r["table"] == table]
    if versions_read:
        version = versions_read[0]
    elif tags.get("spark_ml.table_version", "").isdigit():
        version = int(tags["spark_ml.table_version"])
    else:
        raise ReproducibilityError(f"MLflow run {mlflow_run_id} does not record which version of {table} it read")
    winner = (tags.get("spark_ml.winner"), tags.get("spark_ml.estimator"))
    return Recorded(mlflow_run_id, run_id, config, table, version, found["metrics"], source, commit, package, *winner)


@contextmanager
def _shuffle_partitions(spark: SparkSession, partitions: int | None) -> Iterator[None]:
    """The recorded spark.shuffle_partitions for the duration of the reproduction (it can change
    how rows are grouped into partitions, and so the sums of the trainers)."""
    key = "spark.sql.shuffle.partitions"
    if partitions is None:
        yield
        return
    before = spark.conf.get(key)
    spark.conf.set(key, str(partitions))
    try:
        yield
    finally:
        spark.conf.set(key, str(before))


# -- entry -----------------------------------------------------------------------------------------


def check_tolerance(tolerance: float | None) -> None:
    if tolerance is not None and not tolerance >= 0:  # also rejects NaN
        raise ConfigError(f"--tolerance must be a number >= 0, got {tolerance}")


def run(
    spark: SparkSession,
    cfg: Settings,
    mlflow_run_id: str,
    train: Train,
    *,
    tolerance: float | None = None,
    register: bool = False,
) -> Reproduction:
    """Re-train with `train` (the train task's `run`, passed in by the caller: provenance sits
    below the tasks) and compare every metric with the original's."""
    check_tolerance(tolerance)
    lake = Lakehouse(spark, cfg, task="reproduce")
    rec = load_record(lake, mlflow_run_id)
    settings = recorded_settings(rec.config, cfg)
    tc = settings.require_train()
    runs.check_readable(Lakehouse(spark, settings, task="reproduce"), rec.table, rec.table_version)
    estimator = rec.winner_estimator or max(tc.estimators, key=lambda e: TOLERANCES.get(e, 1e-3))
    limit = TOLERANCES.get(estimator, 1e-3) if tolerance is None else tolerance
    recorded_partitions = (rec.config.get("spark") or {}).get("shuffle_partitions")
    with _shuffle_partitions(spark, recorded_partitions):
        result = train(
            spark,
            settings,
            table_version=rec.table_version,
            register=register,
            tags={"reproduction_of": mlflow_run_id},
        )
    new_id = str(result.metrics["mlflow_run_id"])
    reproduced = tracking.run_record(cfg, new_id)["metrics"]
    checks = compare(rec.metrics, reproduced, limit)
    now = versions()
    outcome = Reproduction(
        original_run_id=mlflow_run_id,
        reproduction_run_id=new_id,
        spark_ml_run_id=result.run_id,
        estimator=estimator,
        table=rec.table,
        table_version=rec.table_version,
        tolerance=limit,
        checks=checks,
        recorded_from=rec.source,
        recorded_code=_code(rec.spark_ml_version, rec.git_commit),
        current_code=_code(now["spark_ml"], git_commit()),
        registered_version=str(result.metrics["version"]) if register else None,
    )
    chosen = result.metrics.get("winner")
    if rec.winner and chosen and chosen != rec.winner:
        outcome.notes.append(f"the reproduction chose {chosen}, the original {rec.winner}")
    if (rec.git_commit or "").removesuffix("-dirty") != (git_commit() or "").removesuffix("-dirty"):
        outcome.notes.append("the code differs from the recorded commit: metrics may differ for that reason")
    tracking.set_run_tags(
        cfg,
        new_id,
        {
            "spark_ml.reproduction_match": str(outcome.matches).lower(),
            "spark_ml.reproduction_tolerance": f"{limit:g}",
        },
    )
    return outcome


def _code(package: str | None, commit: str | None) -> str:
    return f"spark_ml {package or '?'} at git {(commit or 'unknown')[:12]}"
