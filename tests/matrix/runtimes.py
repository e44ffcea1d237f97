"""The runtimes `make test-runtimes` proves: each a set of pins that mirrors what a Databricks
runtime ships, installed next to the built wheel in a venv of its own.

Sources (see docs/runtimes.md): Databricks runtime release notes and MLflow compatibility matrix
(Spark and MLflow versions), the runtimes' own package lists (the other libraries), and what PyPI
and Maven Central serve (pyspark is pinned to the nearest version the matching delta-spark accepts).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Runtime:
    name: str
    title: str
    pins: tuple[str, ...]
    extras: str = "demo"
    connect: bool = False
    why: str = ""

    def key(self, wheel_requirements: str = "") -> str:
        """A hash of what the venv holds: the venv is reused while it does not change."""
        text = "\n".join([self.extras, *self.pins, wheel_requirements])
        return hashlib.sha256(text.encode()).hexdigest()[:12]


DBR_16_4_ML = Runtime(
    "dbr-16.4-lts-ml",
    "Databricks Runtime 16.4 LTS ML",
    (
        "pyspark==3.5.3",
        "delta-spark==3.3.2",
        "mlflow==2.21.3",
        "SQLAlchemy==2.0.30",
        "pandas==1.5.3",
        "numpy==1.26.4",
        "pyarrow==15.0.2",
        "matplotlib==3.8.4",
        "protobuf==4.24.1",
    ),
    why=(
        "Spark 3.5.2 and MLflow 2.21.3 on the runtime; pyspark 3.5.3 is the nearest that delta-spark 3.3.x accepts "
        "(delta-spark 3.3.2 was built on it); SQLAlchemy 2.0.30 as the runtime ships it, and required: "
        "MLflow < 3.9 fails to import its SQL store with SQLAlchemy 2.1 (mlflow PR #20203)"
    ),
)
DBR_17_3_ML = Runtime(
    "dbr-17.3-lts-ml",
    "Databricks Runtime 17.3 LTS ML",
    (
        "pyspark==4.0.1",
        "delta-spark==4.0.1",
        "mlflow==3.0.1",
        "SQLAlchemy==2.0.37",
        "pandas==2.2.3",
        "numpy==2.1.3",
        "pyarrow==19.0.1",
        "matplotlib==3.10.0",
        "protobuf==5.29.4",
    ),
    why=(
        "Spark 4.0.0 and MLflow 3.0.1 on the runtime; delta-spark 4.0.1 is built on pyspark 4.0.1; "
        "SQLAlchemy 2.0.37 as the runtime ships it (MLflow 3.0.1 < 3.9 needs < 2.1)"
    ),
)
NEWEST = Runtime(
    "newest",
    "Newest stack (the local extra)",
    (),
    extras="local,demo",
    why="what `make run` uses: pyspark 4.2.0, delta-spark 4.4.0, the newest MLflow 3",
)
SERVERLESS = Runtime(
    "serverless",
    "Serverless (newest stack over Spark Connect)",
    ("pyspark[connect]==4.2.0",),
    extras="local,demo,xgboost,singlenode",
    connect=True,
    why=(
        "serverless jobs run Spark Connect: every task of the serverless job as its own process, as the job "
        "runs them, against a local Spark Connect server with Delta; with xgboost (a champion trained on a "
        "classic cluster is scored through its booster) and the single-node candidates"
    ),
)
RUNTIMES = (NEWEST, DBR_16_4_ML, DBR_17_3_ML, SERVERLESS)
REFERENCE = NEWEST
