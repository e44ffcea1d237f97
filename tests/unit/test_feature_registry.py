"""The feature builders' registry: `features.builder` picks a builder by name from a list in code,
and whatever can be wrong with the choice is a ConfigError before Spark starts. No Spark needed."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from spark_ml.config import Model, Settings, TableName, load_settings
from spark_ml.errors import ConfigError
from spark_ml.features import flights, registry
from spark_ml.features.builder import FeatureBuilder, params_from
from spark_ml.tasks import TASKS, check_pipeline
from tests.helpers import CONF, REPO


class VisitParams(Model):
    source: TableName = "silver.visits"
    window_days: int = Field(default=7, ge=1)


VISITS: FeatureBuilder[VisitParams] = FeatureBuilder(
    name="visits",
    description="a builder of the tests",
    parameters=params_from(VisitParams),
    inputs=lambda p: {"events": p.source},
    build=lambda frames, p: frames["events"],
)


@pytest.fixture
def visits(monkeypatch: pytest.MonkeyPatch) -> None:
    """`visits` registered for one test (the registry is a dict in code)."""
    monkeypatch.setitem(registry.BUILDERS, "visits", VISITS)


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    """A conf folder of another use case: no flights settings in it."""
    (tmp_path / "base").mkdir()
    (tmp_path / "local").mkdir()
    (tmp_path / "base" / "usecase.yml").write_text(
        "tables:\n  silver.visits: {}\n  gold.visits: {}\n"
        "features:\n  builder: visits\n  output: gold.visits\n  params: {window_days: 3}\n"
    )
    return tmp_path


def settings(conf: Path, *overrides: str) -> Settings:
    return load_settings("local", conf, list(overrides))


def test_the_flights_builder_is_the_default_with_its_three_silver_tables() -> None:
    found = registry.resolve(load_settings("local", CONF))
    assert found.builder is flights.BUILDER
    assert dict(found.tables) == {"flights": "silver.flights", "weather": "silver.weather", "planes": "silver.planes"}
    assert found.params.route_window_days == 28
    assert TASKS["features"].reads(load_settings("databricks", CONF)) == (
        "silver.flights",
        "silver.weather",
        "silver.planes",
    )


def test_every_registered_builder_is_named_after_its_module() -> None:
    assert registry.BUILDERS == {"flights": flights.BUILDER}
    for name, builder in registry.BUILDERS.items():
        assert builder.name == name
        assert (REPO / "spark_ml" / "features" / f"{name}.py").is_file()


def test_an_unknown_builder_names_the_key_the_file_and_the_known_ones() -> None:
    cfg = load_settings("local", CONF, ["features.builder=flight"])
    with pytest.raises(
        ConfigError,
        match=r"^unknown feature builder 'flight' at 'features.builder' in --set features.builder "
        r"\(did you mean 'flights'\?\) \(known: flights\)$",
    ):
        registry.resolve(cfg)
    with pytest.raises(ConfigError, match="unknown feature builder 'flight'"):
        check_pipeline(cfg)  # the pipeline checks its features step before anything runs


def test_the_flights_builder_takes_no_params() -> None:
    cfg = load_settings("local", CONF, ["features.params={window_days: 3}"])
    with pytest.raises(ConfigError, match=r"'features.params' in --set features.params: the flights builder takes no"):
        registry.resolve(cfg)


def test_a_history_feature_named_for_another_window_than_configured_is_an_error() -> None:
    cfg = load_settings("local", CONF, ["features.carrier_window_days=14"])
    with pytest.raises(
        ConfigError,
        match=r"train feature 'carrier_delay_rate_7d' .*features.carrier_window_days is 14 \(--set "
        r"features.carrier_window_days\), so the column is 'carrier_delay_rate_14d'",
    ):
        registry.resolve(cfg)
    renamed = [
        "features.carrier_window_days=14",
        "train.numeric=[dep_hour, carrier_delay_rate_14d, route_delay_rate_28d, origin_mean_dep_delay_7d]",
    ]
    assert registry.resolve(load_settings("local", CONF, renamed)).params.carrier_window_days == 14


@pytest.mark.usefixtures("visits")
def test_a_builders_params_are_validated_by_its_model(conf: Path) -> None:
    found = registry.resolve(settings(conf))
    assert found.params == VisitParams(window_days=3)
    assert dict(found.tables) == {"events": "silver.visits"}
    with pytest.raises(ConfigError, match=r"unknown key 'features.params.window_dayz' in --set .*did you mean"):
        registry.resolve(settings(conf, "features.params.window_dayz=3"))
    (conf / "local" / "local.yml").write_text("features:\n  params: {window_days: 0}\n")
    with pytest.raises(ConfigError, match=r"'features.params.window_days' in .*local.yml: Input should be greater"):
        registry.resolve(settings(conf))


@pytest.mark.usefixtures("visits")
def test_a_flights_setting_given_to_another_builder_is_an_error(conf: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"'features.route_window_days' in --set features.route_window_days is a setting of the flights builder; "
        r"builder 'visits' takes its parameters under 'features.params'",
    ):
        registry.resolve(settings(conf, "features.route_window_days=14"))


@pytest.mark.usefixtures("visits")
def test_an_input_table_must_be_declared(conf: Path) -> None:
    with pytest.raises(ConfigError, match=r"'visits' reads 'silver.vists', which is not declared under 'tables:'"):
        registry.resolve(settings(conf, "features.params.source=silver.vists"))


@pytest.mark.usefixtures("visits")
def test_months_need_a_builder_that_rebuilds_months(conf: Path) -> None:
    with pytest.raises(ConfigError, match=r"'visits' rebuilds every month at once .*set features.months to \[\]"):
        TASKS["features"].check(settings(conf, "features.months=[2024-03]"))


def test_the_flights_silver_steps_are_the_default_and_resolve_to_its_builders() -> None:
    steps = registry.resolve_silver(load_settings("local", CONF))
    assert [(s.source, s.target, b.name) for s, b in steps] == [
        ("bronze.airlines", "silver.airlines", "airlines"),
        ("bronze.airports", "silver.airports", "airports"),
        ("bronze.planes", "silver.planes", "planes"),
        ("bronze.weather", "silver.weather", "weather"),
        ("bronze.flights", "silver.flights", "flights"),
    ]
    assert [b.partition_by for _, b in steps][-1] == ("year", "month")
    assert TASKS["silver"].writes(load_settings("local", CONF)) == tuple(s.target for s, _ in steps)


def test_a_silver_step_names_a_registered_builder_and_declared_tables() -> None:
    typo = ["silver.steps=[{source: bronze.planes, target: silver.planes, builder: plane}]"]
    with pytest.raises(
        ConfigError,
        match=r"unknown silver builder 'plane' at 'silver.steps.0.builder' in --set silver.steps "
        r"\(did you mean 'planes'\?\) \(known: airlines, airports, flights, planes, weather\)",
    ):
        check_pipeline(load_settings("local", CONF, typo))  # before anything runs
    undeclared = ["silver.steps=[{source: bronze.plane, target: silver.planes, builder: planes}]"]
    with pytest.raises(
        ConfigError,
        match=r"unknown table 'bronze.plane' at 'silver.steps.0.source' in --set silver.steps "
        r"\(did you mean 'bronze.planes'",
    ):
        load_settings("local", CONF, undeclared)
    twice = [
        "silver.steps=[{source: bronze.planes, target: silver.planes, builder: planes}, "
        "{source: bronze.airlines, target: silver.planes, builder: airlines}]"
    ]
    with pytest.raises(ConfigError, match=r"silver.steps.*\['silver.planes'\] appear more than once"):
        load_settings("local", CONF, twice)
