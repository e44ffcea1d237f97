"""The pure parts of run manifests, lineage and reproduce: config hashing and unmasking, metric
comparison, the manifest row against its Delta schema, lineage rendering, target parsing."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession

from spark_ml import cli
from spark_ml.config import Settings, load_settings
from spark_ml.errors import ConfigError
from spark_ml.io.delta import Lakehouse, TableRead, TableWrite
from spark_ml.provenance import lineage, manifest, reproduce, runs
from spark_ml.provenance.compute import Compute, describe, mask_remote
from tests.helpers import CONF, overrides_for

T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def settings(root: Path, *extra: str, environ: dict[str, str] | None = None) -> Settings:
    return load_settings("local", CONF, overrides_for(root, *extra), environ=environ or {})


# -- config hash and unmasking ---------------------------------------------------------------------


def test_config_hash_is_canonical_and_changes_with_any_value(tmp_path: Path) -> None:
    first, again = settings(tmp_path), settings(tmp_path)
    other = settings(tmp_path, "train.seed=7")
    text = manifest.canonical_config(first)
    assert text == manifest.canonical_config(again)
    assert json.loads(text)["train"]["seed"] == 42
    assert " " not in text.split('"description"')[0]
    assert manifest.config_hash(text) != manifest.config_hash(manifest.canonical_config(other))
    assert len(manifest.config_hash(text)) == 64


def test_the_recorded_config_never_holds_a_secret(tmp_path: Path) -> None:
    cfg = settings(tmp_path, "secrets.api_token=${env:TOKEN}", environ={"TOKEN": "s3cr3t-value"})
    text = manifest.canonical_config(cfg)
    assert "s3cr3t-value" not in text
    assert json.loads(text)["secrets"] == {"api_token": "***"}


def test_unmask_takes_masked_values_from_the_current_environment() -> None:
    recorded = {"secrets": {"api_token": "***", "gone": "***"}, "train": {"seed": 7}, "n": [1, 2]}
    current = {"secrets": {"api_token": "now"}, "train": {"seed": 42}, "n": [3]}
    assert reproduce.unmask(recorded, current) == {"secrets": {"api_token": "now"}, "train": {"seed": 7}, "n": [1, 2]}


def test_unmask_fails_on_a_masked_list_value_it_cannot_fill() -> None:
    with pytest.raises(ConfigError, match=r"the recorded config masks 'spark\.tokens'"):
        reproduce.unmask({"spark": {"tokens": ["***"]}}, {"spark": {}})


def test_recorded_settings_keep_the_recorded_model_config_and_this_process_runtime(tmp_path: Path) -> None:
    then = settings(
        tmp_path / "then", "train.seed=7", "spark.master=local[1]", "secrets.api_token=${env:T}", environ={"T": "old"}
    )
    now = settings(tmp_path / "now", "logging.level=ERROR", "secrets.api_token=${env:T}", environ={"T": "new"})
    rebuilt = reproduce.recorded_settings(json.loads(manifest.canonical_config(then)), now)
    assert rebuilt.require_train().seed == 7
    assert rebuilt.lakehouse.root == then.lakehouse.root  # the data the run read
    assert (rebuilt.spark.master, rebuilt.logging.level) == ("local[2]", "ERROR")  # this process
    assert rebuilt.tracking_uri == now.tracking_uri  # where the original was found
    assert rebuilt.secrets["api_token"].get_secret_value() == "new"


def test_an_unchanged_environment_reproduces_the_same_config_hash(tmp_path: Path) -> None:
    then = settings(tmp_path, "train.estimator=random_forest", "secrets.api_token=${env:T}", environ={"T": "x"})
    now = settings(tmp_path, "train.estimator=gbt", "secrets.api_token=${env:T}", environ={"T": "x"})
    recorded = manifest.canonical_config(then)
    rebuilt = reproduce.recorded_settings(json.loads(recorded), now)
    assert rebuilt.require_train().estimator == "random_forest"
    assert manifest.config_hash(manifest.canonical_config(rebuilt)) == manifest.config_hash(recorded)


def test_a_recorded_config_that_no_longer_validates_is_a_config_error(tmp_path: Path) -> None:
    recorded = json.loads(manifest.canonical_config(settings(tmp_path)))
    recorded["train"]["max_dpth"] = 3
    with pytest.raises(ConfigError, match=r"the recorded config no longer validates .*'train.max_dpth'"):
        reproduce.recorded_settings(recorded, settings(tmp_path))


# -- metric comparison -----------------------------------------------------------------------------


def test_compare_is_exact_at_tolerance_zero() -> None:
    checks = reproduce.compare({"a": 0.75, "b": 0.5}, {"a": 0.75, "b": 0.5000000001}, 0.0)
    assert [(c.name, c.ok) for c in checks] == [("a", True), ("b", False)]
    assert checks[1].difference == pytest.approx(1e-10)


def test_compare_within_a_tolerance_and_missing_or_nan_metrics() -> None:
    checks = reproduce.compare(
        {"auc": 0.8, "f1": math.nan, "gone": 0.1, "pr": 0.4}, {"auc": 0.8004, "f1": math.nan, "pr": 0.402}, 1e-3
    )
    assert {c.name: c.ok for c in checks} == {"auc": True, "f1": True, "gone": False, "pr": False}
    outcome = reproduce.Reproduction(
        "orig", "new", "run", "xgboost", "gold.t", 3, 1e-3, checks, "x", "spark_ml 1 at git a", "spark_ml 1 at git a"
    )
    assert not outcome.matches
    assert outcome.text().splitlines()[-1] == "result: NOT reproduced, differing metrics: gone, pr"
    assert "within 0.001 (absolute)" in outcome.text()


def test_the_tolerances_are_exact_for_deterministic_trainers() -> None:
    exact = reproduce.EXACT
    assert exact == 1e-12
    expected = {
        "logistic_regression": exact,
        "linear_regression": exact,
        "random_forest": exact,
        "gbt": exact,
        "xgboost": 1e-3,
    }
    assert expected == reproduce.TOLERANCES
    one_ulp = reproduce.compare({"auc": 0.694101508916}, {"auc": 0.694101508916 + 1.1e-16}, exact)
    assert one_ulp[0].ok


# -- the manifest row ------------------------------------------------------------------------------


def test_a_manifest_row_fits_the_delta_schema(spark: SparkSession, tmp_path: Path) -> None:
    cfg = settings(tmp_path)
    outcome = manifest.Outcome(
        run_id="r1",
        task="train",
        status="success",
        started_at=T0,
        ended_at=T0 + timedelta(seconds=12.5),
        reads=[TableRead("gold.flight_features", 3), TableRead("gold.flight_features", 3)],
        writes=[TableWrite("ml.data_quality", 4, 6, "WRITE")],
        metrics={"mlflow_run_id": "m1", "model": "flight_delay", "version": "2", "params": {"x": 1}, "auc": 0.7},
        tags={"reproduction_of": "m0"},
        model_name="flight_delay",
        model_version="2",
        mlflow_run_id="m1",
        compute=Compute(master="spark://127.0.0.1:7077", app_id="app-1", executors=2, cores=2),
    )
    record = manifest.build(cfg, outcome)
    row = spark.createDataFrame([record.to_row()], manifest.SCHEMA)
    got = row.selectExpr("run_id", "duration_s", "inputs[0].version AS v", "size(inputs) AS n", "model_version")
    expected = spark.createDataFrame(
        [("r1", 12.5, 3, 1, "2")], "run_id STRING, duration_s DOUBLE, v BIGINT, n INT, model_version STRING"
    )
    assert_df_equality(got, expected, ignore_nullable=True)  # size() is non-nullable on Spark 3.5 only
    stored = row.collect()[0]
    assert stored["outputs"][0].asDict() == {"table": "ml.data_quality", "version": 4, "rows": 6, "operation": "WRITE"}
    assert json.loads(stored["metrics"]) == {"mlflow_run_id": "m1", "model": "flight_delay", "version": "2", "auc": 0.7}
    assert (stored["model_name"], stored["tags"]) == ("flight_delay", {"reproduction_of": "m0"})
    assert stored["compute"].asDict() == {
        "master": "spark://127.0.0.1:7077",
        "remote": None,
        "app_id": "app-1",
        "executors": 2,
        "cores": 2,
    }
    assert record.as_dict()["started_at"] == "2025-01-02T03:04:05+00:00"


# -- where a run ran --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("sc://127.0.0.1:15002", "sc://127.0.0.1:15002"),
        ("sc://host:443/;use_ssl=true;token=dapi123;user_id=ana", "sc://host:443/;use_ssl=true;token=***;user_id=ana"),
        ("sc://host:443/;Token=abc", "sc://host:443/;Token=***"),
        ("sc://ana:s3cret@host:15002/;x-api-key=k1", "sc://ana:***@host:15002/;x-api-key=***"),
        ("sc://host:15002/;session_id=abc", "sc://host:15002/;session_id=abc"),
    ],
)
def test_a_remote_url_is_recorded_without_its_secrets(url: str, masked: str) -> None:
    assert mask_remote(url) == masked


@pytest.mark.parametrize(
    ("compute", "text"),
    [
        (
            Compute("spark://127.0.0.1:7077", None, "app-7", 2, 2),
            "spark://127.0.0.1:7077 (app app-7, 2 executor(s), 2 cores)",
        ),
        (Compute("local[2]", None, "local-1", 0, 2), "local[2] (app local-1, in the driver, 2 cores)"),
        (Compute(None, "sc://h:15002/;token=***", None), "sc://h:15002/;token=*** (known only to the server)"),
        (Compute(), "unknown"),
    ],
)
def test_where_a_run_ran_reads_as_one_line(compute: Compute, text: str) -> None:
    assert compute.text() == text


@pytest.mark.jvm_only("compares with the SparkContext, which a Connect client does not have")
def test_the_local_session_is_described_from_its_configuration(spark: SparkSession) -> None:
    found = describe(spark)
    context = spark.sparkContext
    assert (found.master, found.app_id) == (context.master, context.applicationId)
    assert (found.remote, found.executors, found.cores) == (None, 0, context.defaultParallelism)


@pytest.mark.parametrize(
    ("master", "here", "slots"),
    [
        ("local[2]", True, (0, 2)),
        ("local[3, 4]", True, (0, 3)),
        ("local", True, (0, 1)),
        ("local[*]", False, (0, None)),
        ("spark://127.0.0.1:7077", True, (None, None)),
        (None, True, (None, None)),
    ],
)
def test_local_masters_give_their_task_slots(
    master: str | None, here: bool, slots: tuple[int | None, int | None]
) -> None:
    from spark_ml.provenance.compute import _local_slots

    assert _local_slots(master, here=here) == slots


def test_an_unreachable_status_api_leaves_executors_unknown() -> None:
    from spark_ml.provenance.compute import _executors

    assert _executors("http://127.0.0.1:9/api/v1/applications/app-1/executors") == (None, None)


@pytest.mark.integration  # writes and alters a runs table through Delta
def test_a_runs_table_of_an_earlier_release_gains_the_compute_column(spark: SparkSession, tmp_path: Path) -> None:
    """A runs table without `compute` (as 0.1.0 wrote it) takes a new manifest: the column is added,
    the earlier row reads it as null, and lineage queries read both rows."""
    cfg = settings(tmp_path)
    old_columns = [c for c in manifest.COLUMN_TYPES if c != "compute"]
    earlier = manifest.build(cfg, manifest.Outcome("r0", "ingest", "success", T0, T0, [], []))
    old_row = earlier.to_row()[: len(old_columns)]
    old_schema = ", ".join(f"`{c}` {manifest.COLUMN_TYPES[c]}" for c in old_columns)
    lake = Lakehouse(spark, cfg)
    lake.write(spark.createDataFrame([old_row], old_schema), cfg.ops.runs_table, mode="append")
    assert runs.RunsTable(lake).by_run_id("r0")["compute"] is None  # read before any new row

    compute = Compute("local[2]", None, "local-9", 0, 2)
    newer = manifest.build(cfg, manifest.Outcome("r1", "silver", "success", T0, T0, [], [], compute=compute))
    runs.write(spark, cfg, newer)

    table = runs.RunsTable(Lakehouse(spark, cfg))
    assert table.by_run_id("r0")["compute"] is None
    assert table.by_run_id("r1")["compute"] == {
        "master": "local[2]",
        "remote": None,
        "app_id": "local-9",
        "executors": 0,
        "cores": 2,
    }


# -- lineage ---------------------------------------------------------------------------------------


def _run(run_id: str, task: str, **kw: object) -> lineage.RunNode:
    return lineage.RunNode(run_id, task, "success", "2025-01-02 03:04:05", "abc123", "0.1.0", "f" * 64, **kw)  # type: ignore[arg-type]


def test_lineage_text_shows_the_chain_down_to_the_landing_files() -> None:
    landing = {
        "source": "flights",
        "source_file": "flights/2013-01.csv",
        "sha256": "ab" * 32,
        "ingest_run_id": "i" * 32,
    }
    bronze = lineage.TableNode(
        "bronze.flights",
        1,
        "WRITE",
        600,
        True,
        _run("i" * 32, "ingest", landing_files=[{**landing, "ingested_by_this_run": True}]),
    )
    silver = lineage.TableNode("silver.flights", 2, "WRITE", 600, run=_run("s" * 32, "silver", inputs=[bronze]))
    cluster = "spark://127.0.0.1:7077 (app app-7, 2 executor(s), 2 cores)"
    features = _run("f" * 32, "features", inputs=[silver], compute=cluster)
    gold = lineage.TableNode("gold.flight_features", 5, "WRITE", 590, run=features)
    text = lineage.Lineage("gold.flight_features", None, gold).text()
    assert text.splitlines() == [
        "gold.flight_features version 5 (WRITE, 590 rows)",
        "  written by features run ffffffffffff, 2025-01-02 03:04:05 UTC, success",
        "    code spark_ml 0.1.0 (git abc123), config ffffffffffff",
        f"    ran on {cluster}",
        "    read:",
        "      silver.flights version 2 (WRITE, 600 rows)",
        "        written by silver run ssssssssssss, 2025-01-02 03:04:05 UTC, success",
        "          code spark_ml 0.1.0 (git abc123), config ffffffffffff",
        "          read:",
        "            bronze.flights version 1 (WRITE, 600 rows, append/replaceWhere: keeps earlier rows)",
        "              written by ingest run iiiiiiiiiiii, 2025-01-02 03:04:05 UTC, success",
        "                code spark_ml 0.1.0 (git abc123), config ffffffffffff",
        "                landing files (1):",
        "                  flights/2013-01.csv  sha256 abababababababab  ingested by this run",
    ]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("gold", "bad lineage target 'gold'"),
        ("Gold.Features", "bad lineage target 'Gold.Features'"),
        ("models:/m@", "bad model URI 'models:/m@'"),
        ("models:flight_delay@champion", "bad model URI"),
        ("silver.flight", "unknown table 'silver.flight'"),
    ],
)
def test_lineage_targets_are_checked_before_spark_starts(tmp_path: Path, target: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        lineage.check_target(settings(tmp_path), target)


def test_model_uris_by_alias_or_version_are_accepted(tmp_path: Path) -> None:
    by_alias = lineage.check_target(settings(tmp_path), "models:/flight_delay@champion")
    by_version = lineage.check_target(settings(tmp_path), "models:/flight_delay/3")
    assert by_alias is not None
    assert (by_alias["name"], by_alias["alias"]) == ("flight_delay", "champion")
    assert by_version is not None
    assert by_version["version"] == "3"
    assert lineage.check_target(settings(tmp_path), "gold.flight_features") is None


def test_the_cli_knows_lineage_and_reproduce() -> None:
    parser = cli.build_parser()
    args = parser.parse_args(["lineage", "gold.flight_features", "--format", "json", "--version", "3"])
    assert (args.command, args.target, args.format, args.version) == ("lineage", "gold.flight_features", "json", 3)
    args = parser.parse_args(["reproduce", "abc", "--tolerance", "0.01"])
    assert (args.command, args.mlflow_run_id, args.tolerance, args.register) == ("reproduce", "abc", 0.01, False)


def test_reproduce_rejects_a_negative_tolerance_before_spark(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = cli.main(["reproduce", "abc", "--tolerance", "-1", "--set", f"lakehouse.root={tmp_path}"])
    assert code == 2
    assert "--tolerance must be a number >= 0, got -1.0" in capsys.readouterr().err
