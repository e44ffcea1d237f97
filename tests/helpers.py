"""Small helpers shared by tests (no fixtures here: those live in conftest.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"


def overrides_for(root: Path, *extra: str) -> list[str]:
    """--set overrides that point a test at its own lakehouse root with a small local Spark."""
    return [
        f"lakehouse.root={root}",
        "spark.master=local[2]",
        "spark.shuffle_partitions=2",
        "logging.level=WARNING",
        *extra,
    ]


def checksum(df: Any, order_by: list[str] | None = None) -> tuple[int, str]:
    """Row count and an order-independent content checksum of a DataFrame, computed by Spark."""
    from pyspark.sql import functions as F

    cols = sorted(df.columns)
    row_hash = F.xxhash64(*[F.col(c).cast("string") for c in cols])
    out = df.select(F.count(F.lit(1)).alias("n"), F.sum(row_hash.cast("decimal(38,0)")).alias("h")).collect()[0]
    digest = hashlib.sha256(str(out["h"]).encode()).hexdigest()[:16]
    return int(out["n"]), digest


def shared_dir() -> Path:
    """The read-only ../shared folder next to the checkout (SPARK_ML_SHARED_DIR overrides it)."""
    import os

    for candidate in (os.environ.get("SPARK_ML_SHARED_DIR"), REPO.parent / "shared", "/work/shared"):
        if candidate and (Path(candidate) / "databricks").is_dir():
            return Path(candidate)
    return REPO.parent / "shared"
