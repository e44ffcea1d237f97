"""`make bench-cluster` (after `make run`): the scale-out curve on a real standalone Spark cluster.

Starts a master and two one-core workers on 127.0.0.1 with the installed pyspark's spark-class
(as the cluster test does), then for each size (x1, x4, x16, x64 of silver.flights; copies with
distinct keys, see benchmarks.common.replicated) runs features + train (+ promote) + score in a
fresh driver process, one application per size, and records each step's wall time, the shuffle
bytes the application wrote (the driver's status API), and the driver's peak memory (its Python
process and its JVM). Writes benchmarks/cluster-results.json, benchmarks/cluster-results.md and
docs/cluster-scaleout.png.

    python -m benchmarks.cluster [--sizes 1,4,16,64]
    python -m benchmarks.cluster --drive --size 4 --master spark://127.0.0.1:7077   (one size)

Targets (issue 25): past x4 the time grows at most linearly with rows, and the driver's peak
memory stays flat (within 10% of x4's up to the largest size).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks.common import MAIN_LAKEHOUSE, REPO, WORK, json_line_of, peak_memory, replicated, timed
from spark_ml.cli.dev import free_port

WORKERS = 2
WORKER_CORES = 1
WORKER_MEMORY = "7g"
EXECUTOR_MEMORY = "6g"
# A driver heap far below the data: every size runs with the same 1 GB, so a driver that needed
# memory in proportion to the rows would fail at x64; its resident memory is then comparable across
# sizes (with a 4 GB heap the JVM's resident size followed its garbage collections, 1.1-2.3 GB in any
# order of size).
DRIVER_MEMORY = "1g"
SHUFFLE_PARTITIONS = 32  # AQE coalesces them at the small sizes
MODEL = ["train.estimator=logistic_regression", "train.params={maxIter: 30, regParam: 0.01}", "train.grid={}"]
RESULTS_JSON = REPO / "benchmarks" / "cluster-results.json"
RESULTS_MD = REPO / "benchmarks" / "cluster-results.md"
PICTURE = REPO / "docs" / "cluster-scaleout.png"
STEPS = ("features", "train", "score")
FLAT_MEMORY = 1.10


def _json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


@dataclass
class Cluster:
    url: str
    ui: str
    processes: list[subprocess.Popen[bytes]]


@contextlib.contextmanager
def standalone(logs: Path) -> Iterator[Cluster]:
    """A master and WORKERS one-core workers on 127.0.0.1, stopped by process group at the end."""
    import pyspark

    spark_home = Path(pyspark.__file__).parent
    spark_class = spark_home / "bin" / "spark-class"
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SPARK_HOME": str(spark_home), "SPARK_LOCAL_IP": "127.0.0.1"}
    processes: list[subprocess.Popen[bytes]] = []

    def start(name: str, *args: str) -> None:
        with (logs / f"{name}.log").open("wb") as log:
            processes.append(
                subprocess.Popen(
                    [str(spark_class), *args], stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
                )
            )

    port, ui = free_port(), free_port()
    url = f"spark://127.0.0.1:{port}"
    try:
        start("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
              "--webui-port", str(ui))  # fmt: skip
        for i in range(1, WORKERS + 1):
            start(f"worker{i}", "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1",
                  "--cores", str(WORKER_CORES), "--memory", WORKER_MEMORY, "--webui-port", str(free_port()),
                  "--work-dir", str(logs / f"w{i}"))  # fmt: skip
        deadline, alive = time.time() + 120, 0
        while time.time() < deadline and alive < WORKERS:
            time.sleep(1)
            with contextlib.suppress(OSError):
                alive = int(_json(f"http://127.0.0.1:{ui}/json/").get("aliveworkers", 0))
        if alive < WORKERS:
            raise RuntimeError(f"the standalone cluster did not come up ({alive} of {WORKERS} workers): see {logs}")
        yield Cluster(url, f"http://127.0.0.1:{ui}", processes)
    finally:
        for proc in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in processes:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def _shuffle_bytes(ui: str, app_id: str) -> int:
    """Shuffle bytes written by every completed stage of the application so far."""
    stages = _json(f"{ui}/api/v1/applications/{app_id}/stages?status=complete")
    return sum(int(stage.get("shuffleWriteBytes", 0)) for stage in stages)


def drive(size: int, master: str) -> dict[str, Any]:
    """One size in this (fresh) driver process: inputs prepared (not timed), then each step timed."""
    from spark_ml.config import load_settings
    from spark_ml.io.delta import Lakehouse
    from spark_ml.provenance.compute import describe
    from spark_ml.session import get_spark
    from spark_ml.tasks import features, promote, score, train

    root = WORK / f"cluster-x{size}"
    ui_port = free_port()
    conf = {
        "spark.ui.enabled": "true",
        "spark.ui.port": str(ui_port),
        "spark.ui.retainedStages": "100000",
        "spark.ui.retainedJobs": "100000",
        "spark.cores.max": str(WORKERS * WORKER_CORES),
        "spark.executor.cores": str(WORKER_CORES),
        "spark.executor.memory": EXECUTOR_MEMORY,
        "spark.driver.memory": DRIVER_MEMORY,
    }
    overrides = [
        f"lakehouse.root={root}",
        f"spark.master={master}",
        f"spark.shuffle_partitions={SHUFFLE_PARTITIONS}",
        *MODEL,
    ]
    source = load_settings("local", overrides=[f"lakehouse.root={MAIN_LAKEHOUSE}"])
    # a --set replaces spark.conf whole: the env's own settings go in with the cluster's
    merged = {**source.spark.conf, **conf}
    settings = load_settings("local", overrides=[*overrides, f"spark.conf={json.dumps(merged)}"])
    started = time.perf_counter()
    spark = get_spark(settings)
    session_s = time.perf_counter() - started
    app_id = spark.conf.get("spark.app.id")
    ui = f"http://127.0.0.1:{ui_port}"

    # Inputs: silver.flights xN and the other silver tables, kept between runs when the row count
    # matches; every output of the steps (gold, ml, the MLflow store) is removed first.
    src, dst = Lakehouse(spark, source), Lakehouse(spark, settings)
    flights = src.read("silver.flights")
    wanted = flights.count() * size
    if not dst.exists("silver.flights") or dst.read("silver.flights").count() != wanted:
        dst.write(replicated(flights, size), "silver.flights", mode="overwrite")
        for table in ("silver.weather", "silver.planes"):
            dst.write(src.read(table), table, mode="overwrite")
    for folder in ("gold", "ml", "mlflow", "_warehouse"):
        shutil.rmtree(root / folder, ignore_errors=True)

    steps: dict[str, dict[str, float]] = {}
    before = _shuffle_bytes(ui, app_id)
    with peak_memory() as peak:
        for step, fn in (
            ("features", lambda: features.run(spark, settings)),
            ("train", lambda: (train.run(spark, settings), promote.run(spark, settings))),
            ("score", lambda: score.run(spark, settings)),
        ):
            seconds, _ = timed(fn)
            after = _shuffle_bytes(ui, app_id)
            steps[step] = {"s": seconds, "shuffle_bytes": after - before}
            before = after
    compute = describe(spark)
    driver = next(e for e in _json(f"{ui}/api/v1/applications/{app_id}/executors") if e["id"] == "driver")
    heap = (driver.get("peakMemoryMetrics") or {}).get("JVMHeapMemory")
    return {
        "size": size,
        "flights": wanted,
        "session_start_s": session_s,
        "steps": steps,
        "total_s": sum(step["s"] for step in steps.values()),
        "shuffle_bytes": sum(int(step["shuffle_bytes"]) for step in steps.values()),
        "peak_python_mb": round(peak.python_mb),
        "peak_jvm_mb": round(peak.jvm_mb),
        "peak_driver_heap_mb": None if heap is None else round(heap / 2**20),
        "compute": compute.text(),
    }


def verdict(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Past x4: time(xN) / time(x4) <= N / 4 for every larger size (at most linear), and the driver's
    peak memory within FLAT_MEMORY of x4's at every larger size: its resident JVM and Python, and the
    JVM's heap used where the status API gave it (with a capped heap the resident JVM can hardly
    grow, so the heap used is the figure that could)."""
    by_size = {row["size"]: row for row in rows}
    if 4 not in by_size or max(by_size) <= 4:
        return {"linear_met": None, "memory_met": None, "why": "needs x4 and a larger size"}
    base = by_size[4]
    larger = [by_size[s] for s in sorted(by_size) if s > 4]
    time_ratios = {f"x{r['size']}": r["total_s"] / base["total_s"] for r in larger}
    rows_ratios = {f"x{r['size']}": r["size"] / 4 for r in larger}
    memory = {
        f"x{r['size']}": {
            "jvm": r["peak_jvm_mb"] / base["peak_jvm_mb"],
            "python": r["peak_python_mb"] / base["peak_python_mb"],
        }
        | (
            {"heap": r["peak_driver_heap_mb"] / base["peak_driver_heap_mb"]}
            if r.get("peak_driver_heap_mb") and base.get("peak_driver_heap_mb")
            else {}
        )
        for r in larger
    }
    return {
        "time_vs_x4": time_ratios,
        "rows_vs_x4": rows_ratios,
        "linear_met": all(time_ratios[k] <= rows_ratios[k] for k in time_ratios),
        "memory_vs_x4": memory,
        "memory_met": all(ratio <= FLAT_MEMORY for m in memory.values() for ratio in m.values()),
        "target": f"time(xN) / time(x4) <= N / 4 for N > 4; driver peak memory within {FLAT_MEMORY:.2f}x of x4's",
    }


