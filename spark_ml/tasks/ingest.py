"""Task `ingest`: landing CSV files -> bronze Delta tables, bad rows -> quarantine tables.

Per source: every landing file is fingerprinted (content hash); files already ingested unchanged
are skipped; new or changed files are parsed with the source's explicit schema, their bad rows
(unparseable, wrong type, missing required field, failed row rule) go to the quarantine table with
the raw line and the reason, good rows go to the bronze table. Both writes replace exactly the
rows of those files (replaceWhere on source_file), so a changed file never duplicates and a rerun
after a crash completes the job. For every file, data lines = rows written + rows quarantined,
checked against a line count taken on the driver independently of Spark.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_ml.config import ReferentialCheck, Settings, SourceSpec
from spark_ml.errors import DataLossError
from spark_ml.io.delta import Lakehouse
from spark_ml.io.landing import LandingFile, list_files, read_lines, relative_name
from spark_ml.provenance.runs import landing_files
from spark_ml.quality.rows import REASON, with_rejection_reason
from spark_ml.tasks.base import TaskContext, TaskResult
from spark_ml.transforms.csv import PARSE_ERROR, parse_csv_lines

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileCount:
    source: str
    source_file: str
    read: int
    written: int
    quarantined: int


def source_order(sources: dict[str, SourceSpec]) -> list[str]:
    """Sources ordered so that a source whose rows are checked against another source's table
    comes after it (flights after airlines)."""
    target_of = {spec.target: name for name, spec in sources.items()}
    ordered: list[str] = []

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if name in ordered or name in trail:
            return
        for rule in sources[name].rules:
            if isinstance(rule, ReferentialCheck) and rule.ref_table in target_of:
                visit(target_of[rule.ref_table], (*trail, name))
        ordered.append(name)

    for name in sources:
        visit(name, ())
    return ordered


def run(spark: SparkSession, cfg: Settings, *, run_id: str | None = None, sources: Sequence[str] = ()) -> TaskResult:
    with TaskContext("ingest", spark, cfg, run_id) as ctx:
        names = [n for n in source_order(cfg.ingest.sources) if not sources or n in sources]
        # Every file of every source is listed and its header checked before anything is written.
        listed = {name: list_files(cfg, name, cfg.ingest.sources[name]) for name in names}
        seen = previous_fingerprints(ctx)
        counts: list[FileCount] = []
        logged: list[tuple[LandingFile, FileCount]] = []
        try:
            for name in names:
                counts += _ingest_source(ctx, name, listed[name], seen, logged)
        finally:
            # The ingestion log is the commit marker: files whose tables were written are recorded
            # even when a later source fails, so a rerun skips them; the others are ingested again.
            record_files(ctx, logged)
            _attach_landing_files(ctx)
        for c in counts:
            ctx.note(f"{c.source_file}: read {c.read:,} = written {c.written:,} + quarantined {c.quarantined:,}")
        metrics: dict[str, Any] = {
            "files_ingested": len(counts),
            "rows_read": sum(c.read for c in counts),
            "rows_written": sum(c.written for c in counts),
            "rows_quarantined": sum(c.quarantined for c in counts),
        }
        return ctx.result(metrics)


def _attach_landing_files(ctx: TaskContext) -> None:
    """The landing files behind the bronze tables as of this run, for its manifest (read through a
    Lakehouse of its own, so the read is not one of the run's inputs)."""
    lake = ctx.lakehouse
    try:
        ctx.landing_files = landing_files(Lakehouse(ctx.spark, ctx.settings), ctx.run_id, lake.reads, lake.writes)
    except Exception as exc:  # the manifest is bookkeeping: it never hides the run's own outcome
        log.warning("ingest: run %s: could not list its landing files for the manifest: %s", ctx.run_id, exc)


def _ingest_source(
    ctx: TaskContext,
    name: str,
    files: list[LandingFile],
    seen: dict[tuple[str, str], str],
    logged: list[tuple[LandingFile, FileCount]],
) -> list[FileCount]:
    spec = ctx.settings.ingest.sources[name]
    if not files:
        ctx.note(f"{name}: no landing files in {ctx.settings.lakehouse.landing_dir}/{spec.path}")
        return []
    changed = [f for f in files if seen.get((name, relative_name(spec, f))) != f.sha256]
    if len(changed) < len(files):
        ctx.note(f"{name}: {len(files) - len(changed)} file(s) already ingested unchanged, skipped")
    if not changed:
        return []
    done = ingest_files(ctx, name, spec, changed)
    logged.extend(zip(changed, done, strict=True))
    return done


def previous_fingerprints(ctx: TaskContext) -> dict[tuple[str, str], str]:
    """(source, source_file) -> content hash of its latest ingestion, from the ingestion log."""
    table = ctx.settings.ops.ingested_files_table
    if not ctx.lakehouse.exists(table):
        return {}
    log = ctx.lakehouse.read(table)
    latest = log.groupBy("source", "source_file").agg(F.max_by("sha256", "ingested_at").alias("sha256")).collect()
    return {(r["source"], r["source_file"]): r["sha256"] for r in latest}


def ingest_files(ctx: TaskContext, name: str, spec: SourceSpec, files: list[LandingFile]) -> list[FileCount]:
    lake = ctx.lakehouse
    refs = {r.ref_table: lake.read(r.ref_table) for r in spec.rules if isinstance(r, ReferentialCheck)}
    lines = read_lines(ctx.spark, name, spec, files)
    parsed = parse_csv_lines(
        lines,
        spec.columns,
        null_value=spec.null_value,
        delimiter=spec.delimiter,
        timestamp_format=spec.timestamp_format,
    )
    checked = with_rejection_reason(
        parsed, required=spec.required, rules=spec.rules, references=refs, parse_error=PARSE_ERROR
    ).persist()
    try:
        per_file = {
            r["source_file"]: (int(r["n"]), int(r["bad"]))
            for r in checked.groupBy("source_file")
            .agg(F.count(F.lit(1)).alias("n"), F.sum(F.when(F.col(REASON).isNotNull(), 1).otherwise(0)).alias("bad"))
            .collect()
        }
        counts = []
        for f in files:
            rel = relative_name(spec, f)
            n, bad = per_file.get(rel, (0, 0))
            if n != f.data_lines:
                raise DataLossError(
                    f"{rel}: Spark parsed {n:,} rows but the file has {f.data_lines:,} data lines "
                    "(multi-line quoted fields are not supported); nothing was written"
                )
            counts.append(FileCount(name, rel, f.data_lines, n - bad, bad))
        stamp = [F.lit(ctx.started_at).alias("ingested_at"), F.lit(ctx.run_id).alias("ingest_run_id")]
        good = checked.where(F.col(REASON).isNull()).select(*spec.columns, "source_file", *stamp)
        bad_rows = checked.where(F.col(REASON).isNotNull()).select(
            F.col("value").alias("raw_line"), F.col(REASON), "source_file", *stamp
        )
        these_files = F.col("source_file").isin([c.source_file for c in counts])
        quarantined = lake.write(bad_rows, spec.quarantine, mode="overwrite", where=these_files)
        written = lake.write(good, spec.target, mode="overwrite", where=these_files)
    finally:
        checked.unpersist()
    expected_good = sum(c.written for c in counts)
    expected_bad = sum(c.quarantined for c in counts)
    if (written.rows, quarantined.rows) != (expected_good, expected_bad):
        raise DataLossError(
            f"{name}: Delta committed {written.rows:,} good and {quarantined.rows:,} quarantined rows, "
            f"expected {expected_good:,} and {expected_bad:,}"
        )
    return counts


def record_files(ctx: TaskContext, logged: list[tuple[LandingFile, FileCount]]) -> None:
    """Append the fingerprints of the files just ingested (one commit for the whole run)."""
    if not logged:
        return
    rows = [
        (c.source, c.source_file, f.sha256, f.size, c.read, c.written, c.quarantined, ctx.run_id) for f, c in logged
    ]
    schema = (
        "source STRING, source_file STRING, sha256 STRING, size BIGINT, rows_read BIGINT, rows_written BIGINT, "
        "rows_quarantined BIGINT, ingest_run_id STRING"
    )
    frame = ctx.spark.createDataFrame(rows, schema).withColumn("ingested_at", F.lit(ctx.started_at))
    ctx.lakehouse.write(frame, ctx.settings.ops.ingested_files_table, mode="append")
