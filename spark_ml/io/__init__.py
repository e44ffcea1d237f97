"""The only code that touches storage: Delta tables, landing files and MLflow."""
