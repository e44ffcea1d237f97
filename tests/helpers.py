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
    """Row count and an order-independent content checksum of a DataFrame, computed by Spark
    (doubles rounded to 9 decimals)."""
    from pyspark.sql import functions as F

    cols = sorted(df.columns)
    kinds = dict(df.dtypes)
    # Doubles are compared to 9 decimals: Spark sums partitions in any order, so the last bits of
    # a floating-point aggregate can differ between two runs over the same rows.
    values = [F.round(F.col(c), 9) if kinds[c] in ("double", "float") else F.col(c) for c in cols]
    row_hash = F.xxhash64(*[v.cast("string") for v in values])
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


def declared_console_scripts() -> dict[str, str]:
    """setup.cfg's console scripts: name -> `module:function`."""
    import configparser

    parser = configparser.ConfigParser()
    parser.read(REPO / "setup.cfg")
    lines = [line.strip() for line in parser["options.entry_points"]["console_scripts"].splitlines() if line.strip()]
    return {name.strip(): target.strip() for name, _, target in (line.partition("=") for line in lines)}
