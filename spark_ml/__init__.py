"""spark_ml: tested Spark, Delta Lake and MLflow code for ML jobs that replace production notebooks.

The curated public API is importable from notebooks without starting anything:

    from spark_ml import load_settings, get_spark
    cfg = load_settings("local")
    spark = get_spark(cfg)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "ConfigError",
    "Settings",
    "SparkMLError",
    "__version__",
    "get_spark",
    "load_settings",
]

from spark_ml.config import Settings, load_settings
from spark_ml.errors import ConfigError, SparkMLError
from spark_ml.versions import __version__

if TYPE_CHECKING:
    from spark_ml.session import get_spark


def __getattr__(name: str) -> Any:
    # get_spark imports pyspark; keep `import spark_ml` light where pyspark is absent.
    if name == "get_spark":
        from spark_ml.session import get_spark

        return get_spark
    raise AttributeError(f"module 'spark_ml' has no attribute {name!r}")
