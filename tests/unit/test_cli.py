"""The spark-ml command line: exit codes, one-line errors, config show. No Spark needed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from spark_ml import cli
from spark_ml.cli.runner import guarded
from spark_ml.errors import DataQualityError


def test_config_show_prints_resolved_config(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = cli.main(["config", "show", "--set", f"lakehouse.root={tmp_path}", "--set", "train.seed=9"])
    out = capsys.readouterr().out
    assert code == 0
    data = yaml.safe_load(out)
    assert data["train"]["seed"] == 9
    assert data["lakehouse"]["root"] == str(tmp_path)


def test_config_show_unknown_key_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["config", "show", "--set", "nonexistent.key=1"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert "nonexistent.key" in err
    assert "Traceback" not in err


def test_config_show_masks_secrets(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SENTINEL_TOKEN", "tok-3f9a-sentinel")
    code = cli.main(["config", "show", "--format", "json", "--set", "secrets.api_token=${env:SENTINEL_TOKEN}"])
    out = capsys.readouterr().out
    assert code == 0
    assert "tok-3f9a-sentinel" not in out
    assert '"api_token": "***"' in out


def test_usage_error_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit, match=r"^2$") as exc:
        cli.main(["no-such-command"])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert err.strip().count("\n") == 0
    assert "invalid choice: 'no-such-command'" in err


def test_runtime_failure_is_one_line_naming_task_and_cause(capsys: pytest.CaptureFixture[str]) -> None:
    def boom() -> int:
        raise DataQualityError("silver.flights: check not_null(carrier) failed for 3 of 10 rows")

    def crash() -> int:
        raise ZeroDivisionError("division by zero")

    assert guarded("silver", boom) == 1
    assert guarded("train", crash) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "spark-ml silver failed: silver.flights: check not_null(carrier) failed for 3 of 10 rows",
        "spark-ml train failed: ZeroDivisionError: division by zero",
    ]


@pytest.mark.system
def test_console_script_runs_from_the_installed_package(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "spark-ml"
    out = subprocess.run(
        [str(exe), "config", "show", "--set", "nonexistent.key=1"], capture_output=True, text=True, cwd=tmp_path
    )
    assert out.returncode == 2
    assert out.stderr == "spark-ml config: error: unknown key 'nonexistent.key' in --set nonexistent.key\n"


def test_the_version_is_written_once_and_everything_reports_it(capsys: pytest.CaptureFixture[str]) -> None:
    import configparser
    import re
    from importlib import metadata

    from spark_ml import __version__
    from tests.helpers import REPO

    setup_cfg = configparser.ConfigParser()
    setup_cfg.read(REPO / "setup.cfg")
    written = setup_cfg.get("metadata", "version")
    assert re.fullmatch(r"\d+\.\d+\.\d+", written), f"setup.cfg's version {written!r} is a literal release"
    assert metadata.version("spark-ml") == written, "the installed metadata is stale: run make install"
    assert __version__ == written
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"spark-ml {written}\n"
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", (REPO / "CHANGELOG.md").read_text(), re.M)
    assert releases[0] == written, "CHANGELOG.md's newest release is the version"
    assert releases == sorted(releases, key=lambda v: tuple(map(int, v.split("."))), reverse=True)


def test_a_checkout_imported_without_being_installed_reads_setup_cfg(monkeypatch: pytest.MonkeyPatch) -> None:
    from spark_ml import versions

    monkeypatch.setattr(versions, "dist_version", lambda *names: None)
    assert versions._own_version() == versions.__version__
