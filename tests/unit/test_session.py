"""The local session: Python workers run the driver's interpreter (the venv, with its packages)."""

from __future__ import annotations

import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType


def test_python_workers_run_the_drivers_interpreter(spark: SparkSession) -> None:
    """Without it, workers start `python3` from PATH and miss the venv's packages (xgboost.spark
    trains in Python workers). A Python UDF here, in a test only, asks a worker which it is."""
    which = F.udf(lambda _: sys.executable, StringType())
    (row,) = spark.range(1).select(which(F.col("id")).alias("python")).collect()
    assert row["python"] == sys.executable
