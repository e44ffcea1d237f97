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
from spark_ml.errors import SparkMLError

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
        return SparkSession.builder.remote(spark_cfg.remote).getOrCreate()
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if spark_cfg.mode == "auto" and runtime_provides_session():
        session = SparkSession.builder.appName(spark_cfg.app_name).getOrCreate()
        for key, value in runtime_conf(settings).items():
            session.conf.set(key, value)
        return session
    return _build_local(settings)


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


def _build_local(settings: Settings) -> SparkSession:
    from pyspark.sql import SparkSession

    # Python workers must run this interpreter, or they miss the venv's packages.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.master(settings.spark.master).appName(settings.spark.app_name)
    for key, value in local_conf(settings).items():
        builder = builder.config(key, value)
    if settings.spark.delta_packages and "spark.jars" not in settings.spark.conf:
        try:
            from delta import configure_spark_with_delta_pip
        except ImportError as exc:
            raise SparkMLError(
                "delta-spark is not installed: install the local extra (pip install 'spark-ml[local]') "
                "or set spark.delta_packages=false and spark.conf.'spark.jars' to the Delta jars"
            ) from exc
        builder = configure_spark_with_delta_pip(builder)
    log.info("starting local Spark %s with Delta", settings.spark.master)
    try:
        with _jvm_output_to(_jvm_log(settings)):
            return builder.getOrCreate()
    except Exception as exc:
        raise SparkMLError(
            f"could not start local Spark ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); "
            "check that Java 17 is on PATH or JAVA_HOME, and that Maven Central is reachable for the Delta jars"
        ) from exc


def _jvm_log(settings: Settings) -> Path | None:
    root = settings.lakehouse.root
    if "://" in root or root.startswith("dbfs:"):
        return None
    return Path(root) / "logs" / "spark-jvm.log"


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
    from delta import configure_spark_with_delta_pip
    from pyspark.sql import SparkSession

    builder = configure_spark_with_delta_pip(SparkSession.builder)
    packages = builder._options["spark.jars.packages"]
    args = ["--packages", packages]
    for key, value in {**DELTA_SQL_CONF, "spark.sql.session.timeZone": "UTC"}.items():
        args += ["--conf", f"{key}={value}"]
    return args
