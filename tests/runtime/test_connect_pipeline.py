"""The whole pipeline over Spark Connect, as Databricks serverless runs it: every task of the
bundle's serverless job as its own process (its console script and parameters, the workspace ones
replaced by a local lakehouse), against a real local Spark Connect server with Delta.

Every table equals the classic run on the same slice (`slice_run`), the model is registered with
its aliases, loaded by alias for scoring and monitoring, and `spark-ml reproduce` reproduces it;
every process exits, after a success and after a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from spark_ml.config import load_settings
from spark_ml.session import delta_package
from tests import connect_server, serverless_job
from tests.helpers import CONF, overrides_for
from tests.matrix.fingerprint import differences, fingerprint
from tests.slice import ROWS_PER_MONTH, SLICE, SliceRun

pytestmark = [pytest.mark.runtime, pytest.mark.slow]

BIN = Path(sys.executable).parent
# The same engine, data and partitioning: logistic regression converges to the same coefficients
# over Connect as in a classic session; only the order in which partition sums are added may move
# the last bits of a metric (1.1e-16 measured for AUC in the reproduce test).
TOLERANCE = 1e-9
EXIT_BOUND_S = 120


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[connect_server.ConnectServer]:
    import pyspark

    started = connect_server.start(
        Path(pyspark.__file__).parent, delta_package(), tmp_path_factory.mktemp("connect"), sys.executable
    )
    try:
        yield started
    finally:
        started.stop()


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK_", "SPARK_"))}
    return {**env, "PYSPARK_PYTHON": sys.executable}


def _run(script: str, *arguments: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / script), *arguments], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout
    )


def _slice_sets(root: Path) -> list[str]:
    return [arg for item in overrides_for(root, *SLICE) for arg in ("--set", item)]


@pytest.fixture(scope="module")
def connect_run(server: connect_server.ConnectServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The serverless job's tasks, in the job's order, each its own process over Spark Connect."""
    work = tmp_path_factory.mktemp("serverless")
    root = work / "lakehouse"
    landed = _run("spark-ml", "land-demo-data", "--rows-per-month", str(ROWS_PER_MONTH), *_slice_sets(root), cwd=work)
    assert landed.returncode == 0, landed.stderr
    extra = _slice_sets(root)[2:]  # the job's tasks get lakehouse.root from the local replacement
    for script, arguments in serverless_job.local_commands(str(root), server.url, extra):
        ran = _run(script, *arguments, cwd=work)
        allowed = (0, 3) if script == "spark-ml-monitor" else (0,)  # monitor --fail-on-alert: 3 on drift
        assert ran.returncode in allowed, f"{script}: exit {ran.returncode}\n{ran.stdout[-2000:]}\n{ran.stderr[-3000:]}"
        assert "Traceback" not in ran.stderr
    return root


def test_the_serverless_job_over_connect_equals_the_classic_run(
    spark: SparkSession, slice_run: SliceRun, connect_run: Path
) -> None:
    connect_cfg = load_settings("local", CONF, overrides_for(connect_run, *SLICE))
    classic = fingerprint(spark, slice_run.settings)
    over_connect = fingerprint(spark, connect_cfg)
    assert len(classic["tables"]) >= 15
    assert differences(classic, over_connect, TOLERANCE) == []
    assert over_connect["model"]["metrics"]["test_auc_roc"] > 0.55


def test_the_connect_run_registered_the_model_and_scored_with_the_champion(
    spark: SparkSession, connect_run: Path
) -> None:
    from mlflow.tracking import MlflowClient

    cfg = load_settings("local", CONF, overrides_for(connect_run, *SLICE))
    client = MlflowClient(tracking_uri=cfg.tracking_uri, registry_uri=cfg.registry_uri)
    model = client.get_registered_model(cfg.registered_model_name)
    assert model.aliases == {"challenger": "1", "champion": "1"}
    scored = spark.read.format("delta").load(cfg.table_location("ml.flight_delay_predictions"))
    assert {r["model_version"] for r in scored.select("model_version").distinct().collect()} == {"1"}
    assert scored.count() == scored.dropDuplicates(list(cfg.require_train().keys)).count() > 0


