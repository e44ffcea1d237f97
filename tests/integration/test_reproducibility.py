"""Run manifests, `spark-ml lineage` and `spark-ml reproduce` on a slice of the real data.

Tests that only read use the session's slice (`world`); a test that writes works on a copy,
and the reproduction test trains in its copy first, so the recorded configuration (which holds the
lakehouse root) points at the copy it then appends to and overwrites.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_ml import cli
from spark_ml.config import Settings, load_settings
from spark_ml.errors import ConfigError, ReproducibilityError
from spark_ml.io.delta import Lakehouse
from spark_ml.provenance import lineage, reproduce
from spark_ml.provenance import runs as manifest
from spark_ml.tasks import features, ingest, promote, silver, train
from spark_ml.tasks.base import TaskResult
from tests.helpers import REPO, checksum, overrides_for
from tests.slice import SliceRun

pytestmark = [pytest.mark.integration]  # runs the tasks and reproduce

TASKS = (("ingest", ingest), ("silver", silver), ("features", features), ("train", train), ("promote", promote))


@dataclass
class Chain:
    settings: Settings
    results: dict[str, TaskResult]

    def cli_args(self) -> list[str]:
        return ["--set", f"lakehouse.root={self.settings.lakehouse.root}", "--set", "logging.level=WARNING"]


@pytest.fixture
def chain(world: SliceRun) -> Chain:
    """The session's slice, read only: its tasks' results, run manifests, MLflow runs and model."""
    return Chain(world.settings, {name: world.results[name] for name, _ in TASKS})


@pytest.fixture
def copied_chain(world_copy: SliceRun) -> Chain:
    """A copy of the slice that a test may change (its recorded runs still name the original root)."""
    return Chain(world_copy.settings, {name: world_copy.results[name] for name, _ in TASKS})


def runs(spark: SparkSession, settings: Settings) -> Lakehouse:
    return Lakehouse(spark, settings, task="test")


# -- manifests -------------------------------------------------------------------------------------


def test_every_task_run_appends_one_manifest_row_in_one_commit(spark: SparkSession, chain: Chain) -> None:
    lake = runs(spark, chain.settings)
    ids = {name: r.run_id for name, r in chain.results.items()}
    table = lake.read("ml.runs").where(F.col("run_id").isin(list(ids.values())))
    expected = spark.createDataFrame(
        [(run_id, name, "success") for name, run_id in ids.items()], "run_id STRING, task STRING, status STRING"
    )
    assert_df_equality(table.select("run_id", "task", "status"), expected, ignore_row_order=True)
    versions = [r.manifest_version for r in chain.results.values()]
    assert versions == sorted(versions)
    assert len(set(versions)) == len(versions)
    commits = {h["version"]: h for h in lake.history("ml.runs", limit=100)}
    for result in chain.results.values():  # each manifest is its own one-row commit, by its own run
        commit = commits[result.manifest_version]
        assert commit["operationMetrics"]["numOutputRows"] == "1"
        if result.manifest_version:
            assert json.loads(commit["userMetadata"])["run_id"] == result.run_id
        assert "ml.runs" not in {w.table for w in result.writes}


def test_a_manifest_records_code_config_and_exact_versions(spark: SparkSession, chain: Chain) -> None:
    trained = chain.results["train"]
    row = manifest.RunsTable(runs(spark, chain.settings)).by_run_id(trained.run_id, with_config=True)
    assert row is not None
    assert row["config_hash"] == hashlib.sha256(row["config"].encode()).hexdigest()
    config = json.loads(row["config"])
    assert config["train"]["estimator"] == "logistic_regression"
    assert config["lakehouse"]["root"] == chain.settings.lakehouse.root
    assert row["inputs"] == [{"table": "gold.flight_features", "version": trained.metrics["table_version"]}]
    features_run = chain.results["features"]
    written = features_run.version_written("gold.flight_features")
    assert trained.metrics["table_version"] == written
    assert (row["mlflow_run_id"], row["model_version"]) == (
        trained.metrics["mlflow_run_id"],
        trained.metrics["version"],
    )
    assert row["spark_ml_version"]
    assert row["git_commit"]
    assert row["started_at"] < row["ended_at"]
    feature_row = manifest.RunsTable(runs(spark, chain.settings)).by_run_id(features_run.run_id)
    assert feature_row is not None
    outputs = {(o["table"], o["version"], o["rows"]) for o in feature_row["outputs"]}
    assert ("gold.flight_features", written, features_run.rows_written("gold.flight_features")) in outputs


def test_the_ingest_manifest_names_every_landing_file_with_its_hash(spark: SparkSession, chain: Chain) -> None:
    row = manifest.RunsTable(runs(spark, chain.settings)).by_run_id(chain.results["ingest"].run_id)
    assert row is not None
    files = {f["source_file"]: f for f in row["landing_files"]}
    landing = Path(chain.settings.lakehouse.landing_dir)
    on_disk = {str(p.relative_to(landing)): p for p in landing.rglob("*.csv")}
    assert set(files) == set(on_disk)
    assert len(files) >= 16
    for name, path in on_disk.items():  # hashed here independently of the ingest task
        assert files[name]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest(), name
        assert files[name]["ingest_run_id"] == row["run_id"]


def test_the_training_manifest_is_logged_to_its_mlflow_run(chain: Chain) -> None:
    from mlflow.tracking import MlflowClient

    trained = chain.results["train"]
    logged = manifest.load_from_mlflow(chain.settings, trained.metrics["mlflow_run_id"])
    assert logged is not None
    assert (logged["run_id"], logged["task"], logged["status"]) == (trained.run_id, "train", "success")
    assert logged["inputs"] == [{"table": "gold.flight_features", "version": trained.metrics["table_version"]}]
    tags = MlflowClient(tracking_uri=chain.settings.tracking_uri).get_run(trained.metrics["mlflow_run_id"]).data.tags
    assert tags["spark_ml.config_hash"] == logged["config_hash"]


def test_a_failed_run_is_recorded_with_its_error(
    spark: SparkSession, copied_chain: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    chain = copied_chain
    missing = ["--set", "tables.gold.not_built={}", "--set", "train.table=gold.not_built"]
    code = cli.main(["train", *chain.cli_args(), *missing])
    assert code == 1
    assert "gold.not_built does not exist yet" in capsys.readouterr().err
    failed = runs(spark, chain.settings).read("ml.runs").where(F.col("status") == "failed").collect()
    assert [(r["task"], r["exit_code"]) for r in failed] == [("train", 1)]
    assert failed[0]["error"].startswith("TableNotFoundError: table gold.not_built does not exist yet")
    assert failed[0]["outputs"] == []


# -- lineage ---------------------------------------------------------------------------------------


def test_lineage_of_the_feature_table_reaches_the_landing_files(spark: SparkSession, chain: Chain) -> None:
    found = lineage.run(spark, chain.settings, "gold.flight_features")
    root = found.root
    assert isinstance(root, lineage.TableNode)
    assert root.run is not None
    assert (root.table, root.version, root.run.run_id) == (
        "gold.flight_features",
        chain.results["features"].version_written("gold.flight_features"),
        chain.results["features"].run_id,
    )
    silver_flights = next(n for n in root.run.inputs if n.table == "silver.flights")
    assert silver_flights.run is not None
    assert silver_flights.run.run_id == chain.results["silver"].run_id
    bronze = next(n for n in silver_flights.run.inputs if n.table == "bronze.flights")
    assert bronze.version == chain.results["ingest"].version_written("bronze.flights")
    assert bronze.run is not None
    assert bronze.run.task == "ingest"
    landing = Path(chain.settings.lakehouse.landing_dir)
    files = {f["source_file"]: f["sha256"] for f in bronze.run.landing_files}
    assert sorted(files) == [f"flights/2013-{m:02d}.csv" for m in range(1, 13)]
    assert files["flights/2013-03.csv"] == hashlib.sha256((landing / "flights/2013-03.csv").read_bytes()).hexdigest()
    text = found.text()
    assert text.splitlines()[0].startswith(f"gold.flight_features version {root.version} (")
    assert f"written by features run {root.run.run_id[:12]}" in text
    context = spark.sparkContext if hasattr(spark, "_jsc") else None  # a Connect client has no context
    if context is not None:
        ran_on = (
            f"ran on {context.master} (app {context.applicationId}, in the driver, {context.defaultParallelism} cores)"
        )
        assert ran_on in text.splitlines()[3]
    assert f"flights/2013-03.csv  sha256 {files['flights/2013-03.csv'][:16]}  ingested by" in text


def test_lineage_of_the_champion_starts_at_its_training_run(
    spark: SparkSession, chain: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    trained = chain.results["train"]
    assert chain.results["promote"].metrics["promoted"] is True
    code = cli.main(["lineage", "models:/flight_delay@champion", "--format", "json", *chain.cli_args()])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model"]["version"] == trained.metrics["version"]
    assert data["model"]["aliases"] == ["challenger", "champion"]
    run = data["lineage"]
    assert (run["run_id"], run["task"], run["mlflow_run_id"]) == (
        trained.run_id,
        "train",
        trained.metrics["mlflow_run_id"],
    )
    [features_input] = run["inputs"]
    assert (features_input["table"], features_input["version"]) == (
        "gold.flight_features",
        trained.metrics["table_version"],
    )
    assert features_input["run"]["task"] == "features"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("gold.flight_feature", "unknown table 'gold.flight_feature'.*did you mean 'gold.flight_features'"),
        ("flight_features", "bad lineage target 'flight_features'"),
        ("models:/flight_delay", "bad model URI 'models:/flight_delay'"),
        ("models:/no_such_model@champion", "unknown model 'no_such_model'"),
        ("models:/flight_delay@gold", "model flight_delay has no alias 'gold' \\(aliases: challenger -> version"),
        ("models:/flight_delay/99", "model flight_delay has no version 99"),
    ],
)
def test_lineage_rejects_unknown_targets(spark: SparkSession, chain: Chain, target: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        lineage.run(spark, chain.settings, target)


def test_lineage_cli_exits_2_on_an_unknown_table(chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["lineage", "gold.nope", *chain.cli_args()]) == 2
    assert capsys.readouterr().err.strip().startswith("spark-ml lineage: error: unknown table 'gold.nope'")


# -- reproduce -------------------------------------------------------------------------------------


def _aliases(settings: Settings) -> dict[str, str]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.registry_uri)
    return {k: str(v) for k, v in client.get_registered_model(settings.registered_model_name).aliases.items()}


@pytest.mark.slow
def test_reproduce_after_append_and_overwrite_gives_equal_metrics(
    spark: SparkSession, copied_chain: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlflow.tracking import MlflowClient

    chain = copied_chain
    settings = chain.settings
    trained = train.run(spark, settings)  # recorded with the copy's root: reproduce reads the copy
    table, version = settings.require_train().table, trained.metrics["table_version"]
    lake = runs(spark, settings)
    recorded = checksum(lake.read(table, version))
    latest = lake.read(table)
    label_type = dict(latest.dtypes)["is_delayed"]
    flipped = (F.lit(1) - F.col("is_delayed")).cast(label_type)
    appended = lake.write(
        latest.limit(300).withColumn("flight", F.col("flight") + 90000).withColumn("is_delayed", flipped), table
    )
    overwritten = lake.write(latest.withColumn("is_delayed", flipped), table, mode="overwrite")
    assert version < appended.version < overwritten.version
    assert checksum(lake.read(table)) != recorded  # the table now holds other data
    aliases = _aliases(settings)

    code = cli.main(["reproduce", trained.metrics["mlflow_run_id"], "--format", "json", *chain.cli_args()])
    out = json.loads(capsys.readouterr().out)

    assert code == 0, out
    assert out["matches"] is True
    assert out["tolerance"] == reproduce.EXACT
    assert (out["table"], out["table_version"]) == (table, version)
    checked = {c["name"]: c for c in out["checks"]}
    assert {"test_auc_roc", "test_auc_pr", "validation_auc_roc", "baseline_test_auc_roc"} <= set(checked)
    assert all(abs(c["reproduced"] - c["original"]) <= 1e-12 for c in checked.values())
    assert checked["test_rows"]["reproduced"] == checked["test_rows"]["original"] > 0
    assert _aliases(settings) == aliases  # nothing registered, no alias moved
    new = MlflowClient(tracking_uri=settings.tracking_uri).get_run(out["reproduction_run_id"]).data
    assert new.tags["spark_ml.reproduction_of"] == trained.metrics["mlflow_run_id"]
    assert new.tags["spark_ml.reproduction_match"] == "true"
    row = manifest.RunsTable(lake).by_run_id(out["spark_ml_run_id"])
    assert row is not None
    assert row["inputs"] == [{"table": table, "version": version}]
    assert row["tags"] == {"reproduction_of": trained.metrics["mlflow_run_id"]}
    assert row["model_version"] is None


def test_reproduce_rejects_a_run_that_is_not_a_training_run(chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["reproduce", "0123456789abcdef0123456789abcdef", *chain.cli_args()]) == 2
    assert "unknown MLflow run '0123456789abcdef0123456789abcdef'" in capsys.readouterr().err


# -- retention -------------------------------------------------------------------------------------


@contextmanager
def _session_conf(spark: SparkSession, values: dict[str, str]) -> Iterator[None]:
    """Session settings for the block, restored afterwards (the session is shared by every test)."""
    before = {key: spark.conf.get(key, None) for key in values}
    for key, value in values.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def _customers(spark: SparkSession, salt: str) -> object:
    """A small churn table (tests/fixtures/usecase): 2024 sign-ups, a null spend and a null region."""
    days = spark.range(0, 366).select(F.date_add(F.lit("2024-01-01").cast("date"), F.col("id").cast("int")).alias("d"))
    rows = days.crossJoin(spark.range(0, 6).withColumnRenamed("id", "n"))
    key = F.concat_ws("-", F.lit(salt), F.date_format("d", "yyyyMMdd"), F.col("n"))
    u = F.abs(F.xxhash64(key)) % 1000 / 1000.0
    return rows.select(
        key.alias("customer_id"),
        F.col("d").alias("signup_date"),
        (u * 48).cast("int").alias("tenure_months"),
        F.when(F.col("n") == 3, F.lit(None)).otherwise(F.round(20 + u * 80, 2)).alias("monthly_spend"),
        (F.col("n") % 5).alias("support_calls"),
        F.when(F.col("n") % 2 == 0, "basic").otherwise("pro").alias("plan"),
        F.when(F.col("n") == 5, F.lit(None)).otherwise(F.when(u > 0.5, "north").otherwise("south")).alias("region"),
        ((u < 0.3) | (F.col("n") % 5 == 4)).cast("int").alias("churned"),
    )


def test_reproducing_a_vacuumed_version_fails_naming_table_and_version(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(
        "local",
        REPO / "tests" / "fixtures" / "usecase" / "conf",
        overrides_for(tmp_path, "train.estimator=logistic_regression", "train.params={maxIter: 10}", "train.grid={}"),
    )
    lake = runs(spark, settings)
    lake.write(_customers(spark, "a"), "gold.customers", mode="overwrite")
    trained = train.run(spark, settings, register=False)
    assert trained.metrics["table_version"] == 0
    lake.write(_customers(spark, "b"), "gold.customers", mode="overwrite")
    check = "spark.databricks.delta.retentionDurationCheck.enabled"
    before = spark.conf.get(check)
    # the check off allows RETAIN 0 HOURS; a small listing parallelism keeps VACUUM's file listing
    # at 2 tasks instead of 10,000 (30 s locally)
    with _session_conf(spark, {check: "false", "spark.sql.sources.parallelPartitionDiscovery.parallelism": "2"}):
        spark.sql(f"VACUUM {lake.ident('gold.customers')} RETAIN 0 HOURS")
    assert spark.conf.get(check) == before

    with pytest.raises(ReproducibilityError, match=r"gold\.customers version 0 can no longer be read: .*VACUUM"):
        reproduce.run(spark, settings, trained.metrics["mlflow_run_id"], train.run)
    capsys.readouterr()  # drop what training printed
    args = ["--conf-dir", str(REPO / "tests" / "fixtures" / "usecase" / "conf"), "--set", f"lakehouse.root={tmp_path}"]
    assert cli.main(["reproduce", trained.metrics["mlflow_run_id"], *args]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("spark-ml reproduce failed: gold.customers version 0 can no longer be read")
    assert "delta.deletedFileRetentionDuration = interval 7 days" in err


def test_a_version_whose_log_entry_was_cleaned_up_is_reported_gone(spark: SparkSession, tmp_settings: Settings) -> None:
    """Delta's own log cleanup, at a checkpoint, removes entries older than delta.logRetentionDuration:
    the entries are aged by their file times (the cleanup compares them with the retention)."""
    lake = runs(spark, tmp_settings)
    lake.write(_customers(spark, "a"), "silver.weather", mode="overwrite")
    lake.write(_customers(spark, "b"), "silver.weather", mode="overwrite")
    spark.sql(f"ALTER TABLE {lake.ident('silver.weather')} SET TBLPROPERTIES ('delta.checkpointInterval' = '1')")
    aged = time.time() - 60 * 86400  # twice the 30-day log retention
    log = Path(lake.location("silver.weather")) / "_delta_log"
    for entry in log.iterdir():
        if entry.is_file():
            os.utime(entry, (aged, aged))
    lake.write(_customers(spark, "c"), "silver.weather", mode="append")  # checkpoint, then cleanup
    assert not (log / f"{0:020d}.json").exists()
    with pytest.raises(
        ReproducibilityError,
        match=r"silver\.weather version 0 is no longer in the Delta log \(available versions: 3 to 3; "
        r"delta\.deletedFileRetentionDuration = interval 7 days, delta\.logRetentionDuration = interval 30 days\)",
    ):
        manifest.check_readable(lake, "silver.weather", 0)
    manifest.check_readable(lake, "silver.weather", 3)  # the current version still reads
