"""How benchmarks/notebooks.py judges a tool's findings against the fixtures' ground truth."""

from __future__ import annotations

from benchmarks.notebooks import NBORDER_CONCERNS, Found, ground_truth, judge
from tests.unit.notebook.fixture_spec import EXPECTED, FIXTURES


def found(concern: str, cell: int, line: int) -> Found:
    return Found(concern, cell, line, concern, "")


def test_matches_by_concern_and_cell_line_first_and_counts_the_rest() -> None:
    truth = [("NB202", 3, 1), ("NB202", 4, 2), ("NB505", 5, 1), ("NB301", 6, 1)]
    judged = judge(
        [found("NB202", 4, 2), found("NB202", 3, 7), found("NB202", 2, 3), found("NB202", 3, 1)],
        truth,
        covered=set(NBORDER_CONCERNS.values()),
    )
    # (3, 1) matches exactly, so the report at (3, 7) has no issue left in cell 3: a false positive
    assert [(f.cell, f.line) for f in judged.true_positives] == [(4, 2), (3, 1)]
    assert [(f.cell, f.line) for f in judged.false_positives] == [(3, 7), (2, 3)]
    assert judged.missed == [("NB505", 5, 1)]
    assert judged.outside_rules == [("NB301", 6, 1)]


def test_same_cell_other_line_is_still_the_issue() -> None:
    judged = judge([found("NB201", 2, 4)], [("NB201", 2, 1)], covered={"NB201"})
    assert (len(judged.true_positives), judged.false_positives, judged.missed) == (1, [], [])


def test_every_fixture_has_ground_truth_in_both_formats() -> None:
    assert set(EXPECTED) == set(FIXTURES)
    truth = ground_truth()
    for name in FIXTURES:
        assert f"tests/fixtures/notebooks/{name}.ipynb" in truth
        assert f"tests/fixtures/notebooks/{name}.py" in truth
    assert truth["notebooks/explore_flights.ipynb"] == []
