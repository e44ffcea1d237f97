"""Task values: what a task tells the tasks after it in a Databricks job run.

On Databricks (DATABRICKS_RUNTIME_VERSION is set) the values go to `dbutils.jobs.taskValues.set`,
where a later task reads them as `{{tasks.<task_key>.values.<key>}}` (the pipeline job's condition
task reads the monitor's `retrain`). Anywhere else there is no job run to tell: a log line says
what would have been published, and nothing else happens. On Databricks a value that cannot be
set fails the task (SparkMLError naming the keys): a job whose condition reads it would otherwise
decide without it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from spark_ml.errors import SparkMLError, error_summary

log = logging.getLogger(__name__)
RUNTIME_VARIABLE = "DATABRICKS_RUNTIME_VERSION"


def _dbutils() -> Any:
    """Databricks' dbutils in a wheel or script task (a notebook has it as a global already)."""
    from databricks.sdk.runtime import dbutils  # type: ignore[attr-defined]

    return dbutils


def publish(values: Mapping[str, str | int | float | bool]) -> str:
    """Set each value as a task value of the running Databricks task; returns a one-line note."""
    shown = ", ".join(f"{key}={value}" for key, value in values.items())
    if not os.environ.get(RUNTIME_VARIABLE):
        log.info("task values %s: not on Databricks, nothing published", shown)
        return f"task values {shown} (not on Databricks: not published)"
    try:
        task_values = _dbutils().jobs.taskValues
        for key, value in values.items():
            task_values.set(key=key, value=value)
    except Exception as exc:
        raise SparkMLError(f"could not publish the task values {shown}: {error_summary(exc)}") from exc
    return f"task values published: {shown}"
