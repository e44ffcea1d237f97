"""The monitor's retrain decision and how it reaches a Databricks job: `monitor.retrain_on`, the
task values it publishes, and a value that cannot be published. No Spark."""

from __future__ import annotations

from typing import Any

import pytest

from spark_ml.config import load_settings
from spark_ml.errors import ConfigError, SparkMLError
from spark_ml.io import task_values
from spark_ml.ml.drift import retrain_wanted
from tests.helpers import CONF


@pytest.mark.parametrize(
    ("retrain_on", "wanted"),
    [("alert", {"alert"}), ("warn", {"warn", "alert"}), ("never", set())],
)
def test_retrain_wanted_follows_retrain_on(retrain_on: str, wanted: set[str]) -> None:
    assert {s for s in ("ok", "warn", "alert") if retrain_wanted(s, retrain_on)} == wanted


def test_retrain_on_is_never_locally_and_alert_on_databricks() -> None:
    assert load_settings("local", CONF).monitor.retrain_on == "never"
    assert load_settings("databricks", CONF).monitor.retrain_on == "alert"


def test_an_unknown_retrain_on_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"monitor\.retrain_on.*'alert', 'warn' or 'never'"):
        load_settings("local", CONF, ["monitor.retrain_on=sometimes"])


def test_off_databricks_nothing_is_published(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(task_values.RUNTIME_VARIABLE, raising=False)
    note = task_values.publish({"drift_status": "alert", "retrain": "true"})
    assert note == "task values drift_status=alert, retrain=true (not on Databricks: not published)"


class _TaskValues:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value


def test_on_databricks_every_value_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    recorded = _TaskValues()
    dbutils = type("DBUtils", (), {"jobs": type("Jobs", (), {"taskValues": recorded})()})()
    monkeypatch.setenv(task_values.RUNTIME_VARIABLE, "16.4")
    monkeypatch.setattr(task_values, "_dbutils", lambda: dbutils)
    note = task_values.publish({"drift_status": "warn", "retrain": "false"})
    assert recorded.values == {"drift_status": "warn", "retrain": "false"}
    assert note == "task values published: drift_status=warn, retrain=false"


def test_a_value_that_cannot_be_set_fails_naming_the_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """Claiming Databricks on this machine: the SDK's dbutils finds no workspace credentials."""
    monkeypatch.setenv(task_values.RUNTIME_VARIABLE, "16.4")
    for variable in ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CONFIG_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", "/nonexistent/databrickscfg")
    with pytest.raises(SparkMLError, match=r"could not publish the task values drift_status=alert, retrain=true: "):
        task_values.publish({"drift_status": "alert", "retrain": "true"})
