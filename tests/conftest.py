"""Shared fixtures: ONE Spark session for the whole run, the data world built once, copied to change.

Tiers (tests/tiers.py): every test is `unit`, `integration` (it reads the data world) or `system`
(it starts other processes, marked by hand); a test that starts a process without `system` fails.
`make test-fast` runs `unit`, `make test` runs `unit` and `integration` and then the unit tests over
Spark Connect, `make test-system` runs `system`.

`pytest --spark-connect` runs the Spark tests against Spark Connect: the dev server when one is up
(`spark-ml dev start`), else a local server started for the run. Unit tests that cannot run there
carry `jvm_only(reason)`.

`spark` is added to every test that uses the session (directly or through a fixture); a test
marked `spark` that does not use it is an error.
"""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.helpers import CONF, REPO, overrides_for

if TYPE_CHECKING:  # imported where a fixture needs them: a test run starts with what it uses
    from spark_ml.config import Settings
    from tests.slice import SliceRun

SLOW_SECONDS = 20.0

pytest_plugins = ["tests.tiers", "pytester"]


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


_durations: dict[str, float] = {}
_marked_slow: dict[str, bool] = {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wrongly_marked = []
    for item in items:
        _marked_slow[item.nodeid] = item.get_closest_marker("slow") is not None
        uses = "spark" in getattr(item, "fixturenames", ())
        if uses and item.get_closest_marker("spark") is None:
            item.add_marker(pytest.mark.spark)
        elif not uses and item.get_closest_marker("spark") is not None:
            wrongly_marked.append(item.nodeid)
    if wrongly_marked:
        raise pytest.UsageError(f"marked spark but not using the session: {', '.join(wrongly_marked)}")


# Every test session is set for small data: the unit tests' handful of rows and the data world's
# 600 flights a month alike, where compiling generated code and planning adaptive shuffles cost more
# than running the query. Measured on 121 Spark-heavy unit tests (quality, Delta I/O, ML,
# transforms): 171 s -> 141 s; on the world's 58 tests alone, in one sitting (2026-12-03): 572 s ->
# 464 s. Results do not depend on them (the same tests pass either way). The jobs themselves keep
# the local defaults (spark_ml.session): `make run`, spark-submit and the system tests' processes;
# so does a run with a system test that compares the world with such a job (the system tier).
SMALL_DATA_CONF = {
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.shuffle.partitions": "1",
    "spark.databricks.delta.snapshotPartitions": "1",
}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":  # a shared fixture's build is paid by whichever test needs it first
        _durations[report.nodeid] = report.duration


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    if _dev_server_used:
        terminalreporter.write_line(f"Spark tests ran on the dev server at {_dev_server_used[0]}")
    seed = getattr(config.option, "randomly_seed", None)
    if config.pluginmanager.hasplugin("randomly") and getattr(config.option, "randomly_reorganize", False):
        terminalreporter.write_line(f"tests ran in random order: --randomly-seed={seed} reruns this order")
    unmarked = [
        f"{nodeid} ({seconds:.0f} s)"
        for nodeid, seconds in sorted(_durations.items(), key=lambda kv: -kv[1])
        if seconds > SLOW_SECONDS and not _marked_slow.get(nodeid, True)
    ]
    if unmarked:
        terminalreporter.write_line(f"tests over {SLOW_SECONDS:.0f} s not marked slow: {', '.join(unmarked)}")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """A test that configures logging (the CLI does) leaves the root logger as it found it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in list(logging.root.manager.loggerDict)}
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    for name, saved in levels.items():
        logging.getLogger(name).setLevel(saved)


@pytest.fixture(scope="session")
def connect_mode(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--spark-connect"))


@pytest.fixture(scope="session")
def lakehouse_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lakehouse")


@pytest.fixture(scope="session")
def settings(lakehouse_root: Path) -> Settings:
    from spark_ml.config import load_settings

    return load_settings("local", CONF, overrides_for(lakehouse_root))


def _dev_server_url() -> str | None:
    """The URL of the dev server (`spark-ml dev start` at this checkout, or the one whose folder
    SPARK_ML_DEV_DIR names), when one is up."""
    import os

    from spark_ml.cli.dev import DevServer
    from spark_ml.config import load_settings

    folder = os.environ.get("SPARK_ML_DEV_DIR")
    if folder is None:
        root = Path(load_settings("local", CONF).lakehouse.root)
        folder = str((root if root.is_absolute() else REPO / root) / "dev")
    found = DevServer(Path(folder)).running()
    return None if found is None else found.url


_dev_server_used: list[str] = []


def _compares_world_with_jobs(item: pytest.Item) -> bool:
    """A system test that reads the world and compares it with jobs run in other processes at the
    jobs' own settings (spark-submit, the standalone cluster: a test AUC-ROC equal within 1e-9):
    its run builds the world at those settings too."""
    from tests import tiers

    return item.get_closest_marker("system") is not None and tiers.reads_world(item)


@pytest.fixture(scope="session")
def spark(
    settings: Settings, connect_mode: bool, lakehouse_root: Path, request: pytest.FixtureRequest
) -> Iterator[object]:
    """The one Spark session of the run: local[2] with Delta, or a Spark Connect client of the dev
    server (when it is up) or of a server started for this run."""
    from spark_ml.session import get_spark
    from tests import tiers

    if not connect_mode:
        with tiers.allowed():
            session = get_spark(settings)
        if not any(_compares_world_with_jobs(item) for item in request.session.items):
            for key, value in SMALL_DATA_CONF.items():
                session.conf.set(key, value)
        yield session
        session.stop()
        return
    import pyspark

    from spark_ml.cli.dev import start_server
    from spark_ml.session import delta_package

    url = _dev_server_url()
    server = None
    if url is not None:
        _dev_server_used.append(url)
    else:
        with tiers.allowed():
            server = start_server(Path(pyspark.__file__).parent, delta_package(), lakehouse_root, sys.executable)
        url = server.url
    try:
        remote = settings.model_copy(
            update={"spark": settings.spark.model_copy(update={"mode": "connect", "remote": url})}
        )
        session = get_spark(remote)
        for key, value in SMALL_DATA_CONF.items():  # this client's session only, also on the dev server
            session.conf.set(key, value)
        yield session
        session.stop()  # before the server stops: a closed client sends nothing more at exit
    finally:
        if server is not None:
            server.stop()


@pytest.fixture
def tmp_settings(tmp_path: Path) -> Settings:
    """Settings with a lakehouse root of this test's own (same session, separate tables)."""
    from spark_ml.config import load_settings

    return load_settings("local", CONF, overrides_for(tmp_path / "lakehouse"))


@pytest.fixture
def mlflow_settings(tmp_path: Path) -> Iterator[Settings]:
    """A tmp SQLite MLflow tracking and registry store under a tmp lakehouse root."""
    from spark_ml.config import load_settings

    settings = load_settings("local", CONF, overrides_for(tmp_path / "lakehouse"))
    yield settings
    shutil.rmtree(tmp_path / "lakehouse" / "mlflow", ignore_errors=True)


@pytest.fixture(scope="session")
def world(spark: object, tmp_path_factory: pytest.TempPathFactory) -> SliceRun:
    """The one data world of the run: the whole pipeline once on a slice of the real data (600
    flights a month, see tests/slice.py). Read it; a test that changes tables, models or manifests
    works on `world_copy`, and a test that needs an earlier state derives it from a copy."""
    from tests.slice import run_slice

    return run_slice(spark, tmp_path_factory.mktemp("world"))  # type: ignore[arg-type]


@pytest.fixture
def world_copy(world: SliceRun, tmp_path: Path) -> SliceRun:
    """A copy of the world (tables, landing files, MLflow store) that this test may change."""
    from tests.slice import SliceRun, slice_settings
    from tests.worlds import copy_lakehouse

    root = copy_lakehouse(Path(world.settings.lakehouse.root), tmp_path / "world")
    return SliceRun(slice_settings(root), world.results)
