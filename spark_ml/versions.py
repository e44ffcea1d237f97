"""Installed versions: the one place a distribution's version is looked up."""

from __future__ import annotations

import configparser
import functools
from importlib import metadata
from pathlib import Path


def _own_version() -> str:
    """The version of the installed distribution (written once, in setup.cfg); in a checkout that is
    imported without being installed (a Databricks Git folder on sys.path), setup.cfg's value."""
    installed = dist_version("spark-ml")
    if installed is not None:
        return installed
    setup_cfg = configparser.ConfigParser()
    setup_cfg.read(Path(__file__).resolve().parents[1] / "setup.cfg")
    return setup_cfg.get("metadata", "version", fallback="0+unknown")


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


__version__ = _own_version()
