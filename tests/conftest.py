"""Shared fixtures: ONE Spark session for the whole run, a tmp lakehouse, a tmp MLflow store.

`pytest --spark-connect` runs the same tests against a local Spark Connect server instead of a
classic session (make test runs the tests marked `connect` that way too).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from spark_ml.config import Settings, load_settings
from tests import connect_server
from tests.helpers import CONF, overrides_for
from tests.slice import SliceRun, run_slice


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--spark-connect", action="store_true", help="run Spark tests on a local Spark Connect server")
    parser.addoption(
        "--runtime-matrix",
        action="store_true",
        help="collect tests/matrix: the wheel on every runtime (make test-runtimes)",
    )


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """tests/matrix builds a venv per runtime: only `make test-runtimes` (--runtime-matrix) runs it."""
    if "matrix" in collection_path.parts and not config.getoption("--runtime-matrix"):
        return True
    return None


@pytest.fixture(scope="session")
def connect_mode(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--spark-connect"))


@pytest.fixture(scope="session")
def lakehouse_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lakehouse")


@pytest.fixture(scope="session")
def settings(lakehouse_root: Path) -> Settings:
    return load_settings("local", CONF, overrides_for(lakehouse_root))


@pytest.fixture(scope="session")
def spark(settings: Settings, connect_mode: bool, lakehouse_root: Path) -> Iterator[object]:
    """The one Spark session of the run: local[2] with Delta, or a Spark Connect client."""
    from spark_ml.session import get_spark

    if not connect_mode:
        session = get_spark(settings)
        yield session
        session.stop()
        return
    import pyspark

    from spark_ml.session import delta_package

    server = connect_server.start(Path(pyspark.__file__).parent, delta_package(), lakehouse_root, sys.executable)
    try:
        remote = settings.model_copy(
            update={"spark": settings.spark.model_copy(update={"mode": "connect", "remote": server.url})}
        )
        session = get_spark(remote)
        yield session
        session.stop()  # before the server stops: a closed client sends nothing more at exit
    finally:
        server.stop()


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
