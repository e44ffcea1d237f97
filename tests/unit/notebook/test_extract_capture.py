"""`notebook extract --capture`: the generated characterization tests pass, and fail when the code changes.

Three corpus notebooks (late_flights.ipynb, and the Databricks sources steps.py and widgets_sql.py,
whose widget has no default: `--widget run_date=...`) are extracted with --capture once per module
(one kernel each), with a --setup file that writes the `bronze.flights` and `bronze.carriers` tables
they read. The generated tests then run in one pytest subprocess (one JVM): the captured ones pass
and the skeletons fail. Then THRESHOLD is changed in the generated modules, and the comparison in
on_run_date's body, and the captured tests that depend on them must fail. Run this file under
`flock /tmp/spark.lock` on a shared machine: it starts two kernels (each with Spark) and two pytest
processes with Spark, and takes no lock itself (a nested flock on the same file would wait forever).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from spark_ml import cli
from tests.unit.notebook.extract_spec import CORPUS_SEED, EXTRACT_DIR

pytestmark = [pytest.mark.system, pytest.mark.slow]

SETUP = CORPUS_SEED  # bronze.flights and bronze.carriers, in the capture kernel
NOTEBOOKS = {"late": "late_flights.ipynb", "steps": "steps.py", "widgets": "widgets_sql.py"}
# run_date 2013-01-01: the day of the first rows, so the 4 sampled rows give a non-empty output
WIDGETS = {"widgets": ["--widget", "run_date=2013-01-01"]}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, kernel_name: str) -> Path:
    root = tmp_path_factory.mktemp("capture")
    (root / "setup_tables.py").write_text(SETUP, encoding="utf-8")
    for module, name in NOTEBOOKS.items():
        notebook = Path(shutil.copy(EXTRACT_DIR / name, root / name))
        args = ["notebook", "extract", str(notebook), "--module", f"flights_pkg.{module}", "--root", str(root)]
        args += ["--capture", "--setup", str(root / "setup_tables.py"), "--kernel", kernel_name, "--limit", "4"]
        args += WIDGETS.get(module, [])
        assert cli.main(args) == 0
    return root


def pytest_run(root: Path, *selection: str) -> dict[str, str]:
    """Run the generated tests in a fresh process (no conftest of this project); `file::test` -> outcome."""
    env = {**os.environ, "PYTHONPATH": str(root), "PYSPARK_PYTHON": sys.executable}
    command = [sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider", "-p", "no:randomly"]
    command += ["--rootdir", str(root), *selection]
    result = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, check=False, timeout=600)
    found = re.findall(r"^(PASSED|FAILED|ERROR) tests/unit/(test_\w+\.py::\w+)", result.stdout, re.M)
    outcomes = {name: outcome for outcome, name in found}
    assert outcomes, result.stdout + result.stderr
    return outcomes


def test_captured_tests_pass_and_fail_when_the_code_changes(project: Path) -> None:
    late = (project / "tests" / "unit" / "test_late.py").read_text(encoding="utf-8")
    assert "(None, None, None, None, None, None)" not in late
    assert '("2013-01-01", 0, None, "B6", "LGA", "BOS"),' in late  # the null delay, as a literal row
    outcomes = pytest_run(project, "tests/unit")
    assert outcomes == {
        "test_late.py::test_late_flights_captured": "PASSED",
        "test_late.py::test_late_by_carrier_captured": "PASSED",
        "test_late.py::test_with_carrier_names_skeleton": "FAILED",  # reads bronze.carriers itself: not captured
        "test_late.py::test_carrier_table_skeleton": "FAILED",
        "test_steps.py::test_clean_flights_captured": "PASSED",
        "test_steps.py::test_late_by_carrier_captured": "PASSED",
        "test_steps.py::test_route_counts_captured": "PASSED",
        "test_widgets.py::test_on_run_date_captured": "PASSED",
    }
    widgets = (project / "tests" / "unit" / "test_widgets.py").read_text(encoding="utf-8")
    assert 'run_date="2013-01-01"' in widgets  # the widget's value, passed as the notebook passes it
    for module in ("late", "steps"):
        path = project / "flights_pkg" / f"{module}.py"
        text = path.read_text(encoding="utf-8")
        assert "THRESHOLD = 15\n" in text
        path.write_text(text.replace("THRESHOLD = 15\n", "THRESHOLD = 16\n"), encoding="utf-8")
    changed = pytest_run(project, "tests/unit", "-k", "captured")
    assert changed == {
        "test_late.py::test_late_flights_captured": "FAILED",  # 16.0 is no longer later than the threshold
        "test_late.py::test_late_by_carrier_captured": "PASSED",  # 4 rows never reach min_flights: empty
        "test_steps.py::test_clean_flights_captured": "PASSED",  # does not read the threshold
        "test_steps.py::test_late_by_carrier_captured": "FAILED",
        "test_steps.py::test_route_counts_captured": "PASSED",
        "test_widgets.py::test_on_run_date_captured": "PASSED",  # reads no threshold
    }
    # a deliberate change to a function's body: the day's flights become the other days'
    path = project / "flights_pkg" / "widgets.py"
    text = path.read_text(encoding="utf-8")
    assert '.filter(F.col("flight_date") == run_date)' in text
    path.write_text(text.replace("== run_date)", "!= run_date)"), encoding="utf-8")
    assert pytest_run(project, "tests/unit/test_widgets.py") == {"test_widgets.py::test_on_run_date_captured": "FAILED"}
