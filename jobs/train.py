"""spark-submit entry point of the train task.

    spark-submit [--master URL] jobs/train.py [--env ENV] [--conf-dir DIR] [--set KEY=VALUE]...

The job is a few lines on purpose: the logic lives in the spark_ml wheel (spark_ml.tasks.train,
run by spark_ml.cli like the `spark-ml train` command).
"""

import sys

from spark_ml.cli import run_task

if __name__ == "__main__":
    sys.exit(run_task("train"))
