"""spark-submit entry point of the features task.

    spark-submit [--master URL] jobs/features.py [--env ENV] [--conf-dir DIR] [--set KEY=VALUE]...

The job is a few lines on purpose: the logic lives in the spark_ml wheel (spark_ml.tasks.features).
"""

import sys

from spark_ml.tasks.features import main

if __name__ == "__main__":
    sys.exit(main())
