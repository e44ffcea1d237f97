"""`make test-runtimes`: the built wheel on every runtime the bundle targets, end to end.

For each runtime: a venv of its own (kept between runs while its pins do not change) with the wheel
and exactly the runtime's pins; from a folder with no checkout, the demo data landed on a slice and
the pipeline run (on Spark Connect: every task of the serverless job as its own process, as the
job runs them); then every table and the model's numbers compared with the reference runtime's.

Tables must be equal (row counts and a digest of every row). Model numbers (metrics, predictions,
drift) must agree within TOLERANCE: logistic regression fitted by L-BFGS on equal data converges to
the same optimum on every Spark version, but its gradient is a sum over partitions added in task
completion order, and Spark 3.5 and 4.x differ in their floating-point aggregation code; measured
differences are below 1e-9 (see docs/runtimes.md), the tolerance leaves a margin of three orders.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from spark_ml.cli import dev
from tests import serverless_job
from tests.helpers import REPO
from tests.matrix.fingerprint import differences
from tests.matrix.runtimes import REFERENCE, RUNTIMES, Runtime

pytestmark = [pytest.mark.runtimes, pytest.mark.system, pytest.mark.slow]

ROWS_PER_MONTH = 300
STEPS = "[ingest, silver, features, train, promote, score, monitor]"
TRAIN = ["--set", "train.estimator=logistic_regression", "--set", "train.params={maxIter: 30, regParam: 0.01}"]
TOLERANCE = 1e-6
EXIT_BOUND_S = 300  # a Connect process that hangs at exit waits far longer (hours, until a job timeout)
FINGERPRINT = Path(__file__).with_name("fingerprint.py")


def cache_dir() -> Path:
    return Path(os.environ.get("SPARK_ML_CI_CACHE", Path.home() / ".cache" / "spark-ml-ci")) / "runtimes"


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(REPO)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("*.whl")
    return built


def _requirements(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return "\n".join(line for line in zf.read(meta).decode().splitlines() if line.startswith("Requires-Dist"))


@dataclass
class Venv:
    runtime: Runtime
    path: Path

    @property
    def bin(self) -> Path:
        return self.path / "bin"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK_", "SPARK_", "VIRTUAL_ENV", "PYTHON"))}
        return {**env, "PATH": f"{self.bin}:{env.get('PATH', '')}", "PYSPARK_PYTHON": str(self.bin / "python")}

    def run(
        self, workdir: Path, *args: str, timeout: int = 900, extra_env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(a) for a in args],
            cwd=workdir,
            env={**self.env(), **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def install(runtime: Runtime, wheel: Path) -> tuple[Venv, float]:
    """The runtime's venv with the wheel and the pins; created when missing, else brought up to date."""
    started = time.perf_counter()
    path = cache_dir() / f"{runtime.name}-{runtime.key(_requirements(wheel))}"
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or "uv"
    if not (path / "bin" / "python").exists():
        subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(path)], check=True)
    subprocess.run(
        [
            uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            str(path / "bin" / "python"),
            "--reinstall-package",
            "spark-ml",
            f"{wheel}[{runtime.extras}]",
            *runtime.pins,
        ],
        check=True,
        timeout=1800,
    )
    return Venv(runtime, path), time.perf_counter() - started


@dataclass
class Outcome:
    runtime: Runtime
    versions: dict[str, str]
    install_s: float
    pipeline_s: float
    fingerprint: dict[str, Any]


OUTCOMES: dict[str, Outcome] = {}


def _check(result: subprocess.CompletedProcess[str], what: str, allowed: tuple[int, ...] = (0,)) -> None:
    if result.returncode not in allowed:
        raise AssertionError(f"{what} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")


def _versions(venv: Venv, workdir: Path) -> dict[str, str]:
    code = (
        "import json; from importlib.metadata import version as v; "
        "print(json.dumps({n: v(n) for n in ('pyspark', 'delta-spark', 'mlflow', 'SQLAlchemy', 'pandas', 'spark-ml')}))"
    )
    result = venv.run(workdir, venv.bin / "python", "-c", code)
    _check(result, "version probe")
    return dict(json.loads(result.stdout))


