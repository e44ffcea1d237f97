"""`spark-ml new usecase NAME`: what it writes, that what it writes is clean (lint, format, the
notebook check, a conf that loads), and every refusal (exit 2, one line, nothing written). No
Spark: the acceptance test (tests/integration/test_new_usecase.py) runs the generated code."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from spark_ml import cli
from spark_ml.config import load_settings
from spark_ml.scaffold.usecase import registry_block
from tests.helpers import REPO

REGISTRY = Path("spark_ml/features/registry.py")
WRITTEN = [
    "spark_ml/features/churn.py",
    "conf_churn/base/project.yml",
    "conf_churn/base/tables.yml",
    "conf_churn/base/quality.yml",
    "conf_churn/base/features.yml",
    "conf_churn/base/ml.yml",
    "conf_churn/local/local.yml",
    "conf_churn/databricks/databricks.yml",
    "resources/churn.job.yml",
    "resources/churn_serverless.job.yml",
    "tests/unit/features/test_churn.py",
    "tests/unit/features/__init__.py",
    "notebooks/churn.ipynb",
]


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The parts of a checkout the scaffold needs: spark_ml/ with the real registry, conf/."""
    root = tmp_path / "project"
    (root / REGISTRY).parent.mkdir(parents=True)
    shutil.copy(REPO / REGISTRY, root / REGISTRY)
    (root / "conf").mkdir()
    return root


