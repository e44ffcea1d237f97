"""The built wheel in a fresh virtual environment, from a folder with no checkout: console
scripts, spark-submit of jobs/*.py, then a real standalone cluster (master and two workers on
127.0.0.1) giving the same results as local mode."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from spark_ml.config import load_settings
from spark_ml.tasks import train
from tests.helpers import REPO, checksum
from tests.runtime.conftest import Installed

pytestmark = [pytest.mark.runtime, pytest.mark.slow]

TRAIN = ["--set", "train.estimator=logistic_regression", "--set", "train.params={maxIter: 30, regParam: 0.01}"]


@dataclass(frozen=True)
class Deployed:
    installed: Installed
    root: Path
    conf_dir: Path
    jobs: Path
    submit_args: list[str]

    def common(self, *extra: str) -> list[str]:
        return ["--conf-dir", str(self.conf_dir), "--set", f"lakehouse.root={self.root}", *extra]


@pytest.fixture(scope="module")
def deployed(installed: Installed) -> Deployed:
    """What a user ships: jobs/*.py and an external conf folder, next to the installed wheel."""
    work = installed.workdir
    jobs = work / "jobs"
    shutil.copytree(REPO / "jobs", jobs)
    conf_dir = work / "conf"
    shutil.copytree(REPO / "conf", conf_dir)
    (conf_dir / "local" / "zz_deployment.yml").write_text("project:\n  name: flight_delay_deployed\n")
    args = installed.run(installed.bin("spark-ml"), "spark-submit-args").stdout.split()
    return Deployed(installed, work / "lakehouse", conf_dir, jobs, args)


def test_console_scripts_run_from_the_wheel_alone(deployed: Deployed) -> None:
    inst = deployed.installed
    assert not (inst.workdir / ".git").exists()
    assert not (inst.workdir / "spark_ml").exists()
    shown = inst.run(inst.bin("spark-ml"), "config", "show", "--set", f"lakehouse.root={deployed.root}")
    assert "name: flight_delay\n" in shown.stdout  # the conf inside the wheel
    external = inst.run(inst.bin("spark-ml"), "config", "show", *deployed.common())
    assert "name: flight_delay_deployed" in external.stdout
    bad = inst.run(inst.bin("spark-ml-train"), "--set", "train.estimator=svm", check=False)
    assert bad.returncode == 2
    assert bad.stderr.startswith("spark-ml train: error: invalid value 'svm' for 'train.estimator'")
    landed = inst.run(inst.bin("spark-ml"), "land-demo-data", "--rows-per-month", "300", *deployed.common())
    assert "flights/2013-12.csv (300 rows)" in landed.stdout
    ran = inst.run(inst.bin("spark-ml-pipeline"), *deployed.common("--set", "pipeline.steps=[ingest, silver]"))
    assert "[1/2] ingest ..." in ran.stdout
    assert "[2/2] silver done in" in ran.stdout
    assert "flights/2013-12.csv: read 300 = written 300 + quarantined 0" in ran.stdout


def test_spark_submit_runs_a_job(deployed: Deployed, spark: SparkSession) -> None:
    inst = deployed.installed
    out = inst.run(
        inst.bin("spark-submit"),
        *deployed.submit_args,
        "--master",
        "local[2]",
        deployed.jobs / "features.py",
        *deployed.common(),
    )
    assert "features | env local" in out.stdout
    features = spark.read.format("delta").load(str(deployed.root / "gold" / "flight_features"))
    assert features.count() > 3000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    url: str
    processes: list[subprocess.Popen[bytes]]


@pytest.fixture(scope="module")
def cluster(deployed: Deployed) -> Iterator[Cluster]:
    """A standalone master and two one-core workers started with spark-class; every process is
    stopped by pid afterwards, also when a test fails."""
    inst = deployed.installed
    spark_class = inst.spark_home / "bin" / "spark-class"
    port, ui = _free_port(), _free_port()
    logs = inst.workdir / "cluster-logs"
    logs.mkdir(exist_ok=True)
    env = {**inst.env(), "SPARK_HOME": str(inst.spark_home)}
    processes: list[subprocess.Popen[bytes]] = []

    def start(name: str, *args: str) -> None:
        log = open(logs / f"{name}.log", "wb")  # noqa: SIM115
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
        for i in (1, 2):
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
                str(_free_port()),
                "--work-dir",
                str(inst.workdir / f"w{i}"),
            )
        deadline = time.time() + 120
        alive = 0
        while time.time() < deadline and alive < 2:
            time.sleep(1)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{ui}/json/", timeout=5) as response:
                    alive = int(json.load(response).get("aliveworkers", 0))
            except OSError:
                continue
        assert alive == 2, f"the standalone cluster did not come up: see {logs}"
        yield Cluster(url, processes)
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
    import sqlite3

    with sqlite3.connect(db) as con:
        row = con.execute("SELECT value FROM metrics WHERE key = ? ORDER BY timestamp DESC LIMIT 1", (name,)).fetchone()
    return float(row[0])


def test_a_standalone_cluster_gives_the_same_results_as_local_mode(
    deployed: Deployed, cluster: Cluster, spark: SparkSession
) -> None:
    inst = deployed.installed
    on_cluster = [
        "--master",
        cluster.url,
        "--py-files",
        str(inst.wheel),
        "--total-executor-cores",
        "2",
        "--executor-memory",
        "1g",
    ]
    cluster_set = ["--set", "tables.gold.flight_features.location=gold/flight_features_cluster"]
    inst.run(
        inst.bin("spark-submit"),
        *deployed.submit_args,
        *on_cluster,
        deployed.jobs / "features.py",
        *deployed.common(*cluster_set),
    )
    local = spark.read.format("delta").load(str(deployed.root / "gold" / "flight_features"))
    remote = spark.read.format("delta").load(str(deployed.root / "gold" / "flight_features_cluster"))
    assert checksum(remote) == checksum(local)

    store = f"mlflow.tracking_uri=sqlite:///{deployed.root}/mlflow-cluster.db"
    inst.run(
        inst.bin("spark-submit"),
        *deployed.submit_args,
        *on_cluster,
        deployed.jobs / "train.py",
        *deployed.common(*TRAIN, *cluster_set, "--set", store),
    )
    cluster_auc = _mlflow_metric(deployed.root / "mlflow-cluster.db", "test_auc_roc")
    # the same training in local mode (this process's session) on the local-mode feature table
    overrides = [v for i, v in enumerate(deployed.common(*TRAIN)) if i % 2 == 1 and i > 1]
    local_settings = load_settings(
        "local", deployed.conf_dir, [*overrides, f"mlflow.tracking_uri=sqlite:///{deployed.root}/mlflow-local.db"]
    )
    local_auc = train.run(spark, local_settings).metrics["test_auc_roc"]
    assert local_auc > 0.55
    assert cluster_auc == pytest.approx(local_auc, abs=0.002)
    for proc in cluster.processes:
        assert proc.poll() is None  # the cluster really ran the jobs and is still up
