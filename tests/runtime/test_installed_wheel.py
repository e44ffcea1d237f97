"""The built wheel in a fresh virtual environment, from a folder with no checkout: console
scripts, spark-submit of jobs/*.py, then a real standalone cluster (master and two workers on
127.0.0.1) that runs the features and train jobs and gives the same results as local mode.

Each test works on a lakehouse of its own: a copy of the slice the session built (`world`),
so the tests run alone and in any order.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from spark_ml.cli.dev import free_port
from tests.helpers import REPO, checksum
from tests.runtime.conftest import Installed
from tests.slice import SLICE, SliceRun
from tests.worlds import copy_lakehouse

pytestmark = [pytest.mark.runtime, pytest.mark.system, pytest.mark.slow]

# The logistic regression of the slice, fitted on equal data in local mode and on the cluster: its
# L-BFGS gradient is a sum over the same partitions, added in task order; 1e-9 bounds that order's
# effect on a metric with three orders of magnitude to spare (1.1e-16 measured for AUC reruns).
AUC_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Deployed:
    installed: Installed
    conf_dir: Path
    jobs: Path
    submit_args: list[str]

    def common(self, root: Path, *extra: str) -> list[str]:
        sets = [f"lakehouse.root={root}", "spark.shuffle_partitions=2", "logging.level=WARNING", *SLICE, *extra]
        return ["--conf-dir", str(self.conf_dir), *[arg for item in sets for arg in ("--set", item)]]


@pytest.fixture(scope="module")
def deployed(installed: Installed) -> Deployed:
    """What a user ships: jobs/*.py and an external conf folder, next to the installed wheel."""
    work = installed.workdir
    jobs, conf_dir = work / "jobs", work / "conf"
    if not jobs.exists():
        shutil.copytree(REPO / "jobs", jobs)
        shutil.copytree(REPO / "conf", conf_dir)
        (conf_dir / "local" / "zz_deployment.yml").write_text("project:\n  name: flight_delay_deployed\n")
    args = installed.run(installed.bin("spark-ml"), "spark-submit-args").stdout.split()
    return Deployed(installed, conf_dir, jobs, args)


def test_console_scripts_run_from_the_wheel_alone(deployed: Deployed, tmp_path: Path) -> None:
    inst, root = deployed.installed, tmp_path / "lakehouse"
    assert not (inst.workdir / ".git").exists()
    assert not (inst.workdir / "spark_ml").exists()
    shown = inst.run(inst.bin("spark-ml"), "config", "show", "--set", f"lakehouse.root={root}")
    assert "name: flight_delay\n" in shown.stdout  # the conf inside the wheel
    external = inst.run(inst.bin("spark-ml"), "config", "show", *deployed.common(root))
    assert "name: flight_delay_deployed" in external.stdout
    bad = inst.run(inst.bin("spark-ml-train"), "--set", "train.estimator=svm", check=False)
    assert bad.returncode == 2
    assert bad.stderr.startswith("spark-ml train: error: invalid value 'svm' for 'train.estimator'")
    landed = inst.run(inst.bin("spark-ml-land-demo-data"), "--rows-per-month", "50", *deployed.common(root))
    assert "flights/2013-12.csv (50 rows)" in landed.stdout
    ran = inst.run(inst.bin("spark-ml-pipeline"), *deployed.common(root, "pipeline.steps=[ingest, silver]"))
    assert "[1/2] ingest ..." in ran.stdout
    assert "[2/2] silver done in" in ran.stdout
    assert "flights/2013-12.csv: read 50 = written 50 + quarantined 0" in ran.stdout


def test_spark_submit_runs_a_job(deployed: Deployed, spark: SparkSession, world: SliceRun, tmp_path: Path) -> None:
    """The features job under spark-submit rebuilds exactly the slice's feature table."""
    inst = deployed.installed
    root = copy_lakehouse(Path(world.settings.lakehouse.root), tmp_path / "lakehouse")
    moved = "tables.gold.flight_features.location=gold/flight_features_submitted"
    out = inst.run(
        inst.bin("spark-submit"),
        *deployed.submit_args,
        "--master",
        "local[2]",
        deployed.jobs / "features.py",
        *deployed.common(root, moved),
    )
    assert "features | env local" in out.stdout
    expected = spark.read.format("delta").load(str(root / "gold" / "flight_features"))
    submitted = spark.read.format("delta").load(str(root / "gold" / "flight_features_submitted"))
    assert submitted.count() == expected.count() == world.results["features"].metrics["rows"]
    assert checksum(submitted) == checksum(expected)


@dataclass
class Cluster:
    url: str
    ui: str
    workers: list[str]
    processes: list[subprocess.Popen[bytes]]


def _json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/json/", timeout=5) as response:
        data: dict[str, Any] = json.load(response)
    return data


@pytest.fixture(scope="module")
def cluster(deployed: Deployed) -> Iterator[Cluster]:
    """A standalone master and two one-core workers started with spark-class; every process is
    stopped by its process group afterwards, also when a test fails."""
    inst = deployed.installed
    spark_class = inst.spark_home / "bin" / "spark-class"
    port, ui = free_port(), free_port()
    worker_uis = [free_port(), free_port()]
    logs = inst.workdir / "cluster-logs"
    logs.mkdir(exist_ok=True)
    env = {**inst.env(), "SPARK_HOME": str(inst.spark_home)}
    processes: list[subprocess.Popen[bytes]] = []

    def start(name: str, *args: str) -> None:
        with (logs / f"{name}.log").open("wb") as log:
            processes.append(
                subprocess.Popen(
                    [str(spark_class), *args], stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
                )
            )

    try:
        start(
            "master",
            "org.apache.spark.deploy.master.Master",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--webui-port",
            str(ui),
        )
        url = f"spark://127.0.0.1:{port}"
        for i, worker_ui in enumerate(worker_uis, 1):
            start(
                f"worker{i}",
                "org.apache.spark.deploy.worker.Worker",
                url,
                "--host",
                "127.0.0.1",
                "--cores",
                "1",
                "--memory",
                "1500m",
                "--webui-port",
                str(worker_ui),
                "--work-dir",
                str(inst.workdir / f"w{i}"),
            )
        deadline, alive = time.time() + 120, 0
        while time.time() < deadline and alive < 2:
            time.sleep(1)
            try:
                alive = int(_json(f"http://127.0.0.1:{ui}").get("aliveworkers", 0))
            except OSError:
                continue
        assert alive == 2, f"the standalone cluster did not come up: see {logs}"
        yield Cluster(url, f"http://127.0.0.1:{ui}", [f"http://127.0.0.1:{p}" for p in worker_uis], processes)
    finally:
        for proc in processes:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for proc in processes:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def _mlflow_metric(db: Path, name: str) -> float:
    with sqlite3.connect(db) as con:
        row = con.execute("SELECT value FROM metrics WHERE key = ? ORDER BY timestamp DESC LIMIT 1", (name,)).fetchone()
    return float(row[0])


def test_a_standalone_cluster_runs_the_jobs_and_matches_local_mode(
    deployed: Deployed, cluster: Cluster, spark: SparkSession, world: SliceRun, tmp_path: Path
) -> None:
    """features.py and train.py as two applications on the cluster, each with executors on both
    workers (read from the master's and the workers' JSON endpoints); the feature table equals the
    slice's (built in local mode) row for row, and the model's test AUC-ROC equals local mode's."""
    inst = deployed.installed
    root = copy_lakehouse(Path(world.settings.lakehouse.root), tmp_path / "lakehouse")
    on_cluster = [
        "--master",
        cluster.url,
        "--total-executor-cores",
        "2",
        "--executor-memory",
        "1g",
        "--conf",
        "spark.executor.cores=1",
    ]
    moved = [
        "tables.gold.flight_features.location=gold/flight_features_cluster",
        f"mlflow.tracking_uri=sqlite:///{root}/mlflow-cluster.db",
    ]
    for job in ("features.py", "train.py"):
        inst.run(
            inst.bin("spark-submit"),
            *deployed.submit_args,
            *on_cluster,
            deployed.jobs / job,
            *deployed.common(root, *moved),
        )
    local = spark.read.format("delta").load(str(root / "gold" / "flight_features"))
    remote = spark.read.format("delta").load(str(root / "gold" / "flight_features_cluster"))
    assert checksum(remote) == checksum(local)
    cluster_auc = _mlflow_metric(root / "mlflow-cluster.db", "test_auc_roc")
    assert cluster_auc == pytest.approx(world.results["train"].metrics["test_auc_roc"], abs=AUC_TOLERANCE)

    master = _json(cluster.ui)
    apps = {app["id"]: app for app in master["completedapps"]}
    assert sorted(app["state"] for app in apps.values()) == ["FINISHED", "FINISHED"]
    assert sorted(w["cores"] for w in master["workers"]) == [1, 1]
    for worker in cluster.workers:
        ran = [e["appid"] for e in _json(worker)["finishedexecutors"]]
        # one one-core executor of each application on each worker: both jobs used both workers' cores
        assert sorted(ran) == sorted(apps), f"{worker} ran executors of {ran}, not one of each application"

    # Each run's manifest says where it ran: the master, its application, two one-core executors.
    recorded = (
        spark.read.format("delta")
        .load(str(root / "ml" / "runs"))
        .where("task IN ('features', 'train') AND compute.master LIKE 'spark://%'")
        .select("task", "compute.*")
        .collect()
    )
    assert sorted(r["task"] for r in recorded) == ["features", "train"]
    for row in recorded:
        assert (row["master"], row["remote"], row["executors"], row["cores"]) == (cluster.url, None, 2, 2)
    assert sorted(r["app_id"] for r in recorded) == sorted(apps)
