"""Pure Spark ML: pipelines, splits, metrics, drift statistics and plots (no MLflow, no I/O)."""
