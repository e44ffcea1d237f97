"""`python -m spark_ml.cli ...`: the same as the `spark-ml` command."""

from spark_ml.cli import entrypoint

entrypoint()
