"""SIGKILL of a real spark-submit process while it writes leaves the table at its previous Delta
version, readable and unchanged; rerunning completes with the right result."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_ml.io.delta import Lakehouse
from spark_ml.io.landing import land_demo_data
from spark_ml.tasks import ingest
from tests.helpers import REPO, checksum
from tests.slice import slice_settings

pytestmark = [pytest.mark.runtime, pytest.mark.system, pytest.mark.slow]
LATER = ["2013-02.csv", "2013-03.csv", "2013-04.csv"]


def _parquet(folder: Path) -> set[Path]:
    return set(folder.rglob("*.parquet")) if folder.exists() else set()


def test_sigkill_during_a_write_leaves_the_previous_version(spark: SparkSession, tmp_path: Path) -> None:
    settings = slice_settings(tmp_path / "lakehouse")
    land_demo_data(settings)  # the full year
    flights = Path(settings.lakehouse.landing_dir) / "flights"
    parked = tmp_path / "parked"
    parked.mkdir()
    for path in flights.glob("*.csv"):
        if path.name != "2013-01.csv":
            shutil.move(path, parked / path.name)
    ingest.run(spark, settings)  # January and the small sources
    lake = Lakehouse(spark, settings)
    version = lake.latest_version("bronze.flights")
    before = checksum(lake.read("bronze.flights"))
    for name in LATER:
        shutil.move(parked / name, flights / name)

    bin_dir = Path(sys.executable).parent
    submit_args = subprocess.run(
        [str(bin_dir / "spark-ml"), "spark-submit-args"], check=True, capture_output=True, text=True
    ).stdout.split()
    table_dir = Path(settings.table_location("bronze.flights"))
    existing = _parquet(table_dir)
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    command = [
        str(bin_dir / "spark-submit"),
        *submit_args,
        "--master",
        "local[2]",
        str(REPO / "jobs" / "ingest.py"),
        "--set",
        f"lakehouse.root={settings.lakehouse.root}",
        "--set",
        "spark.shuffle_partitions=2",
    ]
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True
    )
    try:
        deadline = time.time() + 300
        while not (_parquet(table_dir) - existing):
            assert proc.poll() is None, "the job ended before it started writing bronze.flights"
            assert time.time() < deadline, "the job never started writing"
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)  # in the middle of the write: data files exist, no commit
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    assert _parquet(table_dir) - existing  # the killed write had started writing files
    assert lake.latest_version("bronze.flights") == version
    assert checksum(lake.read("bronze.flights")) == before

    result = ingest.run(spark, settings)  # the rerun completes, once
    per_file = {
        r["source_file"]: r["count"] for r in lake.read("bronze.flights").groupBy("source_file").count().collect()
    }
    expected = {f"flights/{n}": sum(1 for _ in (flights / n).open()) - 1 for n in ["2013-01.csv", *LATER]}
    assert per_file == expected
    assert result.metrics["rows_quarantined"] == 0
    assert lake.read("bronze.flights").where(F.col("month") == 1).count() == expected["flights/2013-01.csv"]
