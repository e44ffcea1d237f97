"""One fixture notebook per rule, in both formats: the case is reported, the near miss is not."""

from __future__ import annotations

import pytest

from spark_ml.notebook.analysis import Options
from spark_ml.notebook.checker import CheckConfig
from tests.unit.notebook.conftest import FIXTURE_PACKAGE, findings_for, where
from tests.unit.notebook.fixture_spec import EXPECTED, FIXTURES_DIR, expected

FORMATS = ["ipynb", "py"]


# -- execution counts (Jupyter only: the Databricks source format stores none) -------------------


@pytest.mark.parametrize(
    ("name", "rule", "expected", "words"),
    [
        ("nb101_out_of_order", "NB101", [("NB101", 4, 1)], ["count 2", "cell 3 above it has 3", "1, 3, 2"]),
        ("nb102_skipped", "NB102", [("NB102", 3, 1)], ["cell 3 never ran", "cells 4"]),
        ("nb103_rerun", "NB103", [("NB103", 4, 1)], ["skip 3-4", "2 runs", "more than once"]),
    ],
)
def test_execution_rules_report_the_jupyter_case(
    name: str, rule: str, expected: list[object], words: list[str]
) -> None:
    found = findings_for(FIXTURES_DIR / f"{name}.ipynb")
    assert {f.rule for f in found} == {rule}
    assert where(found) == expected
    assert all(w in found[0].message for w in words), found[0].message
    assert "Restart" in found[0].fix


