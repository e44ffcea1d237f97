"""Static rules for the library code: Spark Connect safety and one place that builds sessions."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "spark_ml"
SOURCES = sorted(p for p in PACKAGE.rglob("*.py"))
FORBIDDEN = {
    "sparkContext": re.compile(r"\bsparkContext\b|\bSparkContext\b"),
    "RDD": re.compile(r"\.rdd\b|\bRDD\b|\bparallelize\("),
    "_jvm": re.compile(r"\b_jvm\b"),
    "_jdf": re.compile(r"\b_jdf\b"),
}


def _code_lines(path: Path) -> list[tuple[int, str]]:
    lines = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        stripped = line.split("#", 1)[0]
        lines.append((number, stripped))
    return lines


def test_sources_exist() -> None:
    assert len(SOURCES) > 10


@pytest.mark.parametrize("name", sorted(FORBIDDEN))
def test_library_never_uses_classic_only_apis(name: str) -> None:
    pattern = FORBIDDEN[name]
    hits = [
        f"{p.relative_to(PACKAGE.parent)}:{n}"
        for p in SOURCES
        for n, line in _code_lines(p)
        if pattern.search(line) and '"""' not in line
    ]
    assert hits == [], f"{name} is not available under Spark Connect: {hits}"


def test_the_scanner_catches_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("rows = df.rdd.map(lambda r: r)\nsc = spark.sparkContext\n")
    hits = [n for n, line in _code_lines(bad) for pat in FORBIDDEN.values() if pat.search(line)]
    assert hits == [1, 2]


def test_only_session_module_builds_sessions() -> None:
    builders = [
        str(p.relative_to(PACKAGE.parent))
        for p in SOURCES
        if re.search(r"SparkSession\.builder|\.getOrCreate\(\)", p.read_text())
    ]
    assert builders == ["spark_ml/session.py"]


def _udf_uses(source: str) -> list[int]:
    """Lines that name udf/pandas_udf in code (calls, decorators, imports), not in strings."""
    tree = ast.parse(source)
    lines = []
    for node in ast.walk(tree):
        name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
        if isinstance(node, ast.alias):
            name = node.name
        if name in ("udf", "pandas_udf"):
            lines.append(node.lineno if hasattr(node, "lineno") else 0)
    return lines


def test_no_python_udfs_in_library() -> None:
    hits = {str(p): _udf_uses(p.read_text()) for p in SOURCES}
    assert {p: lines for p, lines in hits.items() if lines} == {}


def test_the_udf_scanner_sees_code_not_strings() -> None:
    assert _udf_uses("from pyspark.sql.functions import udf\nf = F.udf(lambda x: x)\n") == [1, 2]
    assert _udf_uses("NAMES = {'udf', 'pandas_udf'}\n") == []


def test_yaml_is_only_ever_safe_loaded() -> None:
    hits = [
        str(p)
        for p in SOURCES
        if re.search(r"yaml\.(load|unsafe_load|full_load)\(|yaml\.Loader|FullLoader|UnsafeLoader", p.read_text())
    ]
    assert hits == []


def test_nothing_is_imported_from_a_configuration_string() -> None:
    """Only the task allow-list (a constant dict) feeds import_module; estimators come from a dict."""
    users = [str(p.relative_to(PACKAGE.parent)) for p in SOURCES if "import_module(" in p.read_text()]
    assert sorted(users) == ["spark_ml/tasks/pipeline.py", "spark_ml/tasks/runner.py"]
    for name in users:
        text = (PACKAGE.parent / name).read_text()
        assert "import_module(TASKS[" in text
    assert "__import__(" not in "".join(p.read_text() for p in SOURCES)