def run_pipeline(venv: Venv, workdir: Path) -> tuple[float, list[str], dict[str, Any]]:
    """Land a slice and run the pipeline: one `spark-ml pipeline` on a classic session, or every
    task of the serverless job as its own process against a Spark Connect server (then, over the
    same server: reproduce the champion's training, and a succeeding and a failing pipeline that
    must both exit). Returns the pipeline's wall time, what the Connect checks measured and the
    fingerprint of the lakehouse the pipeline left (taken before the Connect checks add to it)."""
    root = workdir / "lakehouse"
    common = ["--set", f"lakehouse.root={root}", *TRAIN]
    rows = str(ROWS_PER_MONTH)
    landed = venv.run(workdir, venv.bin / "spark-ml", "land-demo-data", "--rows-per-month", rows, *common)
    _check(landed, "spark-ml land-demo-data")
    started = time.perf_counter()
    if not venv.runtime.connect:
        ran = venv.run(workdir, venv.bin / "spark-ml", "pipeline", *common, "--set", f"pipeline.steps={STEPS}")
        _check(ran, "spark-ml pipeline")
        return time.perf_counter() - started, [], fingerprint(venv, workdir)
    with _connect_server(venv, workdir) as server:
        for script, arguments in serverless_job.local_commands(str(root), server.url, TRAIN):
            ran = venv.run(workdir, venv.bin / script, *arguments)
            _check(ran, f"{script} over Spark Connect", allowed=(0, 3) if script == "spark-ml-monitor" else (0,))
            assert "Traceback" not in ran.stderr
        pipeline_s = time.perf_counter() - started
        found = fingerprint(venv, workdir)
        remote = [*common, "--set", "spark.mode=connect", "--set", f"spark.remote={server.url}"]
        notes = connect_checks(venv, workdir, remote)
        notes += model_kind_checks(venv, workdir, common, remote)
    return pipeline_s, notes, found


def registered(venv: Venv, workdir: Path, overrides: list[str], alias: str) -> tuple[str, str]:
    """(run id, version) of the registered model's version behind `alias`."""
    code = (
        "import sys; from mlflow.tracking import MlflowClient; "
        "from spark_ml.config import load_settings; c = load_settings('local', overrides=sys.argv[2:]); "
        "m = MlflowClient(tracking_uri=c.tracking_uri, registry_uri=c.registry_uri); "
        "v = m.get_model_version_by_alias(c.registered_model_name, sys.argv[1]); print(v.run_id, v.version)"
    )
    sets = [v for i, v in enumerate(overrides) if i % 2 == 1]
    found = venv.run(workdir, venv.bin / "python", "-c", code, alias, *sets)
    _check(found, f"'{alias}' lookup")
    run_id, version = found.stdout.split()
    return run_id, version


def connect_checks(venv: Venv, workdir: Path, remote: list[str]) -> list[str]:
    """`spark-ml reproduce` of the champion's training over Spark Connect, then a succeeding and a
    failing (a model fitted on the server, then its logging fails) pipeline, each within EXIT_BOUND_S."""
    run_id, _ = registered(venv, workdir, remote, "champion")
    notes = []
    for name, arguments, expected in (
        ("reproduce", ["reproduce", run_id, *remote], 0),
        ("pipeline", ["pipeline", *remote, "--set", "pipeline.steps=[train, promote, score, monitor]"], 0),
        (
            "failing pipeline",
            ["pipeline", *remote, "--set", "mlflow.tracking_uri=http://127.0.0.1:9", "--set", "pipeline.steps=[train]"],
            1,
        ),
    ):
        started = time.perf_counter()
        # the unreachable tracking server is refused at once: no minutes of MLflow's HTTP retries
        quick = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"} if expected else {}
        result = venv.run(workdir, venv.bin / "spark-ml", *arguments, timeout=EXIT_BOUND_S, extra_env=quick)
        seconds = time.perf_counter() - started
        _check(result, name, allowed=(expected,))
        notes.append(f"{name} exited {expected} in {seconds:.1f} s")
        if name == "reproduce":
            assert "result: reproduced, every metric matches" in result.stdout
        if expected == 1:
            assert result.stderr.startswith("spark-ml pipeline failed:")
            assert result.stderr.count("\n") == 1
    return notes


XGBOOST = ["--set", "train.estimator=xgboost", "--set", "train.params={max_depth: 3, n_estimators: 40, num_workers: 1}"]
LIGHTGBM = ["--set", "train.estimator=lightgbm", "--set", "train.params={n_estimators: 40, num_leaves: 15}"]
ALWAYS_PROMOTE = ["--set", "promote.max_regression=1.0", "--set", "promote.min_auc_roc=0.0"]


