"""Every kind of bad configuration or argument: exit code 2 and one line naming the file, key or
value, before any Spark starts."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from spark_ml import cli
from tests.helpers import CONF


@pytest.fixture
def conf_copy(tmp_path: Path) -> Path:
    target = tmp_path / "conf"
    shutil.copytree(CONF, target)
    return target


CASES = [
    ("malformed YAML", "base/project.yml", "spark: [local\n", [], r"malformed YAML in .*project.yml line \d"),
    ("unknown key", "local/zz.yml", "train:\n  max_dpth: 3\n", [], r"unknown key 'train.max_dpth' in .*zz.yml"),
    (
        "wrong type",
        "local/zz.yml",
        "train:\n  parallelism: many\n",
        [],
        r"'train.parallelism' in .*zz.yml: expected an integer, got 'many'",
    ),
    (
        "missing env variable",
        "local/zz.yml",
        "lakehouse:\n  root: ${env:SPARK_ML_NOPE}\n",
        [],
        r"environment variable SPARK_ML_NOPE is not set",
    ),
    ("unknown estimator", None, "", ["--set", "train.estimator=svm"], r"invalid value 'svm' for 'train.estimator'"),
    (
        "unknown candidate field",
        "local/zz.yml",
        "train:\n  candidates:\n    - {estimator: logistic_regression}\n    - {estimator: xgboost, max_depht: 3}\n",
        [],
        r"unknown key 'train.candidates.1.max_depht' in .*zz.yml \(fields: .*go under 'params'\)",
    ),
    (
        "candidates and estimator",
        None,
        "",
        ["--set", "train.params={maxIter: 5}"],
        r"'train.candidates' \(.*local.yml\) and 'train.params' \(--set train.params\) are both given",
    ),
    (
        "unknown table",
        None,
        "",
        ["--set", "score.output=ml.predictionz"],
        r"unknown table 'ml.predictionz' at 'score.output'",
    ),
    ("unknown month", None, "", ["--set", "score.month=2013-13"], r"invalid value '2013-13' for 'score.month'"),
    (
        "path traversal",
        None,
        "",
        ["--set", "tables.ml.monitoring.location=../../etc"],
        r"'\.\./\.\./etc' .* outside the lakehouse root",
    ),
    ("bad --set", None, "", ["--set", "train.seed"], r"bad --set 'train.seed': expected KEY=VALUE"),
    (
        "python object tag",
        "local/zz.yml",
        "project: !!python/object/apply:os.system ['echo pwned']\n",
        [],
        r"malformed YAML in .*zz.yml",
    ),
]


@pytest.mark.parametrize(("case", "path", "text", "args", "message"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("command", [["score"], ["config", "show"]], ids=["task", "config-show"])
def test_bad_configuration_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    conf_copy: Path,
    command: list[str],
    case: str,
    path: str | None,
    text: str,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.delenv("SPARK_ML_NOPE", raising=False)
    if path:
        (conf_copy / path).write_text(text)
    code = cli.main([*command, "--conf-dir", str(conf_copy), *args])
    err = capsys.readouterr().err
    assert code == 2, case
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    assert re.search(message, err), err


def test_an_unknown_env_and_a_missing_conf_dir_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli.main(["config", "show", "--env", "staging"]) == 2
    assert cli.main(["config", "show", "--conf-dir", str(tmp_path / "nowhere")]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert "unknown env 'staging'" in lines[0]
    assert "has no base/ folder" in lines[1]


PROBE = """
import sys
from spark_ml import cli
code = cli.main(sys.argv[1:])
started = False
if "pyspark" in sys.modules:
    from pyspark import SparkContext
    started = SparkContext._gateway is not None or SparkContext._active_spark_context is not None
print("JVM started" if started else "no JVM", "pyspark imported" if "pyspark" in sys.modules else "no pyspark")
sys.exit(code)
"""


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["train", "--set", "train.estimator=svm"], r"^spark-ml train: error: invalid value 'svm'"),
        (["pipeline", "--set", "pipeline.steps=[ingest, silvr]"], r"'silvr' for 'pipeline.steps.1'"),
        (["land-demo-data", "--rows-per-month", "0"], r"--rows-per-month must be at least 1, got 0"),
        (["lineage", "gold.flight_featurs"], r"unknown table 'gold.flight_featurs' \(did you mean"),
        (["reproduce", "0123", "--tolerance", "-1"], r"--tolerance must be a number >= 0, got -1.0"),
        (
            ["features", "--set", "features.builder=flight"],
            r"^spark-ml features: error: unknown feature builder 'flight' at 'features.builder' in --set "
            r"features.builder \(did you mean 'flights'\?\) \(known: flights",
        ),
        (["pipeline", "--set", "features.params={x: 1}"], r"'features.params' in --set features.params: the flights"),
    ],
    ids=["task", "pipeline-step", "land", "lineage", "reproduce", "feature-builder", "pipeline-feature-params"],
)
def test_bad_configuration_exits_2_before_any_jvm_starts(tmp_path: Path, command: list[str], message: str) -> None:
    """In a process of its own (the test session's JVM cannot hide one): exit 2, one line, no JVM."""
    import subprocess
    import sys

    root = ["--set", f"lakehouse.root={tmp_path}"]
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *command, *root], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert out.returncode == 2, out.stderr
    assert out.stdout.startswith("no JVM ")
    assert out.stderr.count("\n") == 1
    assert re.search(message, out.stderr), out.stderr
