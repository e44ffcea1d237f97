"""The only place a SparkSession is built or found.

`get_spark(cfg)` returns, in order: a Spark Connect session when the config names a remote; the
active session (a notebook, Databricks, a test fixture); the session of a runtime that already
started the JVM (spark-submit, a Databricks job); else a new local session with Delta enabled.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from spark_ml.config import Settings
from spark_ml.errors import SparkMLError, error_summary

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

DELTA_SQL_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}


def get_spark(cfg: Settings | None = None) -> SparkSession:
    """Find or build the SparkSession for these settings (see the module docstring)."""
    from pyspark.sql import SparkSession

    settings = cfg or Settings()
    spark_cfg = settings.spark
    if spark_cfg.mode == "connect" or spark_cfg.remote:
        if not spark_cfg.remote:
            raise SparkMLError("spark.mode is 'connect' but spark.remote (sc://host:port) is not set")
        return _with_runtime_conf(SparkSession.builder.remote(spark_cfg.remote).getOrCreate(), settings)
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if spark_cfg.mode == "auto" and runtime_provides_session():
        return _with_runtime_conf(SparkSession.builder.appName(spark_cfg.app_name).getOrCreate(), settings)
    return _build_local(settings)


def _with_runtime_conf(session: SparkSession, settings: Settings) -> SparkSession:
    """Apply the env's SQL settings to a session this process did not configure at start. A setting
    the runtime does not let a session change (serverless allows only a few) is logged and skipped."""
    from spark_ml.errors import CONFIG_NOT_CHANGEABLE, condition

    for key, value in runtime_conf(settings).items():
        try:
            session.conf.set(key, value)
        except Exception as exc:
            if condition(exc) not in CONFIG_NOT_CHANGEABLE:
                raise
            log.warning("this runtime does not let a session set %s: keeping its own value", key)
    return session


def runtime_conf(settings: Settings) -> dict[str, str]:
    """SQL settings applied to a session the runtime started (spark-submit, a Databricks job):
    UTC, the configured shuffle partitions, and the `spark.sql.*` / `spark.databricks.*` keys of
    `spark.conf` (the others configure a JVM and only apply to sessions built here)."""
    conf = {"spark.sql.session.timeZone": "UTC"}
    if settings.spark.shuffle_partitions is not None:
        conf["spark.sql.shuffle.partitions"] = str(settings.spark.shuffle_partitions)
    conf.update({k: v for k, v in settings.spark.conf.items() if k.startswith(("spark.sql.", "spark.databricks."))})
    return conf


def runtime_provides_session() -> bool:
    """True under spark-submit, pyspark shells and Databricks, where the JVM already runs."""
    return "PYSPARK_GATEWAY_PORT" in os.environ or "DATABRICKS_RUNTIME_VERSION" in os.environ


def local_conf(settings: Settings) -> dict[str, str]:
    """Spark settings of a local session: Delta, UTC, quiet, loopback only, few partitions."""
    conf = {
        **DELTA_SQL_CONF,
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(settings.spark.shuffle_partitions or 8),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.log.level": "WARN",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.warehouse.dir": f"{settings.lakehouse.root.rstrip('/')}/_warehouse",
    }
    conf.update(settings.spark.conf)
    return conf


def delta_package() -> str:
    """The Maven coordinates of the Delta jars that match the installed delta-spark and pyspark,
    by the rule of delta-spark's own pip helper: Delta 3.x `delta-spark_2.12`, 4.0.x
    `delta-spark_2.13`, 4.1 and later one artifact per Spark minor `delta-spark_<spark>_2.13`."""
    import pyspark

    from spark_ml.versions import dist_version

    delta = dist_version("delta-spark")
    if delta is None:
        raise SparkMLError(
            "delta-spark is not installed: install the local extra (pip install 'spark-ml[local]') "
            "or set spark.delta_packages=false and spark.conf.'spark.jars' to the Delta jars"
        )
    major, minor = (int(p) for p in delta.split(".")[:2])
    spark_minor = ".".join(pyspark.__version__.split(".")[:2])
    if major < 4:
        artifact = "delta-spark_2.12"
    elif (major, minor) == (4, 0):
        artifact = "delta-spark_2.13"
    else:
        artifact = f"delta-spark_{spark_minor}_2.13"
    return f"io.delta:{artifact}:{delta}"


def _build_local(settings: Settings) -> SparkSession:
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(settings.spark.master).appName(settings.spark.app_name)
    conf = local_conf(settings)
    if settings.spark.delta_packages and "spark.jars" not in settings.spark.conf:
        conf.setdefault("spark.jars.packages", delta_package())
    for key, value in conf.items():
        builder = builder.config(key, value)
    # pyspark's SparkContext takes the Python workers' interpreter from PYSPARK_PYTHON, else
    # `python3` on PATH (the spark.pyspark.python setting does not reach it): outside an activated
    # venv that interpreter lacks the venv's packages, e.g. pandas for xgboost.spark's training.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    log.info("starting local Spark %s with Delta", settings.spark.master)
    try:
        with _jvm_output_to(_jvm_log(settings)):
            return builder.getOrCreate()
    except Exception as exc:
        raise SparkMLError(
            f"could not start local Spark ({error_summary(exc)}); "
            "check that Java 17 is on PATH or JAVA_HOME, and that Maven Central is reachable for the Delta jars"
        ) from exc


def _jvm_log(settings: Settings) -> Path | None:
    logs = settings.layout.logs_dir
    return None if logs is None else Path(logs) / "spark-jvm.log"


@contextlib.contextmanager
def _jvm_output_to(path: Path | None) -> Iterator[None]:
    """Send the local JVM's own output (Ivy resolution, log4j warnings) to a log file.

    The JVM inherits file descriptor 2 when it starts, so pointing it at the log file while the
    session starts keeps the terminal quiet; Python's own stderr is restored right after. Java
    errors still reach Python as exceptions.
    """
    if path is None:
        yield
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(target, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(target)
        log.debug("local Spark JVM output goes to %s", path)


def spark_submit_args() -> list[str]:
    """The spark-submit flags that give a job the Delta jars and SQL extensions of this environment
    (the same coordinates the local session resolves), plus UTC: `spark-ml spark-submit-args`."""
    args = ["--packages", delta_package()]
    quiet = {"spark.log.level": "WARN"}  # as local sessions: no INFO line for every Delta snapshot
    for key, value in {**DELTA_SQL_CONF, "spark.sql.session.timeZone": "UTC", **quiet}.items():
        args += ["--conf", f"{key}={value}"]
    return args


@contextlib.contextmanager
def spark_session(settings: Settings) -> Iterator[SparkSession]:
    """The session of one command, stopped when the block ends if this process created it.

    A Spark Connect client holds server-side references (Spark ML models in the server's ML
    cache) that pyspark releases from `__del__` and at interpreter exit over gRPC; stopping the
    session first closes the client, so nothing is left to block the process at exit, after a
    success or a failure. Sessions a runtime provides (spark-submit, Databricks) are left running.
    """
    import gc

    owned = _will_create(settings)
    spark = get_spark(settings)
    try:
        yield spark
    finally:
        if owned:
            gc.collect()
            spark.stop()


def _will_create(settings: Settings) -> bool:
    from pyspark.sql import SparkSession

    if settings.spark.mode == "connect" or settings.spark.remote:
        return True
    if SparkSession.getActiveSession() is not None:
        return False
    return not (settings.spark.mode == "auto" and runtime_provides_session())
