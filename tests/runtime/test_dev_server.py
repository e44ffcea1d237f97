"""`spark-ml dev start|status|stop`: a warm Spark Connect server for the edit-test loop, and
`pytest --spark-connect` running a test file against it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from spark_ml.cli.dev import free_port
from tests.helpers import REPO

pytestmark = [pytest.mark.runtime, pytest.mark.system]

SPARK_ML = str(Path(sys.executable).parent / "spark-ml")
CLIENT = """
import sys
from pyspark.sql import SparkSession
spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
path = sys.argv[2]
spark.range(1000).selectExpr("id", "id % 7 AS k").write.format("delta").save(path)
print(spark.read.format("delta").load(path).groupBy("k").count().count())
spark.stop()
"""


def dev(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SPARK_ML, "dev", *args, "--set", f"lakehouse.root={root}"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=root.parent,
    )


def jvms_on(port: int) -> list[int]:
    """Processes whose command line binds a Spark Connect server to `port`."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if f"spark.connect.grpc.binding.port={port}" in cmdline:
                found.append(int(proc.name))
    return found


@pytest.fixture
def lakehouse(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "lakehouse"
    yield root
    dev(root, "stop")  # whatever a failing test left running


@pytest.mark.slow  # a Connect server starts (with Delta) and stops: 25 s in the .ci/run of 2026-12-04
def test_start_status_stop_leave_no_jvm(lakehouse: Path) -> None:
    port = free_port()
    started = dev(lakehouse, "start", "--port", str(port))
    assert started.returncode == 0, started.stderr
    url = f"sc://127.0.0.1:{port}"
    match = re.match(rf"dev Spark Connect server started at {url} \(pid (\d+), log (\S+)\)", started.stdout)
    assert match, started.stdout
    pid = int(match.group(1))
    assert Path(match.group(2)) == lakehouse / "dev" / "connect-server.log"
    assert (lakehouse / "dev" / "connect-server.pid").read_text().strip() == str(pid)

    again = dev(lakehouse, "start")
    assert again.returncode == 0
    assert again.stdout.startswith(f"dev Spark Connect server already running at {url} (pid {pid}, log ")

    status = dev(lakehouse, "status")
    assert (status.returncode, status.stdout.split(" (")[0]) == (0, f"dev Spark Connect server running at {url}")

    client = subprocess.run(
        [sys.executable, "-c", CLIENT, url, str(lakehouse / "t")], capture_output=True, text=True, timeout=120
    )
    assert client.returncode == 0, client.stderr[-2000:]
    assert client.stdout.strip() == "7"  # a Delta write and read through the server

    stopped = dev(lakehouse, "stop")
    assert (stopped.returncode, stopped.stdout.strip()) == (0, f"dev server stopped (pid {pid})")
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert jvms_on(port) == []
    assert not (lakehouse / "dev" / "connect-server.pid").exists()

    none = dev(lakehouse, "stop")
    assert (none.returncode, none.stdout.strip()) == (0, "no dev server running")
    gone = dev(lakehouse, "status")
    assert gone.returncode == 3
    assert gone.stdout.startswith("no dev server running")


def test_a_bad_port_exits_2_before_anything_starts(lakehouse: Path) -> None:
    out = dev(lakehouse, "start", "--port", "70000")
    assert (out.returncode, out.stderr) == (2, "spark-ml dev: error: --port must be between 1 and 65535, got 70000\n")
    assert not (lakehouse / "dev").exists()


def test_pytest_uses_the_running_dev_server(lakehouse: Path) -> None:
    started = dev(lakehouse, "start", "--port", str(free_port()))
    assert started.returncode == 0, started.stderr
    url = started.stdout.split(" at ")[1].split(" ")[0]
    env = {**os.environ, "SPARK_ML_DEV_DIR": str(lakehouse / "dev")}
    begin = time.monotonic()
    command = ["-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", "--spark-connect"]
    run = subprocess.run(
        [sys.executable, *command, "tests/unit/transforms/test_asof.py"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env=env,
    )
    seconds = time.monotonic() - begin
    assert run.returncode == 0, run.stdout[-3000:]
    assert f"Spark tests ran on the dev server at {url}" in run.stdout
    assert re.search(r"^\d+ passed", run.stdout.splitlines()[-1]), run.stdout[-500:]
    print(f"pytest --spark-connect tests/unit/transforms/test_asof.py with the dev server up: {seconds:.1f} s")
