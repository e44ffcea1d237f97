"""Static rules for the library code: Spark Connect safety, no private APIs of other libraries, one
place that builds sessions, nothing imported from a configuration string.

`scan` is the one scanner: the library is checked with it and its self-tests feed it violations.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "spark_ml"
SOURCES = sorted(PACKAGE.rglob("*.py"))
OURS = "spark_ml"
# Attributes and names that exist only in a classic session (Spark Connect has no JVM or RDDs).
CLASSIC_ONLY = {"sparkContext", "SparkContext", "rdd", "RDD", "parallelize", "_jvm", "_jdf", "_jsc", "_jsparkSession"}


@dataclass(frozen=True)
class Finding:
    line: int
    rule: str
    what: str


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def scan(source: str) -> list[Finding]:
    """Classic-only APIs, private attributes of objects other than `self`/`cls`, private names or
    modules imported from other packages, Python UDFs, and dynamic imports."""
    found: list[Finding] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute):
            if node.attr in CLASSIC_ONLY:
                found.append(Finding(node.lineno, "classic-only", node.attr))
            elif _private(node.attr) and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                found.append(Finding(node.lineno, "private-attribute", node.attr))
            if node.attr in ("udf", "pandas_udf"):
                found.append(Finding(node.lineno, "python-udf", node.attr))
        elif isinstance(node, ast.Name):
            if node.id in CLASSIC_ONLY:
                found.append(Finding(node.lineno, "classic-only", node.id))
            if node.id in ("udf", "pandas_udf", "__import__"):
                found.append(Finding(node.lineno, "python-udf" if "udf" in node.id else "dynamic-import", node.id))
        elif isinstance(node, ast.ImportFrom) and node.module and not node.module.startswith(OURS):
            if any(_private(part) for part in node.module.split(".")):
                found.append(Finding(node.lineno, "private-module", node.module))
            for alias in node.names:
                if _private(alias.name):
                    found.append(Finding(node.lineno, "private-import", f"{node.module}.{alias.name}"))
                if alias.name in ("udf", "pandas_udf", "SparkContext", "RDD"):
                    found.append(
                        Finding(node.lineno, "python-udf" if "udf" in alias.name else "classic-only", alias.name)
                    )
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if not alias.name.startswith(OURS) and any(_private(p) for p in alias.name.split(".")):
                    found.append(Finding(node.lineno, "private-module", alias.name))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "import_module":
            found.append(Finding(node.lineno, "dynamic-import", ast.unparse(node)))
    return sorted(found, key=lambda f: (f.line, f.rule))


def _library_findings() -> dict[str, list[Finding]]:
    return {str(p.relative_to(PACKAGE.parent)): scan(p.read_text()) for p in SOURCES}


def test_sources_exist() -> None:
    assert len(SOURCES) > 40


@pytest.mark.parametrize(
    "rule", ["classic-only", "private-attribute", "private-import", "private-module", "python-udf"]
)
def test_library_is_free_of(rule: str) -> None:
    hits = {path: [f for f in found if f.rule == rule] for path, found in _library_findings().items()}
    assert {path: found for path, found in hits.items() if found} == {}


def test_the_only_dynamic_import_is_the_task_registry() -> None:
    """A task's module comes from the registry (a constant tuple in code); estimators come from a
    dict of constructors: nothing is ever imported from a configuration string."""
    hits = {
        path: found for path, found in _library_findings().items() if any(f.rule == "dynamic-import" for f in found)
    }
    assert list(hits) == ["spark_ml/tasks/__init__.py"]
    assert [f.what for f in hits["spark_ml/tasks/__init__.py"]] == ["importlib.import_module(self.module)"]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("rows = df.rdd.map(lambda r: r)\n", [Finding(1, "classic-only", "rdd")]),
        ("sc = spark.sparkContext\n", [Finding(1, "classic-only", "sparkContext")]),
        (
            "jvm = SparkContext._gateway.jvm\n",
            [Finding(1, "classic-only", "SparkContext"), Finding(1, "private-attribute", "_gateway")],
        ),
        ("opts = builder._options\n", [Finding(1, "private-attribute", "_options")]),
        ("x = self._cache\ny = cls._registry\nz = obj.__class__\n", []),
        ("from mlflow.utils._spark_utils import get\n", [Finding(1, "private-module", "mlflow.utils._spark_utils")]),
        (
            "from mlflow.spark import _save_model_metadata\n",
            [Finding(1, "private-import", "mlflow.spark._save_model_metadata")],
        ),
        ("import pyspark.sql._typing\n", [Finding(1, "private-module", "pyspark.sql._typing")]),
        ("from spark_ml.config.loader import _Layered\n", []),
        ("f = F.udf(lambda x: x)\n", [Finding(1, "python-udf", "udf")]),
        ("from pyspark.sql.functions import pandas_udf\n", [Finding(1, "python-udf", "pandas_udf")]),
        ("NAMES = {'udf', 'rdd', '_jvm'}  # rdd in a comment\n", []),
        ("m = importlib.import_module(name)\n", [Finding(1, "dynamic-import", "importlib.import_module(name)")]),
        ("m = __import__(name)\n", [Finding(1, "dynamic-import", "__import__")]),
    ],
)
def test_the_scanner_finds_each_kind_of_violation(source: str, expected: list[Finding]) -> None:
    assert scan(source) == expected


def builds_a_session(source: str) -> bool:
    """Code (not text in a string) that reaches `SparkSession.builder` or calls `.getOrCreate()`."""
    for node in ast.walk(ast.parse(source)):
        builder = isinstance(node, ast.Attribute) and node.attr == "builder"
        if builder and isinstance(node.value, ast.Name) and node.value.id == "SparkSession":  # type: ignore[attr-defined]
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "getOrCreate":
            return True
    return False


@pytest.mark.parametrize(
    ("source", "builds"),
    [
        ("spark = SparkSession.builder.master('local').getOrCreate()\n", True),
        ("b = SparkSession.builder\n", True),
        ("s = x.getOrCreate()\n", True),
        ("JOB = 'spark = SparkSession.builder.getOrCreate()'\n", False),  # a job's text, written for a user
    ],
)
def test_the_session_scanner_reads_code_not_strings(source: str, builds: bool) -> None:
    assert builds_a_session(source) is builds


def test_only_session_module_builds_sessions() -> None:
    builders = [str(p.relative_to(PACKAGE.parent)) for p in SOURCES if builds_a_session(p.read_text())]
    assert builders == ["spark_ml/session.py"]


def test_yaml_is_only_ever_safe_loaded() -> None:
    hits = [
        str(p)
        for p in SOURCES
        if re.search(r"yaml\.(load|unsafe_load|full_load)\(|yaml\.Loader|FullLoader|UnsafeLoader", p.read_text())
    ]
    assert hits == []


def test_no_error_is_told_apart_by_its_message_text() -> None:
    """Errors are matched by class, Spark error condition or MLflow error code, never by text."""
    pattern = re.compile(r"""["'][^"']{3,}["']\s+(not\s+)?in\s+(str\(\w+\)|text|message|f["'])""")
    hits = [
        f"{p.relative_to(PACKAGE.parent)}:{n}"
        for p in SOURCES
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert hits == []


def test_every_package_docstring_maps_its_modules() -> None:
    """A newcomer finds their way from each package's `__init__` docstring: it names every module."""
    package_root = Path(__file__).resolve().parents[2] / "spark_ml"
    missing = []
    for init in sorted(package_root.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        modules = sorted(p.name for p in init.parent.glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
        missing += [f"{init.parent.name}/{name}" for name in modules if not re.search(rf"\b{re.escape(name)}\b", doc)]
    assert missing == [], f"modules missing from their package's file map: {missing}"
