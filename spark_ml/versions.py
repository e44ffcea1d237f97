"""Installed versions: the one place a distribution's version is looked up."""

from __future__ import annotations

import functools
from importlib import metadata

__version__ = "0.1.0"  # the package version: the only place it is written


def dist_version(*names: str) -> str | None:
    """The installed version of the first of `names` that is installed, None when none is."""
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


@functools.cache
def versions() -> dict[str, str | None]:
    """spark_ml, pyspark, delta-spark and mlflow versions of this environment."""
    return {
        "spark_ml": __version__,
        "pyspark": dist_version("pyspark", "pyspark-client", "databricks-connect"),
        "delta": dist_version("delta-spark"),
        "mlflow": dist_version("mlflow", "mlflow-skinny"),
    }
