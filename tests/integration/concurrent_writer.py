"""One writer process of the concurrency tests (run as `python -m tests.integration.concurrent_writer`).

Builds its own local Spark session once, then for each phase (`month:retries`): prepares its
rows, waits at a file barrier until every writer is ready, writes `ml.concurrency` through
Lakehouse.write (replacing that month) and prints a JSON line with what happened.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from pyspark.sql import functions as F

from spark_ml.config import load_settings
from spark_ml.errors import ConcurrentWriteError
from spark_ml.io.delta import Lakehouse
from spark_ml.session import get_spark
from tests.helpers import CONF, overrides_for

TABLE = "ml.concurrency"
DECLARE = "tables.ml.concurrency={partition_by: [month]}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--writer", required=True)
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--phases", required=True, help="comma-separated month:retries")
    parser.add_argument("--barrier", required=True, help="folder: touch ready-<phase>-<writer>, wait for go-<phase>")
    args = parser.parse_args()
    settings = load_settings("local", CONF, overrides_for(Path(args.root), DECLARE, "spark.master=local[1]"))
    spark = get_spark(settings)
    barrier = Path(args.barrier)
    for phase, spec in enumerate(args.phases.split(",")):
        month, retries = (int(x) for x in spec.split(":"))
        rows = spark.range(args.rows).select(
            F.lit(month).alias("month"), F.col("id"), F.lit(args.writer).alias("writer")
        )
        lake = Lakehouse(spark, settings, task=args.writer, max_retries=retries, backoff_seconds=0.2)
        (barrier / f"ready-{phase}-{args.writer}").touch()
        while not (barrier / f"go-{phase}").exists():
            time.sleep(0.01)
        report: dict[str, object] = {"phase": phase, "writer": args.writer}
        try:
            written = lake.write(rows, TABLE, mode="overwrite", replace_where=f"month = {month}")
            report.update(version=written.version, conflicts=lake.conflicts)
        except ConcurrentWriteError as exc:
            report.update(error=str(exc), conflicts=lake.conflicts)
        print(json.dumps(report), flush=True)
        (barrier / f"done-{phase}-{args.writer}").touch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
