"""`spark-ml notebook check`: the acceptance scenario, exit codes, JSON, config through --set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spark_ml import cli
from spark_ml.config import load_settings
from spark_ml.notebook.checker import CheckConfig, check_paths
from spark_ml.notebook.readers import discover
from spark_ml.notebook.settings import NotebookSettings
from tests.helpers import CONF, REPO
from tests.unit.notebook.extract_spec import EXTRACT_FIXTURES
from tests.unit.notebook.fixture_spec import FIXTURES, FIXTURES_DIR

ACCEPTANCE = FIXTURES_DIR / "acceptance_late_flights"
FIXED = FIXTURES_DIR / "acceptance_late_flights_fixed"
EXECUTION_RULES = {"NB101", "NB102", "NB103"}


def check_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object]]:
    code = cli.main(["notebook", "check", "--format", "json", *args])
    return code, json.loads(capsys.readouterr().out)


def cells(data: dict[str, object]) -> list[object]:
    findings = data["findings"]
    assert isinstance(findings, list)
    return [f["cell"] for f in findings]


def test_acceptance_out_of_order_notebook_with_a_global_reading_function(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["notebook", "check", f"{ACCEPTANCE}.ipynb"])
    out = capsys.readouterr().out
    assert code == 1
    assert "cell 4, line 1: NB101 error: cell 4 has execution count 2 but cell 3 above it has 4" in out
    assert "cell 5, line 1: NB301 warning: function `late_flights` reads notebook variable `flights`" in out
    assert "cell 3, line 1: NB201 error: `late_flights` is used in cell 3 but first defined in cell 5" in out
    assert out.rstrip().endswith("3 findings (2 error, 1 warning); 3 at or above warning")


@pytest.mark.parametrize("fmt", ["ipynb", "py"])
def test_acceptance_after_the_fixes_exits_0(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    code = cli.main(["notebook", "check", f"{FIXED}.{fmt}"])
    assert code == 0
    assert capsys.readouterr().out == "1 notebook checked: no findings\n"


def test_acceptance_databricks_twin_gives_the_same_findings(capsys: pytest.CaptureFixture[str]) -> None:
    code_jupyter, jupyter = check_json(capsys, f"{ACCEPTANCE}.ipynb")
    code_databricks, databricks = check_json(capsys, f"{ACCEPTANCE}.py")
    assert code_jupyter == code_databricks == 1

    def key(data: dict[str, object], execution: bool) -> list[tuple[object, ...]]:
        findings = data["findings"]
        assert isinstance(findings, list)
        return [
            (f["rule"], f["cell"], f["line"], f["message"])
            for f in findings
            if execution or f["rule"] not in EXECUTION_RULES
        ]

    # Same static findings (NB201 is the out-of-order run seen statically, NB301 the global read);
    # only the saved execution counts (NB101) exist in the Jupyter file alone.
    assert key(databricks, True) == key(jupyter, False)
    assert [(r, c) for r, c, *_ in key(databricks, True)] == [("NB201", 3), ("NB301", 5)]
    assert [(r, c) for r, c, *_ in key(jupyter, True)] == [("NB201", 3), ("NB101", 4), ("NB301", 5)]


def test_json_output_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = check_json(capsys, f"{ACCEPTANCE}.py")
    assert code == 1
    assert data["notebooks"] == [f"{ACCEPTANCE}.py"]
    assert data["counts"] == {"error": 1, "warning": 1, "info": 0}
    assert (data["fail_on"], data["exit_code"]) == ("warning", 1)
    assert data["findings"] == [
        {
            "path": f"{ACCEPTANCE}.py",
            "cell": 3,
            "line": 1,
            "file_line": 11,
            "rule": "NB201",
            "name": "used-before-defined",
            "severity": "error",
            "message": "`late_flights` is used in cell 3 but first defined in cell 5: a fresh top-to-bottom run "
            "fails with NameError",
            "fix": "move the cell that defines `late_flights` (cell 5) above cell 3, or this code below it",
        },
        {
            "path": f"{ACCEPTANCE}.py",
            "cell": 5,
            "line": 1,
            "file_line": 20,
            "rule": "NB301",
            "name": "function-reads-globals",
            "severity": "warning",
            "message": "function `late_flights` reads notebook variable `flights` instead of taking it as a parameter: "
            "its result depends on whichever cell last assigned it",
            "fix": "take `flights` as parameter (def late_flights(..., flights)) and pass the values where it is "
            "called; UPPER_CASE names are treated as constants",
        },
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], 1),
        (["--fail-on", "error"], 0),
        (["--fail-on", "never"], 0),
        (["--set", "notebook.fail_on=error"], 0),
        (["--set", "notebook.fail_on=error", "--fail-on", "warning"], 1),
        (["--set", "notebook.severity.NB301=error", "--fail-on", "error"], 1),
        (["--set", "notebook.disabled_rules=[function-reads-globals]"], 0),
    ],
)
def test_fail_on_threshold_and_config_overrides(
    capsys: pytest.CaptureFixture[str], args: list[str], expected: int
) -> None:
    # nb301 fixture: three warnings and nothing else
    assert cli.main(["notebook", "check", str(FIXTURES_DIR / "nb301_function_reads_globals.py"), *args]) == expected


def test_max_definition_lines_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(FIXTURES_DIR / "nb401_long_definition.ipynb")
    _, default = check_json(capsys, path)
    _, tight = check_json(capsys, path, "--set", "notebook.max_definition_lines=10")
    assert cells(default) == [2]
    assert cells(tight) == [2, 3]


def test_folder_check_covers_both_formats(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = check_json(capsys, str(FIXTURES_DIR), "--fail-on", "never")
    assert code == 0
    notebooks = data["notebooks"]
    assert isinstance(notebooks, list)
    assert f"{FIXTURES_DIR}/nb301_function_reads_globals.ipynb" in notebooks
    assert f"{FIXTURES_DIR}/nb301_function_reads_globals.py" in notebooks
    # the stand-in package's plain .py files are not notebooks; the extract corpus sits in a subfolder
    assert len(notebooks) == 2 * (len(FIXTURES) + len(EXTRACT_FIXTURES))


def test_missing_path_is_a_one_line_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.ipynb"
    code = cli.main(["notebook", "check", str(missing)])
    err = capsys.readouterr().err
    assert code == 2
    assert err == f"spark-ml notebook: error: no such file or folder: {missing}\n"


def test_unknown_rule_in_config_is_a_one_line_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["notebook", "check", str(FIXED) + ".py", "--set", "notebook.disabled_rules=[NB999]"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert "unknown rule 'NB999' in notebook.disabled_rules" in err


def test_notebook_needs_a_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit, match="2"):
        cli.main(["notebook"])
    assert "notebook" in capsys.readouterr().err


def test_the_projects_own_notebooks_pass(capsys: pytest.CaptureFixture[str]) -> None:
    """notebooks/ passes the check with the project's config, except the hidden state that
    flight_delays_before.ipynb shows on purpose (what `notebook extract` removes): warnings only, so
    `make lint`'s `--fail-on error` passes it."""
    folder = REPO / "notebooks"
    notebooks = discover([folder])
    report = check_paths(
        notebooks, CheckConfig.from_settings(load_settings("local", CONF).section("notebook", NotebookSettings))
    )
    assert report.notebooks == tuple(str(p) for p in notebooks)
    shown = [(Path(f.path).name, f.rule, f.cell, f.severity) for f in report.findings]
    before = "flight_delays_before.ipynb"
    assert shown == [
        (before, "NB301", 4, "warning"),
        (before, "NB302", 10, "warning"),
        (before, "NB302", 10, "warning"),
    ]
    assert cli.main(["notebook", "check", str(folder / "explore_flights.ipynb")]) == 0
    assert capsys.readouterr().out.endswith("1 notebook checked: no findings\n")
    assert cli.main(["notebook", "check", "--fail-on", "error", str(folder / before)]) == 0