def render(results: dict[str, Any]) -> str:
    lines = [
        f"# Scale-out on a standalone cluster ({results['when']})",
        "",
        f"{results['cluster']}; logistic regression (30 iterations); one run per size, each a fresh driver.",
        "",
        f"| size | flights | features | train + promote | score | total | total / x{results['sizes'][0]['size']} | "
        "shuffle written | "
        "driver peak resident JVM / Python | driver peak heap used |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    base = results["sizes"][0]["total_s"]
    for row in results["sizes"]:
        s = row["steps"]
        lines.append(
            f"| x{row['size']} | {row['flights']:,} | {s['features']['s']:.1f} s | {s['train']['s']:.1f} s | "
            f"{s['score']['s']:.1f} s | {row['total_s']:.1f} s | {row['total_s'] / base:.2f} | "
            f"{row['shuffle_bytes'] / 2**20:,.0f} MiB | {row['peak_jvm_mb']:,} / {row['peak_python_mb']:,} MB | "
            f"{'n/a' if (heap := row.get('peak_driver_heap_mb')) is None else f'{heap:,} MB'} |"
        )
    v = results["verdict"]
    if v.get("linear_met") is not None:
        ratios = ", ".join(f"{k} {t:.2f} (rows {v['rows_vs_x4'][k]:.0f})" for k, t in v["time_vs_x4"].items())
        mem = ", ".join(
            f"{k} " + " ".join(f"{part} {ratio:.2f}" for part, ratio in m.items()) for k, m in v["memory_vs_x4"].items()
        )
        lines += [
            "",
            f"Time / x4: {ratios}: at most linear {'met' if v['linear_met'] else 'NOT met'}.",
            f"Driver peak memory / x4: {mem}: flat within 10% {'met' if v['memory_met'] else 'NOT met'}.",
        ]
    return "\n".join(lines) + "\n"


def picture(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["sizes"]
    flights = [r["flights"] / 1e6 for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    bottom = [0.0] * len(rows)
    for step in STEPS:
        values = [r["steps"][step]["s"] for r in rows]
        left.plot(flights, [b + v for b, v in zip(bottom, values, strict=True)], marker="o", label=f"+ {step}")
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    anchor = next((r for r in rows if r["size"] == 4), rows[0])
    linear = [anchor["total_s"] * r["size"] / anchor["size"] for r in rows]
    left.plot(flights, linear, linestyle="--", color="grey", label=f"linear from x{anchor['size']}")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("flights (millions)")
    left.set_ylabel("wall time (s), cumulative by step")
    left.set_title("features + train + score, 2 workers x 1 core")
    left.legend()
    right.plot(flights, [r["peak_jvm_mb"] for r in rows], marker="o", label="driver JVM")
    right.plot(flights, [r["peak_python_mb"] for r in rows], marker="o", label="driver Python")
    if all(r.get("peak_driver_heap_mb") is not None for r in rows):
        right.plot(flights, [r["peak_driver_heap_mb"] for r in rows], marker="o", label="driver JVM heap used")
    right.set_xscale("log")
    right.set_ylim(bottom=0)
    right.set_xlabel("flights (millions)")
    right.set_ylabel("peak resident memory (MB)")
    right.set_title("driver memory")
    right.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,4,16,64")
    parser.add_argument("--drive", action="store_true", help="run one size in this process (internal)")
    parser.add_argument("--size", type=int)
    parser.add_argument("--master")
    args = parser.parse_args()
    if args.drive:
        print(json.dumps(drive(args.size, args.master)), flush=True)
        return 0
    if not (MAIN_LAKEHOUSE / "silver" / "flights").exists():
        raise SystemExit("make bench-cluster reads the silver tables of `make run`: run `make run` first")
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with standalone(WORK / "cluster-logs") as cluster:
        for size in sizes:
            started = time.perf_counter()
            row = json_line_of(f"cluster x{size}", "benchmarks.cluster", "--drive", "--size", str(size),
                               "--master", cluster.url)  # fmt: skip
            row["process_s"] = time.perf_counter() - started
            rows.append(row)
            each = ", ".join(f"{step} {v['s']:.1f} s" for step, v in row["steps"].items())
            print(
                f"  cluster x{size}: {row['flights']:,} flights, steps {row['total_s']:.1f} s ({each}), "
                f"shuffle {row['shuffle_bytes'] / 2**20:,.0f} MiB, driver JVM {row['peak_jvm_mb']} MB",
                flush=True,
            )
    results = {
        "when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "cluster": (
            f"standalone master + {WORKERS} workers x {WORKER_CORES} core on 127.0.0.1, executors "
            f"{EXECUTOR_MEMORY}, driver {DRIVER_MEMORY}, {SHUFFLE_PARTITIONS} shuffle partitions (AQE)"
        ),
        "sizes": rows,
        "verdict": verdict(rows),
    }
    RESULTS_JSON.write_text(json.dumps(results, indent=2) + "\n")
    RESULTS_MD.write_text(render(results))
    picture(results, PICTURE)
    print(render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
