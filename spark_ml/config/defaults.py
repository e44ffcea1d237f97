"""What a conf leaves implicit, filled in on the merged data before validation: the operational
tables declared, and a relative lakehouse root made absolute."""

from __future__ import annotations

import os
from typing import Any

from spark_ml.config.checks import quarantine_table
from spark_ml.config.schema import MonitorSettings, OpsSettings


def with_operational_tables(data: dict[str, Any]) -> dict[str, Any]:
    """Declare the operational tables (run manifests, data quality, ingested files, monitoring)
    and the quarantine table of each table a quality check quarantines, when a conf leaves them out."""
    ops: dict[str, Any] = data["ops"] if isinstance(data.get("ops"), dict) else {}
    monitor: dict[str, Any] = data["monitor"] if isinstance(data.get("monitor"), dict) else {}
    tables = data.get("tables")
    if tables is not None and not isinstance(tables, dict):
        return data
    tables = dict(tables or {})
    defaults = OpsSettings()
    quality = data.get("quality") if isinstance(data.get("quality"), dict) else {}
    for name, checks in (quality or {}).items():
        if isinstance(checks, list) and any(isinstance(c, dict) and c.get("severity") == "quarantine" for c in checks):
            tables.setdefault(quarantine_table(name), {"description": f"rows of {name} a quality check set aside"})
    for name in (
        ops.get("runs_table", defaults.runs_table),
        ops.get("quality_table", defaults.quality_table),
        ops.get("ingested_files_table", defaults.ingested_files_table),
        monitor.get("output", MonitorSettings().output),
    ):
        if isinstance(name, str):
            tables.setdefault(name, {})
    return {**data, "tables": tables}


def absolute_root(data: dict[str, Any]) -> dict[str, Any]:
    """A relative local `lakehouse.root` made absolute against the current folder, so every path
    derived from it means the same after a task changes folder."""
    lakehouse = data.get("lakehouse")
    if isinstance(lakehouse, dict) and isinstance(lakehouse.get("root"), str):
        root = lakehouse["root"]
        if "://" not in root and not root.startswith(("/", "dbfs:")):
            lakehouse = {**lakehouse, "root": os.path.abspath(root)}
            data = {**data, "lakehouse": lakehouse}
    return data
