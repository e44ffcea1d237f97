"""Pure Spark ML: pipelines, time splits, metrics, drift statistics and plots (no MLflow, no I/O).

May import: transforms, config, errors, pyspark.ml, matplotlib (never io, provenance, tasks, cli or
mlflow).
"""
