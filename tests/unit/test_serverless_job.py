"""The serverless job of the bundle is what the Spark Connect runs of `make test-runtimes` execute:
the same tasks in the same order, the same console scripts, no parameter changed but the ones that
name the workspace; and the Databricks configuration it selects stages Spark ML models in a
Unity Catalog volume. No Spark needed."""

from __future__ import annotations

import argparse

from spark_ml.cli.runner import common_parser, settings_from
from spark_ml.tasks import get_task
from tests import serverless_job


def test_the_serverless_job_is_what_this_test_runs() -> None:
    """Same tasks in the same order, the same console scripts, and no parameter but the workspace
    ones replaced; the Databricks configuration it selects stages models in a /Volumes path."""
    tasks = serverless_job.tasks()
    assert [t.key for t in tasks] == ["ingest", "silver", "features", "train", "promote", "score", "monitor"]
    assert [t.entry_point for t in tasks] == [get_task(t.key).console_script for t in tasks]
    commands = serverless_job.local_commands("/tmp/root", "sc://127.0.0.1:1")
    assert [script for script, _ in commands] == [t.entry_point for t in tasks]
    for task in tasks:
        workspace, kept = serverless_job.workspace_parameters(task.parameters)
        assert workspace[:2] == ["--env", "databricks"]
        assert sorted(v.split("=")[0] for v in workspace[3::2]) == sorted(serverless_job.WORKSPACE_SETTINGS)
        assert kept == []
        parsed = argparse.ArgumentParser(parents=[common_parser()]).parse_known_args(
            [p.replace("${var.catalog}", "main") for p in task.parameters]
        )[0]
        cfg = settings_from(parsed)
        assert cfg.layout.model_staging_dir.startswith("/Volumes/main/spark_ml/")
        assert cfg.uses_catalog
