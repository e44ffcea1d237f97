"""Fixtures of the notebook tests: the fixture folder, and a Jupyter kernel of THIS interpreter.

The kernelspec is written to a tmp folder on JUPYTER_PATH and starts `sys.executable`, so the kernel
runs the test venv's Python whatever other kernels the machine has.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from spark_ml.notebook.analysis import Options
from spark_ml.notebook.checker import CheckConfig, check_file
from spark_ml.notebook.model import Finding
from tests.unit.notebook.fixture_spec import FIXTURES_DIR

FIXTURE_PACKAGE = FIXTURES_DIR / "package" / "flights_pkg"
TEST_KERNEL = "spark-ml-test-python"


def findings_for(path: Path, rule: str | None = None, config: CheckConfig | None = None) -> list[Finding]:
    config = config or CheckConfig(options=Options(package_root=FIXTURE_PACKAGE))
    found = check_file(path, config)
    return [f for f in found if rule is None or f.rule == rule]


def where(findings: list[Finding]) -> list[tuple[str, int, int]]:
    return [(f.rule, f.cell, f.line) for f in findings]


@pytest.fixture(scope="session")
def kernel_name(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("jupyter")
    spec_dir = root / "kernels" / TEST_KERNEL
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "spark-ml tests (this interpreter)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(root))
        yield TEST_KERNEL
