"""Configuration: layering, overrides, interpolation, validation errors. No Spark needed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import get_args

import pytest

from spark_ml.config import EstimatorName, Settings, flatten, load_settings
from spark_ml.config.training import SINGLE_NODE, TASK_ESTIMATORS
from spark_ml.errors import ConfigError
from spark_ml.ml.pipeline import ESTIMATORS
from tests.helpers import CONF


def write_conf(tmp_path: Path, base: str, env: str = "", env_name: str = "local") -> Path:
    conf = tmp_path / "conf"
    (conf / "base").mkdir(parents=True)
    (conf / env_name).mkdir()
    (conf / "base" / "project.yml").write_text(base)
    if env:
        (conf / env_name / "env.yml").write_text(env)
    return conf


def test_shipped_local_config_resolves_tables_to_delta_paths(tmp_path: Path) -> None:
    settings = load_settings("local", CONF, [f"lakehouse.root={tmp_path}"])
    assert settings.env == "local"
    assert settings.table_location("gold.flight_features") == f"{tmp_path}/gold/flight_features"
    assert settings.tracking_uri == f"sqlite:///{tmp_path}/mlflow/mlflow.db"
    assert settings.train is not None
    assert settings.train.split.test.start == dt.date(2013, 11, 1)


def test_shipped_databricks_config_uses_unity_catalog_names() -> None:
    settings = load_settings("databricks", CONF, environ={"SPARK_ML_CATALOG": "dev_catalog"})
    assert settings.table_location("bronze.flights") == "dev_catalog.bronze.flights"
    assert settings.registered_model_name == "dev_catalog.ml.flight_delay"
    assert settings.tracking_uri == "databricks"
    assert settings.registry_uri == "databricks-uc"
    assert settings.lakehouse.landing_dir == "/Volumes/dev_catalog/spark_ml/landing"


def test_env_layer_deep_merges_over_base(tmp_path: Path) -> None:
    conf = write_conf(
        tmp_path,
        "spark:\n  master: local[4]\n  shuffle_partitions: 16\nproject:\n  name: base_name\n",
        "spark:\n  shuffle_partitions: 3\n",
    )
    settings = load_settings("local", conf)
    assert settings.spark.shuffle_partitions == 3
    assert settings.spark.master == "local[4]"  # sibling key of the base layer survives
    assert settings.project.name == "base_name"


def test_set_overrides_are_typed_and_win_over_files(tmp_path: Path) -> None:
    settings = load_settings(
        "local", CONF, [f"lakehouse.root={tmp_path}", "train.seed=7", "features.months=[2013-12, 2013-11]"]
    )
    assert settings.require_train().seed == 7
    assert settings.features.months == ("2013-12", "2013-11")


def test_unknown_key_from_set_is_named_in_full() -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'nonexistent\.key' in --set nonexistent\.key"):
        load_settings("local", CONF, ["nonexistent.key=1"])


def test_unknown_key_in_a_file_names_the_file_and_suggests(tmp_path: Path) -> None:
    conf = write_conf(tmp_path, "spark:\n  shuffle_partitons: 4\n")
    with pytest.raises(
        ConfigError, match=r"unknown key 'spark.shuffle_partitons' in .*project.yml.*'shuffle_partitions'"
    ):
        load_settings("local", conf)


def test_wrong_type_names_key_expected_and_found() -> None:
    with pytest.raises(ConfigError, match=r"'train.seed' in --set train.seed: expected an integer, got 'abc'"):
        load_settings("local", CONF, ["train.seed=abc"])


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    conf = write_conf(tmp_path, "spark:\n  master: [local\n  other: 1\n")
    with pytest.raises(ConfigError, match=r"malformed YAML in .*project.yml line \d+"):
        load_settings("local", conf)


def test_python_object_tags_are_rejected_without_running_anything(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    conf = write_conf(tmp_path, f"project: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(ConfigError, match=r"malformed YAML in .*project.yml.*"):
        load_settings("local", conf)
    assert not marker.exists()


def test_unset_env_variable_is_named(tmp_path: Path) -> None:
    conf = write_conf(tmp_path, "lakehouse:\n  root: ${env:SPARK_ML_TEST_ROOT}/lake\n")
    with pytest.raises(ConfigError, match=r"environment variable SPARK_ML_TEST_ROOT is not set.*lakehouse.root"):
        load_settings("local", conf, environ={})


def test_env_interpolation_and_default(tmp_path: Path) -> None:
    conf = write_conf(tmp_path, "lakehouse:\n  root: ${env:ROOT_X}/lake\n  catalog: ${env:CAT_X:-fallback}\n")
    settings = load_settings("local", conf, environ={"ROOT_X": "/data"})
    assert settings.lakehouse.root == "/data/lake"
    assert settings.lakehouse.catalog == "fallback"


def test_secrets_are_masked_in_dumps(tmp_path: Path) -> None:
    conf = write_conf(tmp_path, "secrets:\n  api_token: ${env:API_TOKEN_X}\n")
    settings = load_settings("local", conf, environ={"API_TOKEN_X": "sentinel-5ecret-value"})
    assert settings.secret_values() == ("sentinel-5ecret-value",)
    assert "sentinel-5ecret-value" not in repr(settings)
    assert "sentinel-5ecret-value" not in str(settings.dump())
    assert settings.dump()["secrets"] == {"api_token": "***"}


def test_unknown_env_lists_the_available_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown env 'prod'.*available: databricks, local"):
        load_settings("prod", CONF)


def test_unknown_table_reference_is_named_with_suggestion() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown table 'gold.flight_feature' at 'train.table'.*did you mean 'gold.flight_features'"
    ):
        load_settings("local", CONF, ["train.table=gold.flight_feature"])


@pytest.mark.parametrize("location", ["../../etc", "/etc/passwd", "s3://bucket/x", "gold/../../x"])
def test_table_location_outside_root_is_rejected(location: str) -> None:
    with pytest.raises(ConfigError, match=r"outside the lakehouse root"):
        load_settings("local", CONF, [f"tables.gold.flight_features.location={location}"])


def test_table_location_inside_root_is_used(tmp_path: Path) -> None:
    settings = load_settings(
        "local", CONF, [f"lakehouse.root={tmp_path}", "tables.gold.flight_features.location=custom/features"]
    )
    assert settings.table_location("gold.flight_features") == f"{tmp_path}/custom/features"


def test_unknown_estimator_lists_the_allowed_ones() -> None:
    with pytest.raises(
        ConfigError,
        match=r"'svm' for 'train.estimator'.*'logistic_regression', 'linear_regression', 'random_forest', 'gbt', "
        "'xgboost', 'sklearn_hgb' or 'lightgbm'",
    ):
        load_settings("local", CONF, ["train.estimator=svm"])
    # the names config accepts are exactly the constructors the pipeline allows, over the tasks
    # (Spark's per task, and the single-node ones of every task)
    names = {name for task in ESTIMATORS.values() for name in task}
    assert set(get_args(EstimatorName)) == names | set(SINGLE_NODE)
    assert {task: (*ESTIMATORS[task], *SINGLE_NODE) for task in ESTIMATORS} == TASK_ESTIMATORS


@pytest.mark.parametrize("month", ["2013-13", "13-2013", "2013/12", "december"])
def test_bad_month_is_rejected(month: str) -> None:
    with pytest.raises(ConfigError, match=rf"invalid value '{month}' for 'score.month'.*YYYY-MM"):
        load_settings("local", CONF, [f"score.month={month}"])


def test_split_windows_must_not_overlap() -> None:
    with pytest.raises(ConfigError, match=r"train.split.*time order"):
        load_settings("local", CONF, ["train.split.validation.start=2013-09-15"])


def test_bad_set_syntax_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"bad --set 'train.seed': expected KEY=VALUE"):
        load_settings("local", CONF, ["train.seed"])


def test_quality_check_needs_its_fields() -> None:
    with pytest.raises(ConfigError, match=r"'quality.silver.flights.0'.*needs min, max or both"):
        load_settings("local", CONF, ["quality.silver.flights=[{check: range, column: x}]"])


def test_relative_root_becomes_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings("local", CONF, ["lakehouse.root=./lake"])
    assert settings.lakehouse.root == str(tmp_path / "lake")


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(Exception, match=r"frozen"):
        settings.env = "other"  # type: ignore[misc]


def test_set_replaces_a_mapping_instead_of_merging_it() -> None:
    settings = load_settings(
        "local", CONF, ["train.estimator=logistic_regression", "train.params={maxIter: 5, regParam: 0.1}"]
    )
    assert settings.require_train().params == {"maxIter": 5, "regParam": 0.1}


def test_the_local_layer_replaces_the_base_model_choice_whole() -> None:
    """conf/local searches candidates (xgboost among them); the base keeps single estimators that
    run under Spark Connect, and none of the base's keys leak into the local list."""
    local = load_settings("local", CONF).require_train()
    assert (local.estimator, local.params, local.grid) == (None, None, None)
    assert local.estimators == ("logistic_regression", "xgboost")
    xgb = dict(local.choices)["train.candidates.1"]
    assert xgb.early_stopping_rounds is not None
    assert "n_estimators" not in xgb.params
    base = load_settings("databricks", CONF, environ={"SPARK_ML_CATALOG": "c"}).require_train()
    assert "xgboost" not in base.estimators


