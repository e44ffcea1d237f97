"""Shared fixtures: ONE Spark session for the whole run, a tmp lakehouse, a tmp MLflow store.

`pytest --spark-connect` runs the same tests against a local Spark Connect server instead of a
classic session (make test runs the tests marked `connect` that way too).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from spark_ml.config import Settings, load_settings
from tests.helpers import CONF, overrides_for
from tests.slice import SliceRun, run_slice


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--spark-connect", action="store_true", help="run Spark tests on a local Spark Connect server")


@pytest.fixture(scope="session")
def connect_mode(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--spark-connect"))


@pytest.fixture(scope="session")
def lakehouse_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lakehouse")


@pytest.fixture(scope="session")
def settings(lakehouse_root: Path) -> Settings:
    return load_settings("local", CONF, overrides_for(lakehouse_root))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_connect_server(root: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A real Spark Connect server (the spark-connect jar ships in pyspark) with Delta enabled."""
    import pyspark
    from delta import pip_utils  # noqa: F401  (delta-spark installed: its jars are resolved below)

    from spark_ml.session import DELTA_SQL_CONF

    spark_home = Path(pyspark.__file__).parent
    port = _free_port()
    delta_version = __import__("importlib.metadata").metadata.version("delta-spark")
    spark_minor = ".".join(pyspark.__version__.split(".")[:2])
    cmd = [
        str(spark_home / "bin" / "spark-submit"),
        "--class",
        "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--master",
        "local[2]",
        "--packages",
        f"io.delta:delta-spark_{spark_minor}_2.13:{delta_version}",
        "--conf",
        f"spark.connect.grpc.binding.port={port}",
        "--conf",
        "spark.connect.grpc.binding.address=127.0.0.1",
        "--conf",
        "spark.driver.host=127.0.0.1",
        "--conf",
        "spark.ui.enabled=false",
        "--conf",
        "spark.sql.session.timeZone=UTC",
        "--conf",
        "spark.sql.shuffle.partitions=2",
        "--conf",
        f"spark.sql.warehouse.dir={root}/_warehouse",
    ]
    for key, value in DELTA_SQL_CONF.items():
        cmd += ["--conf", f"{key}={value}"]
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_HOME": str(spark_home)}
    log = open(root / "connect-server.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Spark Connect server exited early: see {root / 'connect-server.log'}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError("Spark Connect server did not open its port within 180 s")


@pytest.fixture(scope="session")
def spark(settings: Settings, connect_mode: bool, lakehouse_root: Path) -> Iterator[object]:
    """The one Spark session of the run: local[2] with Delta, or a Spark Connect client."""
    from spark_ml.session import get_spark

    if not connect_mode:
        session = get_spark(settings)
        yield session
        session.stop()
        return
    proc, port = _start_connect_server(lakehouse_root)
    try:
        remote = settings.model_copy(
            update={"spark": settings.spark.model_copy(update={"mode": "connect", "remote": f"sc://127.0.0.1:{port}"})}
        )
        session = get_spark(remote)
        yield session
        session.stop()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def tmp_settings(tmp_path: Path) -> Settings:
    """Settings with a lakehouse root of this test's own (same session, separate tables)."""
    return load_settings("local", CONF, overrides_for(tmp_path / "lakehouse"))


@pytest.fixture
def mlflow_settings(tmp_path: Path) -> Iterator[Settings]:
    """A tmp SQLite MLflow tracking and registry store under a tmp lakehouse root."""
    settings = load_settings("local", CONF, overrides_for(tmp_path / "lakehouse"))
    yield settings
    shutil.rmtree(tmp_path / "lakehouse" / "mlflow", ignore_errors=True)


@pytest.fixture(scope="session")
def slice_run(spark: object, tmp_path_factory: pytest.TempPathFactory) -> SliceRun:
    """The whole pipeline once on a slice of the real data (see tests/slice.py)."""
    return run_slice(spark, tmp_path_factory.mktemp("slice"))  # type: ignore[arg-type]
