"""Scaling: features + train on the flight data replicated xN, in a fresh process per size.

`python -m benchmarks.scale --size 4 --repeats 3` prints one JSON line. Copies get distinct
natural keys (flight number + k * 10000) and keep carrier, origin, dest, dates and tail numbers, so
joins and windows stay valid and every window holds N times more flights.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

from benchmarks.common import MAIN_LAKEHOUSE, WORK, peak_memory, replicated, timed
from spark_ml.config import load_settings
from spark_ml.io.delta import Lakehouse
from spark_ml.session import get_spark
from spark_ml.tasks import features, train

MODEL = ["train.estimator=logistic_regression", "train.params={maxIter: 30, regParam: 0.01}", "train.grid={}"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    root = WORK / f"scale-x{args.size}"
    settings = load_settings("local", overrides=[f"lakehouse.root={root}", *MODEL])
    source = load_settings("local", overrides=[f"lakehouse.root={MAIN_LAKEHOUSE}"])
    spark = get_spark(settings)
    src, dst = Lakehouse(spark, source), Lakehouse(spark, settings)
    flights = src.read("silver.flights")
    dst.write(replicated(flights, args.size), "silver.flights", mode="overwrite")
    for table in ("silver.weather", "silver.planes"):
        dst.write(src.read(table), table, mode="overwrite")
    rows = dst.read("silver.flights").count()
    times: list[float] = []
    with peak_memory() as peak:
        for _ in range(args.repeats):
            seconds, _ = timed(lambda: (features.run(spark, settings), train.run(spark, settings)))
            times.append(seconds)
    print(
        json.dumps(
            {
                "size": args.size,
                "flights": rows,
                "times_s": times,
                "median_s": statistics.median(times),
                "peak_python_mb": round(peak.python_mb),
                "peak_jvm_mb": round(peak.jvm_mb),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
