"""The only code that touches storage: Delta tables, landing files and MLflow.

    delta.py     Lakehouse: logical tables, pinned reads, atomic writes, conflict retries
    landing.py   landing files: listing, fingerprints, header checks, the demo data
    tracking.py  MLflow runs: params, metrics, artifacts, dataset inputs
    registry.py  the MLflow model registry: versions and aliases
    models.py    Spark ML models in MLflow, the same way on classic sessions and Spark Connect
    task_values.py  values a Databricks job's later tasks read (dbutils.jobs.taskValues)

May import: transforms, session, logs, config, errors (never features, ml, quality, tasks or cli).
"""