def test_reproduce_over_connect_matches_the_recorded_metrics(
    server: connect_server.ConnectServer, connect_run: Path
) -> None:
    from mlflow.tracking import MlflowClient

    cfg = load_settings("local", CONF, overrides_for(connect_run, *SLICE))
    client = MlflowClient(tracking_uri=cfg.tracking_uri, registry_uri=cfg.registry_uri)
    run_id = client.get_model_version(cfg.registered_model_name, "1").run_id
    remote = ["--set", "spark.mode=connect", "--set", f"spark.remote={server.url}"]
    out = _run("spark-ml", "reproduce", run_id, *_slice_sets(connect_run), *remote, cwd=connect_run.parent)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "result: reproduced, every metric matches" in out.stdout


def test_a_succeeding_and_a_failing_connect_pipeline_both_exit(
    server: connect_server.ConnectServer, connect_run: Path
) -> None:
    remote = ["--set", "spark.mode=connect", "--set", f"spark.remote={server.url}"]
    steps = ["--set", "pipeline.steps=[train, promote, score, monitor]", "--set", "pipeline.report=false"]
    started = time.monotonic()
    ok = _run(
        "spark-ml",
        "pipeline",
        *_slice_sets(connect_run),
        *remote,
        *steps,
        cwd=connect_run.parent,
        timeout=EXIT_BOUND_S * 3,
    )
    assert ok.returncode == 0, ok.stdout[-2000:] + ok.stderr[-3000:]
    assert "[4/4] monitor done in" in ok.stdout
    # A model is fitted on the server, then logging it fails: the run ends with one line and exits 1.
    unreachable = ["--set", "mlflow.tracking_uri=http://127.0.0.1:9", "--set", "pipeline.steps=[train]"]
    failed = _run(
        "spark-ml",
        "pipeline",
        *_slice_sets(connect_run),
        *remote,
        *unreachable,
        cwd=connect_run.parent,
        timeout=EXIT_BOUND_S,
    )
    assert failed.returncode == 1
    assert failed.stderr.startswith("spark-ml pipeline failed:")
    assert failed.stderr.count("\n") == 1
    assert time.monotonic() - started < EXIT_BOUND_S * 4


def test_the_serverless_job_is_what_this_test_runs() -> None:
    """Same tasks in the same order, the same console scripts, and no parameter but the workspace
    ones replaced; the Databricks configuration it selects stages models in a /Volumes path."""
    import argparse

    from spark_ml.cli.runner import common_parser, settings_from
    from spark_ml.tasks import get_task

    tasks = serverless_job.tasks()
    assert [t.key for t in tasks] == ["ingest", "silver", "features", "train", "promote", "score", "monitor"]
    assert [t.entry_point for t in tasks] == [get_task(t.key).console_script for t in tasks]
    commands = serverless_job.local_commands("/tmp/root", "sc://127.0.0.1:1")
    assert [script for script, _ in commands] == [t.entry_point for t in tasks]
    for task in tasks:
        workspace, kept = serverless_job.workspace_parameters(task.parameters)
        assert workspace[:2] == ["--env", "databricks"]
        assert sorted(v.split("=")[0] for v in workspace[3::2]) == sorted(serverless_job.WORKSPACE_SETTINGS)
        assert kept == (["--fail-on-alert"] if task.key == "monitor" else [])
        parsed = argparse.ArgumentParser(parents=[common_parser()]).parse_known_args(
            [p.replace("${var.catalog}", "main") for p in task.parameters]
        )[0]
        cfg = settings_from(parsed)
        assert cfg.layout.model_staging_dir.startswith("/Volumes/main/spark_ml/")
        assert cfg.uses_catalog
