"""Configuration files that worked in release 0.1.0 still work: the conf/ folder as it shipped then
(tests/fixtures/conf_0.1.0) loads with today's code and means what it meant."""

from __future__ import annotations

from pathlib import Path

from spark_ml.config import load_settings
from spark_ml.notebook.settings import NotebookSettings
from tests.helpers import REPO

RELEASED = REPO / "tests" / "fixtures" / "conf_0.1.0"


def test_the_released_local_conf_loads_with_its_values(tmp_path: Path) -> None:
    cfg = load_settings("local", RELEASED, [f"lakehouse.root={tmp_path}"])
    train = cfg.require_train()
    assert (train.estimator, train.params) == (
        "xgboost",
        {"n_estimators": 40, "max_depth": 5, "learning_rate": 0.2, "num_workers": 2},
    )
    assert train.calibration_bins == 10  # a key that did nothing then; it sets the calibration plot's bins now
    assert cfg.project.name == "flight_delay"
    assert cfg.pipeline.steps[0] == "land-demo-data"
    assert cfg.ops.ingested_files_table == "bronze.ingested_files"  # hard-coded then, a setting now
    assert [c.check for c in cfg.quality["silver.flights"]][:2] == ["not_null", "unique"]
    assert cfg.section("notebook", NotebookSettings).max_definition_lines == 30
    assert cfg.table_location("gold.flight_features") == f"{tmp_path}/gold/flight_features"


def test_the_released_databricks_conf_loads_with_its_values() -> None:
    cfg = load_settings("databricks", RELEASED, environ={})
    assert cfg.require_train().estimator == "gbt"
    assert cfg.table_location("gold.flight_features") == "main.gold.flight_features"
    assert cfg.layout.model_staging_dir == "/Volumes/main/spark_ml/lakehouse/_staging/models"
    assert cfg.tracking_uri == "databricks"
