"""spark-submit entry point of the ingest task.

    spark-submit [--master URL] jobs/ingest.py [--env ENV] [--conf-dir DIR] [--set KEY=VALUE]...

The job is a few lines on purpose: the logic lives in the spark_ml wheel (spark_ml.tasks.ingest).
"""

import sys

from spark_ml.tasks.ingest import main

if __name__ == "__main__":
    sys.exit(main())
