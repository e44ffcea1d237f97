"""Scaffolding: `spark-ml new usecase NAME` writes a new use case into a project checkout.

    usecase.py   what is written (a feature builder and its registration, a conf folder with its
                 Databricks layer, the use case's two bundle jobs, chispa tests, a notebook) and the
                 checks before anything is
    templates/   the Jinja2 templates of those files (package data)

Renders text only: never imports pyspark, io, tasks or mlflow (the files it writes do).

May import: errors, jinja2, yaml (to read the bundle's job keys).
"""

from __future__ import annotations

from spark_ml.scaffold.usecase import Planned, new_usecase, next_steps

__all__ = ["Planned", "new_usecase", "next_steps"]