BASE_TRAIN = """
tables: {gold.t: {}}
train:
  table: gold.t
  label: y
  keys: [id]
  time_column: d
  numeric: [x]
  split:
    train: {start: 2024-01-01, end: 2024-01-31}
    validation: {start: 2024-02-01, end: 2024-02-28}
    test: {start: 2024-03-01, end: 2024-03-31}
"""


def test_the_single_estimator_keys_are_a_one_candidate_list(tmp_path: Path) -> None:
    conf = write_conf(tmp_path, BASE_TRAIN + "  estimator: gbt\n  params: {maxIter: 5}\n  grid: {maxDepth: [2, 3]}\n")
    train = load_settings("local", conf).require_train()
    [(key, candidate)] = train.choices
    assert key == "train"  # so its params are named train.params.<name> in errors, as before
    assert (candidate.estimator, candidate.params, candidate.grid) == ("gbt", {"maxIter": 5}, {"maxDepth": [2, 3]})
    assert candidate.label == "gbt"
    defaults = load_settings("local", write_conf(tmp_path / "d", BASE_TRAIN)).require_train()
    assert [(c.estimator, c.params) for _, c in defaults.choices] == [("logistic_regression", {})]


def test_a_later_layer_replaces_the_other_form_of_the_model_choice(tmp_path: Path) -> None:
    env = "train:\n  candidates:\n    - {estimator: logistic_regression, params: {maxIter: 5}}\n    - estimator: gbt\n"
    conf = write_conf(tmp_path, BASE_TRAIN + "  estimator: gbt\n  params: {maxIter: 5}\n", env)
    listed = load_settings("local", conf).require_train()
    assert listed.estimators == ("logistic_regression", "gbt")
    assert (listed.estimator, listed.params) == (None, None)
    single = load_settings("local", conf, ["train.estimator=random_forest"]).require_train()
    assert (single.candidates, single.estimators) == (None, ("random_forest",))
    again = load_settings("local", conf, ["train.estimator=gbt", "train.candidates=[{estimator: xgboost}]"])
    assert again.require_train().estimators == ("xgboost",)