@pytest.mark.parametrize("name", ["nb101_in_order", "nb102_last_not_run", "nb103_clean"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_execution_rules_near_misses_are_clean(name: str, fmt: str) -> None:
    assert findings_for(FIXTURES_DIR / f"{name}.{fmt}") == []


@pytest.mark.parametrize("name", ["nb101_out_of_order", "nb102_skipped", "nb103_rerun"])
def test_databricks_source_has_no_execution_counts_to_judge(name: str) -> None:
    assert findings_for(FIXTURES_DIR / f"{name}.py") == []


# -- static rules: identical findings in both formats ------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_nb201_name_used_above_its_defining_cell(fmt: str) -> None:
    found = findings_for(FIXTURES_DIR / f"nb201_used_before_defined.{fmt}", "NB201")
    assert where(found) == [("NB201", 2, 1)]  # not `helper` (read by show() only when show runs, in cell 6)
    assert "`totals`" in found[0].message
    assert "first defined in cell 3" in found[0].message
    assert found[0].severity == "error"


@pytest.mark.parametrize("fmt", FORMATS)
def test_nb301_functions_lambdas_and_methods_reading_globals(fmt: str) -> None:
    found = findings_for(FIXTURES_DIR / f"nb301_function_reads_globals.{fmt}", "NB301")
    assert where(found) == [("NB301", 3, 1), ("NB301", 5, 1), ("NB301", 6, 2)]
    late, lam, method = (f.message for f in found)
    assert late.startswith("function `late` reads notebook variable `flights`")
    assert lam.startswith("lambda at line 1 reads notebook variable `scale`")
    assert method.startswith("function `Scorer.score` reads notebook variable `cutoff`")
    # near misses: late_ok (parameter, default, import, constant), scaled_ok (default), both (calls late_ok)
    assert not any(name in " ".join([late, lam, method]) for name in ("late_ok", "both", "math", "THRESHOLD"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_nb302_variable_assigned_in_several_cells(fmt: str) -> None:
    found = findings_for(FIXTURES_DIR / f"nb302_reassigned.{fmt}", "NB302")
    assert where(found) == [("NB302", 3, 1)]
    assert found[0].message.startswith("`df` is assigned in cells 2, 3 and read across cells (in cell 3)")


@pytest.mark.parametrize("fmt", FORMATS)
def test_nb401_definition_longer_than_the_limit(fmt: str) -> None:
    found = findings_for(FIXTURES_DIR / f"nb401_long_definition.{fmt}", "NB401")
    assert where(found) == [("NB401", 2, 1)]
    assert "`too_long` is 31 lines long (limit 30)" in found[0].message
    assert found[0].severity == "info"


@pytest.mark.parametrize("fmt", FORMATS)
def test_nb401_limit_comes_from_the_config(fmt: str) -> None:
    config = CheckConfig(options=Options(max_definition_lines=29, package_root=FIXTURE_PACKAGE))
    found = findings_for(FIXTURES_DIR / f"nb401_long_definition.{fmt}", "NB401", config)
    assert [f.message.split(" is ")[0] for f in found] == ["function `too_long`", "function `just_fits`"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_nb402_definition_duplicating_the_package(fmt: str) -> None:
    found = findings_for(FIXTURES_DIR / f"nb402_duplicates_package.{fmt}", "NB402")
    assert where(found) == [("NB402", 3, 1)]
    assert "`with_is_late` duplicates flights_pkg.transforms.with_is_late" in found[0].message
    assert "from flights_pkg.transforms import with_is_late" in found[0].fix


@pytest.mark.parametrize("fmt", FORMATS)
def test_nb501_collect_of_unbounded_frames(fmt: str) -> None:
    found = findings_for(FIXTURES_DIR / f"nb501_unbounded_collect.{fmt}", "NB501")
    assert where(found) == [("NB501", 3, 1), ("NB501", 5, 1)]
    assert "`flights.collect()`" in found[0].message
    assert "SELECT * FROM bronze.flights" in found[1].message


@pytest.mark.parametrize("fmt", FORMATS)
def test_nb502_hard_coded_secrets_without_echoing_them(fmt: str) -> None:
    found = findings_for(FIXTURES_DIR / f"nb502_hard_coded_secret.{fmt}", "NB502")
    assert where(found) == [("NB502", 2, 1), ("NB502", 3, 1)]
    assert "Databricks personal access token" in found[0].message
    assert "`db_password`" in found[1].message
    text = " ".join(f.text() for f in found)
    assert "0123456789abcdef" not in text
    assert "Tr0ub4dor" not in text


@pytest.mark.parametrize("fmt", FORMATS)
def test_nb503_absolute_workspace_and_local_paths(fmt: str) -> None:
    found = findings_for(FIXTURES_DIR / f"nb503_absolute_path.{fmt}", "NB503")
    assert where(found) == [("NB503", 2, 1), ("NB503", 3, 1)]
    assert "/Workspace/Users/" in found[0].message
    assert "C:\\data" in found[1].message


@pytest.mark.parametrize("fmt", FORMATS)
def test_nb504_run_magic(fmt: str) -> None:
    found = findings_for(FIXTURES_DIR / f"nb504_run_magic.{fmt}", "NB504")
    assert where(found) == [("NB504", 2, 1)]
    assert found[0].message.startswith("`%run ./shared/setup`")


@pytest.mark.parametrize("fmt", FORMATS)
def test_nb202_names_no_cell_defines(fmt: str) -> None:
    found = findings_for(FIXTURES_DIR / f"nb202_undefined_name.{fmt}")
    assert where(found) == [("NB202", 3, 1), ("NB202", 4, 2)]
    carriers, threshold = found
    assert carriers.message.startswith("`carriers` is read in cell 3 but no cell defines or imports it")
    assert "a fresh top-to-bottom run raises NameError" in carriers.message
    assert threshold.message.startswith("`threshold` is read by `is_late` in cell 4")
    assert "calling it in a fresh kernel raises NameError" in threshold.message
    assert carriers.severity == "error"
    # near misses in the same notebook: spark, display, F.col, how=, the parameter df
    assert not any(n in carriers.message + threshold.message for n in ("`spark`", "`display`", "`how`", "`df`"))


@pytest.mark.parametrize("name", ["nb202_undefined_name_fixed", "nb202_notebook_globals"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_nb202_fixed_notebook_and_notebook_globals_are_clean(name: str, fmt: str) -> None:
    assert [f.text() for f in findings_for(FIXTURES_DIR / f"{name}.{fmt}")] == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_nb505_randomness_without_a_seed(fmt: str) -> None:
    found = findings_for(FIXTURES_DIR / f"nb505_unseeded_randomness.{fmt}")
    assert where(found) == [
        ("NB505", 3, 1),
        ("NB505", 4, 1),
        ("NB505", 4, 2),
        ("NB505", 5, 1),
        ("NB505", 5, 2),
        ("NB505", 6, 1),
    ]
    split, sample, rand, numpy, rng, stdlib = (f.message for f in found)
    assert split.startswith("`flights.randomSplit([0.8, 0.2])` has no seed")
    assert sample.startswith("`flights.sample(fraction=0.01)` has no seed")
    assert rand.startswith("`F.rand()` has no seed")
    assert found[2].fix == "pass a seed: F.rand(seed=42)"
    assert numpy.startswith("`np.random.normal(0, 1, 100)` draws from NumPy's global generator")
    assert rng.startswith("`np.random.default_rng()` creates a generator without a seed")
    assert stdlib.startswith("`random.choice(['JFK', 'LGA', 'EWR'])` draws from the random module's global generator")
    assert {f.severity for f in found} == {"warning"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_nb505_fixed_notebook_is_clean(fmt: str) -> None:
    assert [f.text() for f in findings_for(FIXTURES_DIR / f"nb505_unseeded_randomness_fixed.{fmt}")] == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_fixture_reports_exactly_its_ground_truth(name: str, fmt: str) -> None:
    """EXPECTED is also what benchmarks/notebooks.py judges every tool against: no more, no less."""
    found = findings_for(FIXTURES_DIR / f"{name}.{fmt}")
    assert sorted(where(found)) == expected(name, fmt)


@pytest.mark.parametrize(
    "name",
    [
        "nb201_used_before_defined",
        "nb202_undefined_name",
        "nb505_unseeded_randomness",
        "nb301_function_reads_globals",
        "nb302_reassigned",
        "nb401_long_definition",
        "nb402_duplicates_package",
        "nb501_unbounded_collect",
        "nb502_hard_coded_secret",
        "nb503_absolute_path",
        "nb504_run_magic",
    ],
)
def test_both_formats_give_the_same_findings(name: str) -> None:
    jupyter = findings_for(FIXTURES_DIR / f"{name}.ipynb")
    databricks = findings_for(FIXTURES_DIR / f"{name}.py")
    assert jupyter, "every rule fixture reports its case"
    assert [(f.rule, f.cell, f.line, f.message) for f in jupyter] == [
        (f.rule, f.cell, f.line, f.message) for f in databricks
    ]
    assert all(f.file_line is None for f in jupyter)
    assert all(f.file_line is not None and f.file_line > 1 for f in databricks)


def test_each_rule_fixture_reports_only_its_own_rule() -> None:
    clean = {"nb202_undefined_name_fixed", "nb202_notebook_globals", "nb505_unseeded_randomness_fixed"}
    paths = sorted(FIXTURES_DIR.glob("nb[2-5]*.ipynb"))
    assert clean <= {p.stem for p in paths}
    for path in paths:
        rule = "NB" + path.stem[2:5]
        assert {f.rule for f in findings_for(path)} == (set() if path.stem in clean else {rule}), path.name
