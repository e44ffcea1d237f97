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


# One case per place a bad value can come from (a file, --set, the environment, a model rule): what
# each message says is tested where it is made (tests/unit/test_config.py); here, that a command
# turns it into exit 2 and one line.
CASES = [
    ("malformed YAML", "base/project.yml", "spark: [local\n", [], r"malformed YAML in .*project.yml line \d"),
    ("bad --set", None, "", ["--set", "train.seed"], r"bad --set 'train.seed': expected KEY=VALUE"),
    (
        "missing env variable",
        "local/zz.yml",
        "lakehouse:\n  root: ${env:SPARK_ML_NOPE}\n",
        [],
        r"environment variable SPARK_ML_NOPE is not set",
    ),
    (
        "candidates and estimator",
        None,
        "",
        ["--set", "train.params={maxIter: 5}"],
        r"'train.candidates' \(.*local.yml\) and 'train.params' \(--set train.params\) are both given",
    ),
]


@pytest.mark.parametrize(("case", "path", "text", "args", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_configuration_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    conf_copy: Path,
    case: str,
    path: str | None,
    text: str,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.delenv("SPARK_ML_NOPE", raising=False)
    if path:
        (conf_copy / path).write_text(text)
    code = cli.main(["score", "--conf-dir", str(conf_copy), *args])
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
import contextlib, io, json, sys
from spark_ml import cli
out = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as exc:
            code = exc.code
    started = False
    if "pyspark" in sys.modules:
        from pyspark import SparkContext
        started = SparkContext._gateway is not None or SparkContext._active_spark_context is not None
    out.append({"code": code, "stderr": err.getvalue(), "jvm": started})
print(json.dumps(out))
"""

PROBES = {
    "task": (["train", "--set", "train.estimator=svm"], r"^spark-ml train: error: invalid value 'svm'"),
    "pipeline-step": (["pipeline", "--set", "pipeline.steps=[ingest, silvr]"], r"'silvr' for 'pipeline.steps.1'"),
    "land": (["land-demo-data", "--rows-per-month", "0"], r"--rows-per-month must be at least 1, got 0"),
    "lineage": (["lineage", "gold.flight_featurs"], r"unknown table 'gold.flight_featurs' \(did you mean"),
    "reproduce": (["reproduce", "0123", "--tolerance", "-1"], r"--tolerance must be a number >= 0, got -1.0"),
    "feature-builder": (
        ["features", "--set", "features.builder=flight"],
        r"^spark-ml features: error: unknown feature builder 'flight' at 'features.builder' in --set "
        r"features.builder \(did you mean 'flights'\?\) \(known: flights",
    ),
    "pipeline-feature-params": (
        ["pipeline", "--set", "features.params={x: 1}"],
        r"'features.params' in --set features.params: the flights",
    ),
}


@pytest.fixture(scope="module")
def probed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    """Every probe command, one after the other, in ONE process of its own (the test session's JVM
    cannot hide one): its exit code, its stderr, and whether pyspark was imported or a JVM started."""
    import json
    import subprocess
    import sys

    workdir = tmp_path_factory.mktemp("probe")
    root = ["--set", f"lakehouse.root={workdir}"]
    commands = [[*command, *root] for command, _ in PROBES.values()]
    out = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(commands)], capture_output=True, text=True, timeout=300, cwd=workdir
    )
    assert out.returncode == 0, out.stderr
    return dict(zip(PROBES, json.loads(out.stdout), strict=True))


@pytest.mark.system
@pytest.mark.parametrize("case", list(PROBES))
def test_bad_configuration_exits_2_before_any_jvm_starts(probed: dict[str, dict[str, object]], case: str) -> None:
    result = probed[case]
    stderr = str(result["stderr"])
    assert result["code"] == 2, stderr
    assert result["jvm"] is False
    assert stderr.count("\n") == 1, stderr
    assert re.search(PROBES[case][1], stderr), stderr
