"""The tier guard (tests/tiers.py): a test that starts a process without `system` fails, naming it.

The inner runs use pytester in this process: the guard refuses the start before any process runs,
so these tests start none themselves.
"""

from __future__ import annotations

import pytest

STARTS_A_PROCESS = """
import subprocess
import sys

def test_starts_a_process():
    subprocess.run([sys.executable, "-c", "pass"], check=True)

def test_swallows_the_failure():
    try:
        subprocess.run(["python3", "-c", "pass"])
    except BaseException:
        pass
"""

WORLD_CONFTEST = """
import pytest

@pytest.fixture
def world():
    return "the data world"
"""


def test_an_unmarked_test_that_starts_a_process_fails_naming_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner=STARTS_A_PROCESS)
    result = pytester.runpytest("-p", "tests.tiers", "-p", "no:randomly", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*test_inner.py::test_starts_a_process started a process (*python* -c pass) but is not marked system*",
            "*test_inner.py::test_swallows_the_failure started a process (python3 -c pass) but is not marked system*",
        ]
    )


def test_tiers_follow_what_a_test_uses(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(WORLD_CONFTEST)
    pytester.makepyfile(
        test_inner="""
import pytest

def test_inline():
    pass

def test_reads_the_world(world):
    assert world

@pytest.mark.integration
def test_runs_a_task():
    pass

@pytest.mark.system
def test_starts_things():
    pass
"""
    )
    for tier, expected in (
        ("unit", ["test_inline"]),
        ("integration", ["test_reads_the_world", "test_runs_a_task"]),
        ("world", ["test_reads_the_world"]),
        ("integration and not world", ["test_runs_a_task"]),
        ("system", ["test_starts_things"]),
    ):
        result = pytester.runpytest("-p", "tests.tiers", "-p", "no:randomly", "-m", tier, "-v")
        result.assert_outcomes(passed=len(expected))
        lines = [f"*::{name} PASSED*" for name in expected]
        result.stdout.fnmatch_lines([*lines, "tests collected by tier: 1 unit, 2 integration, 1 system"])


def test_a_hand_written_tier_that_contradicts_the_test_is_an_error(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(WORLD_CONFTEST)
    pytester.makepyfile(
        test_inner="""
import pytest

@pytest.mark.unit
def test_reads_the_world(world):
    pass

@pytest.mark.jvm_only
def test_without_a_reason():
    pass
"""
    )
    result = pytester.runpytest("-p", "tests.tiers", "-p", "no:randomly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*test_inner.py::test_reads_the_world is marked unit but is integration; "
            "*test_inner.py::test_without_a_reason is marked jvm_only without a reason*"
        ]
    )
