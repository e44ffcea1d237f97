"""Notebook hygiene: `spark-ml notebook check` (static, never executes code) and `notebook run`.

    from spark_ml.notebook import check_paths
    report = check_paths(["notebooks/"])
    print(report.text())

Reads Jupyter .ipynb files (nbformat, from the `notebook` extra) and Databricks source-format .py
notebooks. No Spark needed: nothing here imports pyspark.

May import: config, errors, nbformat/nbclient (never pyspark, io, tasks or cli).
"""

from __future__ import annotations

from spark_ml.notebook.checker import CheckConfig, Report, check_file, check_notebook, check_paths
from spark_ml.notebook.model import Finding, Notebook
from spark_ml.notebook.readers import discover, read_notebook
from spark_ml.notebook.rules import RULES
from spark_ml.notebook.runner import RunResult, run_notebook

__all__ = [
    "RULES",
    "CheckConfig",
    "Finding",
    "Notebook",
    "Report",
    "RunResult",
    "check_file",
    "check_notebook",
    "check_paths",
    "discover",
    "read_notebook",
    "run_notebook",
]
