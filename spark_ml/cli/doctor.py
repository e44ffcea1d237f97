"""`spark-ml doctor`: checks the runtime one line each: versions, a Delta round trip, an MLflow run."""

from __future__ import annotations

import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from spark_ml.config import Settings
from spark_ml.errors import error_summary, first_line
from spark_ml.versions import dist_version


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.name:<8}  {self.detail}"


def check_python() -> Check:
    ok = sys.version_info >= (3, 10)
    return Check("python", ok, f"{platform.python_version()} at {sys.executable}" + ("" if ok else " (need >= 3.10)"))


def check_java() -> Check:
    java = shutil.which("java")
    if java is None:
        return Check("java", False, "no java on PATH (install Java 17)")
    out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    text = (out.stderr or out.stdout).strip()
    match = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    major = int(match.group(1)) if match else 0
    major = int(match.group(2)) if match and major == 1 and match.group(2) else major
    first = first_line(text) or "unknown"
    return Check("java", major >= 17, first + ("" if major >= 17 else " (need Java >= 17)"))


def check_package(label: str, *dists: str) -> Check:
    version = dist_version(*dists)
    return Check(label, bool(version), version or f"{dists[0]} is not installed (pip install 'spark-ml[local]')")


def check_delta(settings: Settings) -> Check:
    from spark_ml.io.delta import delta_roundtrip
    from spark_ml.session import get_spark

    start = time.perf_counter()
    spark = get_spark(settings)
    started = time.perf_counter() - start
    path = f"{settings.lakehouse.root.rstrip('/')}/_doctor/delta_check"
    counts = delta_roundtrip(spark, path)
    ok = counts == {"v0": 3, "v1": 5, "time_travel_v0": 3}
    return Check(
        "delta",
        ok,
        f"Spark {spark.version} started in {started:.1f} s; wrote, read, appended and read back version 0 "
        f"at {path}: {counts}",
    )


def check_mlflow(settings: Settings) -> Check:
    import mlflow

    from spark_ml.io import tracking

    with tracking.active_run(settings, "doctor", {"spark_ml.task": "doctor"}) as run:
        mlflow.log_param("check", "doctor")
        mlflow.log_metric("ok", 1.0)
    fetched = tracking.run_record(settings, run.info.run_id)
    ok = fetched["metrics"].get("ok") == 1.0
    return Check("mlflow", ok, f"run {run.info.run_id} logged to {settings.tracking_uri}")


def run_checks(settings: Settings) -> list[Check]:
    checks: list[Check] = [
        check_python(),
        check_java(),
        check_package("pyspark", "pyspark"),
        check_package("delta", "delta-spark"),
        check_package("mlflow", "mlflow", "mlflow-skinny"),
    ]
    steps: list[tuple[str, Callable[[Settings], Check]]] = [("delta", check_delta), ("mlflow", check_mlflow)]
    for name, step in steps:
        try:
            checks.append(step(settings))
        except Exception as exc:
            checks.append(Check(name, False, error_summary(exc)))
    return checks