@pytest.mark.parametrize(
    ("layer", "overrides", "message"),
    [
        (
            "train:\n  estimator: gbt\n  candidates: [{estimator: gbt}]\n",
            [],
            r"'train.candidates' \(.*env.yml\) and 'train.estimator' \(.*env.yml\) are both given",
        ),
        (
            "train:\n  candidates: [{estimator: gbt}]\n",
            ["train.grid={maxDepth: [2]}"],
            r"'train.candidates' \(.*env.yml\) and 'train.grid' \(--set train.grid\) are both given",
        ),
        ("train:\n  candidates: []\n", [], r"'train.candidates' in .*env.yml: the list is empty"),
        (
            "train:\n  candidates: [{estimator: gbt}, {estimator: gbt, params: {maxDepth: 3}}]\n",
            [],
            r"'train.candidates' in .*env.yml: several candidates are labelled gbt: give them distinct `name`s",
        ),
        (
            "train:\n  candidates: [{estimator: gbt, early_stopping_rounds: 10}]\n",
            [],
            r"'train.candidates.0' in .*env.yml: early_stopping_rounds applies to xgboost, sklearn_hgb and lightgbm "
            "candidates, not gbt",
        ),
        (
            "train:\n  candidates: [{estimator: xgboost, max_trees: 100}]\n",
            [],
            r"'train.candidates.0' .*max_trees caps early stopping: set early_stopping_rounds too",
        ),
        (
            "train:\n  candidates: [{estimator: xgboost, early_stopping_rounds: 5, grid: {n_estimators: [5]}}]\n",
            [],
            r"'train.candidates.0' .*remove n_estimators from params/grid \(the cap is max_trees\)",
        ),
        (
            "train:\n  candidates: [{estimator: svm}]\n",
            [],
            r"invalid value 'svm' for 'train.candidates.0.estimator' in .*env.yml: expected one of",
        ),
        ("train:\n  candidates: [{estimator: gbt, parms: {}}]\n", [], r"'train.candidates.0.parms'.*mean 'params'"),
        ("train:\n  select_by: f1\n", [], r"invalid value 'f1' for 'train.select_by'.*'auc_pr', 'rmse'"),
        ("train:\n  refit: yes\n", [], r"'train.refit'.*'train_and_validation'"),
    ],
)
def test_a_bad_candidates_config_names_the_key(tmp_path: Path, layer: str, overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings("local", write_conf(tmp_path, BASE_TRAIN, layer), overrides)


def test_candidates_are_flattened_into_mlflow_params() -> None:
    settings = load_settings("local", CONF)
    flat = flatten(settings.dump())
    assert flat["train.candidates.0.estimator"] == "logistic_regression"
    assert flat["train.candidates.1.estimator"] == "xgboost"
    assert flat["train.candidates.1.params.num_workers"] == 2
    assert flat["train.numeric"] == list(settings.require_train().numeric)  # a list of names stays one value
    assert flatten({"a": [{"b": {}}], "c": []}) == {"a.0.b": {}, "c": []}


def test_files_deep_merge_mappings(tmp_path: Path) -> None:
    conf = write_conf(tmp_path, "spark:\n  conf: {a: '1', b: '2'}\n", "spark:\n  conf: {b: '3'}\n")
    assert load_settings("local", conf).spark.conf == {"a": "1", "b": "3"}