def files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def new(root: Path, name: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(["new", "usecase", name, "--into", str(root)])
    out, err = capsys.readouterr()
    return code, out, err


def test_it_writes_the_use_case_and_registers_its_builder(checkout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = new(checkout, "churn", capsys)
    assert (code, err) == (0, "")
    assert files(checkout) == {*WRITTEN, str(REGISTRY)}
    listed = [line.split()[0] for line in out.splitlines() if line.startswith("  ")]
    assert listed == [WRITTEN[0], str(REGISTRY), *WRITTEN[1:]]
    assert "  (edited) registers 'churn' with the features task\n" in out
    assert "  resources/churn_serverless.job.yml    Databricks job churn_pipeline_serverless\n" in out
    assert "spark-ml pipeline --conf-dir conf_churn\n" in out
    assert out.endswith("databricks bundle deploy -t dev\ndatabricks bundle run churn_pipeline\n")
    assert "pytest tests/unit/features/test_churn.py\n" in out
    registry = (checkout / REGISTRY).read_text()
    assert (
        "from spark_ml.features import churn  # isort: skip\n"
        "from spark_ml.features import flights  # isort: skip\n\n"
        "USE_CASES = (\n    churn.BUILDER,\n    flights.BUILDER,\n)\n# -- end of use cases --\n"
    ) in registry
    assert (
        registry.replace("\n".join(registry_block(["churn", "flights"])), "\n".join(registry_block(["flights"])))
        == (REPO / REGISTRY).read_text()
    )  # nothing else changed


def test_a_second_use_case_keeps_the_first(checkout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert new(checkout, "churn", capsys)[0] == 0
    assert new(checkout, "fraud_v2", capsys)[0] == 0
    registry = (checkout / REGISTRY).read_text()
    assert "USE_CASES = (\n    churn.BUILDER,\n    flights.BUILDER,\n    fraud_v2.BUILDER,\n)" in registry
    assert "class FraudV2Params(Model):" in (checkout / "spark_ml/features/fraud_v2.py").read_text()


@pytest.mark.system
def test_the_python_it_writes_is_lint_and_format_clean(checkout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ruff = Path(sys.executable).parent / "ruff"
    if not ruff.exists():
        pytest.skip("ruff is not installed next to this Python")
    assert new(checkout, "a_long_use_case_name_of_30_ch", capsys)[0] == 0
    python = [str(p) for p in checkout.rglob("*.py")]
    # the project's settings; spark_ml is first party there as here
    config = ["--config", str(REPO / "pyproject.toml"), "--config", "lint.isort.known-first-party=['spark_ml']"]
    for command in (["check"], ["format", "--check"]):
        done = subprocess.run(
            [str(ruff), *command, "--no-cache", *config, *python], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_its_configuration_loads_and_names_the_steps(checkout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert new(checkout, "churn", capsys)[0] == 0
    cfg = load_settings("local", checkout / "conf_churn")
    assert cfg.pipeline.steps == ("silver", "features", "train", "promote", "score", "monitor")
    assert [(s.source, s.target, s.builder) for s in cfg.silver.steps] == [
        ("bronze.churn_events", "silver.churn_events", "churn_events")
    ]
    assert (cfg.features.builder, cfg.features.output, cfg.features.params) == (
        "churn",
        "gold.churn_features",
        {"source": "silver.churn_events", "window_days": 28},
    )
    assert cfg.train is not None
    assert cfg.score is not None
    assert (cfg.train.table, cfg.train.label, cfg.train.keys) == ("gold.churn_features", "outcome", ("event_id",))
    assert (cfg.score.month, cfg.score.output, cfg.monitor.output) == (
        "2024-12",
        "ml.churn_predictions",
        "ml.churn_monitoring",
    )
    assert {"bronze.churn_events", "silver.churn_events", "gold.churn_features"} <= set(cfg.tables)
    assert [c.check for c in cfg.quality["gold.churn_features"]][:2] == ["not_null", "unique"]
    assert (cfg.project.name, cfg.model.name, cfg.mlflow.experiment) == ("churn", "churn", "churn")
    for path in (checkout / "conf_churn").rglob("*.yml"):
        assert path.read_text().startswith("# "), path  # each file says what it is for


@pytest.mark.parametrize(
    ("task", "label", "estimators", "select_by", "gate"),
    [
        ("binary", "outcome", ("logistic_regression",), "auc_roc", [("auc_roc", "min", 0.6), ("auc_pr", "min", 0.0)]),
        ("regression", "amount", ("linear_regression",), "rmse", [("rmse", "max", 1000.0)]),
        ("multiclass", "channel", ("logistic_regression",), "log_loss", [("accuracy", "min", 0.0)]),
    ],
)
def test_task_writes_the_matching_model_configuration(
    checkout: Path,
    capsys: pytest.CaptureFixture[str],
    task: str,
    label: str,
    estimators: tuple[str, ...],
    select_by: str,
    gate: list[tuple[str, str, float]],
) -> None:
    assert cli.main(["new", "usecase", "churn", "--into", str(checkout), "--task", task]) == 0
    capsys.readouterr()
    cfg = load_settings("local", checkout / "conf_churn")
    assert cfg.train is not None
    assert (cfg.train.task, cfg.train.label, cfg.train.estimators, cfg.train.select_by) == (
        task,
        label,
        estimators,
        select_by,
    )
    assert label not in cfg.train.features
    assert (cfg.promote.metric, cfg.promote.bounds(task)) == (select_by, gate)
    test = (checkout / "tests/unit/features/test_churn.py").read_text()
    assert f'assert settings.train.task == "{task}"' in test


def test_an_unknown_task_exits_2(checkout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["new", "usecase", "churn", "--into", str(checkout), "--task", "ranking"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'ranking'" in capsys.readouterr().err
    assert not (checkout / "conf_churn").exists()


def test_its_notebook_has_no_outputs_and_passes_the_notebook_check(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert new(checkout, "churn", capsys)[0] == 0
    notebook = checkout / "notebooks" / "churn.ipynb"
    cells = json.loads(notebook.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert len(code) == 3
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    assert "from spark_ml.features.churn import BUILDER, churn_features\n" in code[0]["source"]
    assert cli.main(["notebook", "check", str(notebook)]) == 0
    assert "no findings" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["Churn", "1churn", "churn-rate", "class", "x" * 31, "", "_churn"])
def test_a_bad_name_exits_2_with_one_line(checkout: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    before = files(checkout)
    code, out, err = new(checkout, name, capsys)
    assert (code, out) == (2, "")
    assert err.startswith(f"spark-ml new: error: bad use case name {name!r}: expected a lowercase Python identifier")
    assert err.count("\n") == 1
    assert files(checkout) == before


def test_outside_a_checkout_it_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = new(tmp_path, "churn", capsys)
    assert code == 2
    assert (
        err == f"spark-ml new: error: {tmp_path} is not a spark-ml checkout (no spark_ml/ and conf/ folders): "
        "run this at the project's root or pass --into DIR\n"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "existing", "message"),
    [
        ("churn", "conf_churn/base/x.yml", r"conf_churn exists already: use case 'churn' is there"),
        ("churn", "notebooks/churn.ipynb", r"notebooks/churn.ipynb exists already: pick another name than 'churn'"),
        ("churn", "tests/unit/features/test_churn.py", r"tests/unit/features/test_churn.py exists already"),
        ("flights", "", r"use case 'flights' is registered already in spark_ml/features/registry.py"),
        ("registry", "", r"spark_ml/features/registry.py exists already: pick another name than 'registry'"),
        ("builder", "spark_ml/features/builder.py", r"spark_ml/features/builder.py exists already"),
        ("churn", "resources/churn.job.yml", r"resources/churn.job.yml exists already: pick another name"),
        ("churn", "resources/churn_serverless.job.yml", r"resources/churn_serverless.job.yml exists already"),
    ],
)
def test_a_name_that_would_overwrite_a_file_exits_2_naming_it(
    checkout: Path, capsys: pytest.CaptureFixture[str], name: str, existing: str, message: str
) -> None:
    if existing:
        (checkout / existing).parent.mkdir(parents=True, exist_ok=True)
        (checkout / existing).write_text("mine\n")
    before = {p: (checkout / p).read_text() for p in files(checkout)}
    code, _, err = new(checkout, name, capsys)
    assert code == 2
    assert err.count("\n") == 1
    assert message.replace("\\", "") in err
    assert {p: (checkout / p).read_text() for p in files(checkout)} == before  # nothing written


def test_a_hand_edited_registry_block_is_left_alone(checkout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (checkout / REGISTRY).read_text()
    (checkout / REGISTRY).write_text(text.replace("USE_CASES = (flights.BUILDER,)", "USE_CASES = (flights.BUILDER, x)"))
    code, _, err = new(checkout, "churn", capsys)
    assert code == 2
    assert "the lines between its markers were edited by hand; register the builder by hand" in err
    (checkout / REGISTRY).write_text(text.replace("# -- end of use cases --\n", ""))
    assert new(checkout, "churn", capsys)[2].startswith("spark-ml new: error: spark_ml/features/registry.py has lost")
    assert not (checkout / "conf_churn").exists()


def test_a_job_key_the_bundle_defines_already_exits_2_naming_its_file(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """flight_delay would write resources/flight_delay.job.yml, a new file, whose job key
    flight_delay_pipeline the flights job file defines already: the bundle would define it twice."""
    (checkout / "resources").mkdir()
    shutil.copy(REPO / "resources" / "flight_delay_pipeline.job.yml", checkout / "resources")
    before = files(checkout)
    code, _, err = new(checkout, "flight_delay", capsys)
    assert code == 2
    assert err == (
        f"spark-ml new: error: job 'flight_delay_pipeline' is defined already in "
        f"{checkout / 'resources' / 'flight_delay_pipeline.job.yml'}: pick another name than 'flight_delay'\n"
    )
    assert files(checkout) == before


def test_a_bundle_file_that_is_not_yaml_exits_2_before_any_write(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (checkout / "resources").mkdir()
    (checkout / "resources" / "broken.yml").write_text("resources: [\n")
    code, _, err = new(checkout, "churn", capsys)
    assert code == 2
    assert err.startswith(f"spark-ml new: error: {checkout / 'resources' / 'broken.yml'} is not valid YAML")
    assert files(checkout) == {str(REGISTRY), "resources/broken.yml"}
