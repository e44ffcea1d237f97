"""The only code that touches storage: Delta tables, landing files and MLflow.

    delta.py     Lakehouse: logical tables, pinned reads, atomic writes, conflict retries
    landing.py   landing files: listing, fingerprints, header checks, the demo data
    tracking.py  MLflow runs: params, metrics, artifacts, dataset inputs
    registry.py  the MLflow model registry: versions and aliases
    models.py    Spark ML models in MLflow, the same way on classic sessions and Spark Connect
    task_values.py  values a Databricks job's later tasks read (dbutils.jobs.taskValues)
    notebook_kernel.py  inside a `notebook run --against` kernel: an isolated Delta session, display,
                    dbutils.widgets, %sql, and the listing of the tables and files a run wrote

May import: transforms, session, logs, config, errors (never features, ml, quality, tasks or cli).
"""