def model_kind_checks(venv: Venv, workdir: Path, common: list[str], remote: list[str]) -> list[str]:
    """Models a serverless run meets: a champion trained with xgboost.spark on a classic session,
    promoted and scored over Spark Connect through its booster; then a single-node candidate
    (lightgbm) trained, promoted against that champion and scored, all over Spark Connect."""
    notes = []
    started = time.perf_counter()
    trained = venv.run(workdir, venv.bin / "spark-ml", "train", *common, *XGBOOST)
    _check(trained, "spark-ml train (xgboost.spark, classic session)")
    _, xgboost_version = registered(venv, workdir, common, "challenger")
    notes.append(f"xgboost.spark challenger version {xgboost_version} trained on a classic session")
    steps = ["--set", "pipeline.steps=[promote, score, monitor]"]
    ran = venv.run(workdir, venv.bin / "spark-ml", "pipeline", *remote, *ALWAYS_PROMOTE, *steps, timeout=EXIT_BOUND_S)
    _check(ran, "promote, score and monitor of the xgboost.spark model over Spark Connect", allowed=(0, 3))
    assert f"version {xgboost_version} promoted" in ran.stdout, ran.stdout
    assert f"with flight_delay version {xgboost_version} ('champion'" in ran.stdout, ran.stdout
    notes.append(f"xgboost.spark champion promoted, scored and monitored in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    steps = ["--set", "pipeline.steps=[train, promote, score]"]
    ran = venv.run(workdir, venv.bin / "spark-ml", "pipeline", *remote, *LIGHTGBM, *steps, timeout=EXIT_BOUND_S)
    _check(ran, "a lightgbm pipeline over Spark Connect")
    _, lightgbm_version = registered(venv, workdir, common, "challenger")
    assert int(lightgbm_version) == int(xgboost_version) + 1
    assert "challenger: lightgbm (40 trees)" in ran.stdout, ran.stdout
    assert f"version {lightgbm_version} " in ran.stdout, ran.stdout
    assert "vs champion" in ran.stdout, ran.stdout
    notes.append(f"lightgbm trained, promoted against it and scored in {time.perf_counter() - started:.1f} s")
    return notes


@contextmanager
def _connect_server(venv: Venv, workdir: Path) -> Iterator[dev.Server]:
    """A Spark Connect server of the runtime's own pyspark, with the Delta jars it resolves."""
    spark_home = venv.run(
        workdir, venv.bin / "python", "-c", "import os, pyspark; print(os.path.dirname(pyspark.__file__))"
    )
    _check(spark_home, "pyspark location")
    submit_args = venv.run(workdir, venv.bin / "spark-ml", "spark-submit-args")
    _check(submit_args, "spark-ml spark-submit-args")
    arguments = submit_args.stdout.split()
    package = arguments[arguments.index("--packages") + 1]
    server = dev.start_server(Path(spark_home.stdout.strip()), package, workdir / "server", str(venv.bin / "python"))
    try:
        yield server
    finally:
        server.stop()


def fingerprint(venv: Venv, workdir: Path) -> dict[str, Any]:
    out = workdir / "fingerprint.json"
    result = venv.run(workdir, venv.bin / "python", FINGERPRINT, str(workdir / "lakehouse"), "--out", str(out), *TRAIN)
    _check(result, "fingerprint")
    data: dict[str, Any] = json.loads(out.read_text())
    return data


@pytest.mark.parametrize("runtime", RUNTIMES, ids=lambda r: r.name)
def test_the_pipeline_on_each_runtime_matches_the_reference(
    runtime: Runtime, wheel: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    venv, install_s = install(runtime, wheel)
    workdir = tmp_path_factory.mktemp(runtime.name)
    assert not (workdir / ".git").exists()
    assert not (workdir / "spark_ml").exists()
    versions = _versions(venv, workdir)
    pipeline_s, notes, found = run_pipeline(venv, workdir)
    outcome = Outcome(runtime, versions, install_s, pipeline_s, found)
    OUTCOMES[runtime.name] = outcome
    print(
        f"\n{runtime.title}: pyspark {versions['pyspark']}, delta-spark {versions['delta-spark']}, "
        f"mlflow {versions['mlflow']}; venv {install_s:.1f} s, pipeline {pipeline_s:.1f} s"
    )
    for note in notes:
        print(f"  over Spark Connect: {note}")
    if runtime is REFERENCE:
        assert len(outcome.fingerprint["tables"]) >= 15
        assert outcome.fingerprint["model"]["metrics"]["test_auc_roc"] > 0.55
        return
    reference = OUTCOMES.get(REFERENCE.name)
    assert reference is not None, f"the reference runtime {REFERENCE.name} did not run first"
    assert differences(reference.fingerprint, outcome.fingerprint, TOLERANCE) == []
    auc, ref_auc = (o.fingerprint["model"]["metrics"]["test_auc_roc"] for o in (outcome, reference))
    print(f"  every table equal; test AUC-ROC {auc:.6f} vs {ref_auc:.6f} (difference {abs(auc - ref_auc):.2g})")
