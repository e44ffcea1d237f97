"""The fixed overhead of one task, in a fresh process on a store whose month holds a handful of rows.

    python -m benchmarks.overhead --task score --root DIR --tracking-uri URI [--started-at EPOCH]

`--task bare_features` / `bare_score` run, in the same way, no task: a bare Delta read + write of
what the task reads (the feature task's three inputs; the month's keys and features), the floor any
Delta job on these rows pays in a fresh process.

Prints one JSON line: seconds from the process's start to the end of its imports, the Spark
session's start, and the task's first run (a cold JVM: what a fresh spark-submit pays) and its second
run in the same session (a warm JVM: what `spark-ml pipeline`'s later steps and the tasks of a job on
a shared cluster pay), each split into Delta history (the version a read pins, a write's commit:
the table's log folder where this process sees it, else DESCRIBE HISTORY), the model load
(score), the run manifest, and the rest (the work itself on a handful of rows). Spans do not
overlap: time inside an outer span (e.g. the history a manifest write reads) counts for the outer
one. `benchmarks.run`'s overhead step adds the process's wall time from start to exit, measured by
the parent.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any


class Spans:
    """Seconds per kind; a span inside another span counts for the outer one only."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.seconds: dict[str, float] = {"history": 0.0, "model_load": 0.0, "manifest": 0.0}
        self.depth = 0
        self.clock = clock

    @contextlib.contextmanager
    def span(self, kind: str) -> Iterator[None]:
        start = self.clock()
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
            if self.depth == 0:
                self.seconds[kind] += self.clock() - start

    def wrap(self, kind: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.span(kind):
                return fn(*args, **kwargs)

        return timed


def _process_start() -> float:
    import psutil

    return float(psutil.Process().create_time())


def _bare_features(spark: Any, settings: Any) -> int:
    """The feature task's inputs read and written to a scratch folder: no task, no manifest."""
    from benchmarks.run import FEATURE_INPUTS

    for table in FEATURE_INPUTS:
        frame = spark.read.format("delta").load(settings.table_location(table))
        frame.write.format("delta").mode("overwrite").save(f"{settings.lakehouse.root}/_bare/{table}")
    return 0


def _bare_score(spark: Any, settings: Any) -> int:
    """The score month's keys and features read and written to a scratch folder."""
    from spark_ml.ml.training import in_window
    from spark_ml.transforms.time import month_bounds

    tc = settings.require_train()
    frame = spark.read.format("delta").load(settings.table_location(tc.table))
    month = frame.where(in_window(tc.time_column, month_bounds(settings.require_score().month)))
    month.select(*dict.fromkeys([*tc.keys, *tc.features])).write.format("delta").mode("overwrite").save(
        f"{settings.lakehouse.root}/_bare/scored"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--task", choices=("features", "score", "bare_features", "bare_score"), required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--tracking-uri", required=True)
    # the parent's clock just before it started this process (a process's own start time from /proc
    # has whole-second resolution only)
    parser.add_argument("--started-at", type=float, default=None)
    args = parser.parse_args()

    from spark_ml.config import load_settings
    from spark_ml.io import models
    from spark_ml.io.delta import Lakehouse
    from spark_ml.session import get_spark
    from spark_ml.tasks import features, score
    from spark_ml.tasks.base import TaskContext

    import_s = time.time() - (args.started_at if args.started_at is not None else _process_start())
    settings = load_settings(
        "local",
        overrides=[
            f"lakehouse.root={args.root}",
            f"mlflow.tracking_uri={args.tracking_uri}",
            "train.estimator=logistic_regression",
            "train.grid={}",
        ],
    )
    started = time.perf_counter()
    spark = get_spark(settings)
    session_s = time.perf_counter() - started

    spans = Spans()
    Lakehouse.latest_version = spans.wrap("history", Lakehouse.latest_version)  # type: ignore[method-assign]
    Lakehouse.history = spans.wrap("history", Lakehouse.history)  # type: ignore[method-assign]
    Lakehouse._logged_commit = spans.wrap("history", Lakehouse._logged_commit)  # type: ignore[method-assign]
    TaskContext._record = spans.wrap("manifest", TaskContext._record)  # type: ignore[method-assign]
    loaded = models.loaded

    @contextlib.contextmanager
    def timed_loaded(*a: Any, **k: Any) -> Iterator[Any]:
        with contextlib.ExitStack() as stack:
            with spans.span("model_load"):
                value = stack.enter_context(loaded(*a, **k))
            yield value

    models.loaded = timed_loaded  # type: ignore[assignment]
    task = {"features": features.run, "score": score.run, "bare_features": _bare_features, "bare_score": _bare_score}[
        args.task
    ]
    split: dict[str, Any] = {"task": args.task, "import_s": import_s, "session_s": session_s}
    for run in ("", "warm_"):
        spans.seconds = dict.fromkeys(spans.seconds, 0.0)
        started = time.perf_counter()
        result = task(spark, settings)
        task_s = time.perf_counter() - started
        split |= {
            f"{run}task_s": task_s,
            f"{run}history_s": spans.seconds["history"],
            f"{run}model_load_s": spans.seconds["model_load"],
            f"{run}manifest_s": spans.seconds["manifest"],
            f"{run}rest_s": task_s - sum(spans.seconds.values()),
        }
    split["rows"] = result.metrics.get("rows") if hasattr(result, "metrics") else result
    print(json.dumps(split), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
