"""Checks across sections of validated settings, each error naming the key and its file: every
table a section names is declared, table locations stay inside the lakehouse root, and a quality
quarantine does not write into an ingest source's quarantine table."""

from __future__ import annotations

import os
from collections.abc import Mapping

from spark_ml.config.checks import quarantine_table
from spark_ml.config.messages import source_of, suggest
from spark_ml.config.schema import Settings, table_references
from spark_ml.errors import ConfigError


def check_references(settings: Settings, origins: Mapping[str, str], configured_features: bool) -> None:
    """Every referenced table is declared under `tables:`, and no table location leaves the root
    (an absolute path, a URI or `..` would read or write outside the lakehouse)."""
    for dotted, table in table_references(settings, configured_features):
        if table not in settings.tables:
            raise ConfigError(
                f"unknown table {table!r} at '{dotted}' in {source_of(origins, dotted)}"
                f"{suggest(table, settings.tables)} (tables are declared under 'tables:')"
            )
    for name, spec in settings.tables.items():
        if spec.location is None:
            continue
        location = spec.location
        normalized = os.path.normpath(location)
        if location.startswith("/") or "://" in location or normalized == ".." or normalized.startswith("../"):
            dotted = f"tables.{name}.location"
            raise ConfigError(
                f"table location {location!r} at '{dotted}' in {source_of(origins, dotted)} is outside the "
                "lakehouse root: use a relative path inside lakehouse.root"
            )


def check_quarantines(settings: Settings, origins: Mapping[str, str]) -> None:
    """A quality quarantine of `<table>` writes `<table>_quarantine`: it must not be an ingest source's
    own quarantine table (that one holds raw lines)."""
    ingest = {spec.quarantine: name for name, spec in settings.ingest.sources.items()}
    for table, checks in settings.quality.items():
        target = quarantine_table(table)
        if any(c.severity == "quarantine" for c in checks) and target in ingest:
            where = source_of(origins, f"quality.{table}")
            raise ConfigError(
                f"quality.{table} in {where} quarantines rows to {target}, which is the ingest quarantine of "
                f"source '{ingest[target]}': check that table at silver or later"
            )
