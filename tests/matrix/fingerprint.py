"""What a pipeline run produced, as JSON, for comparing runtimes: run with a runtime venv's python.

    python fingerprint.py ROOT --out FILE [--set KEY=VALUE]...

Every declared table that exists: its row count and a digest of its rows (sorted, values rounded
to 9 significant digits, run-specific columns such as ingest times and run ids left out); the
model-dependent values (predictions, monitoring, the training metrics, the registry's aliases) as
numbers, for a comparison within a tolerance. Computed in Python from collected rows of a small
slice, so the digest does not depend on how a Spark version formats numbers.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

RUN_SPECIFIC = {"ingested_at", "ingest_run_id", "scored_at", "model_run_id", "run_id", "checked_at", "monitored_at"}
MODEL_DEPENDENT = {
    "ml.flight_delay_predictions": {"probability", "prediction"},
    "ml.monitoring": {"psi", "status", "overall_status", "realized_auc_roc"},
}
SKIPPED = {"ml.runs"}  # one row per run: run ids, times and code versions by nature


def canonical(value: Any) -> Any:
    if isinstance(value, float):
        return None if value != value else float(f"{value:.9g}")
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    return value if value is None or isinstance(value, int | str | bool) else str(value)


def table_digest(rows: list[dict[str, Any]]) -> str:
    lines = sorted(json.dumps(canonical(r), sort_keys=True) for r in rows)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def differences(reference: dict[str, Any], other: dict[str, Any], tolerance: float) -> list[str]:
    """What differs: tables by name, rows and digest; model numbers by more than `tolerance`."""
    found = []
    ref_tables, tables = reference["tables"], other["tables"]
    if set(ref_tables) != set(tables):
        found.append(f"tables {sorted(set(ref_tables) ^ set(tables))} exist in one run only")
    for name in sorted(set(ref_tables) & set(tables)):
        if ref_tables[name] != tables[name]:
            got, want = tables[name], ref_tables[name]
            found.append(f"{name}: {got['rows']} rows {got['digest']}, reference {want['rows']} rows {want['digest']}")
    ref_model, model = reference["model"], other["model"]
    for part in ("metrics", "predictions", "monitoring"):
        if set(ref_model[part]) != set(model[part]):
            found.append(f"{part}: different keys")
            continue
        worst = (
            max((abs(model[part][k] - ref_model[part][k]), k) for k in ref_model[part])
            if ref_model[part]
            else (0.0, "")
        )
        if worst[0] > tolerance:
            found.append(f"{part}: {worst[1]} differs by {worst[0]:.3g} (tolerance {tolerance:g})")
    if model["overall_status"] != ref_model["overall_status"]:
        found.append(f"drift status {model['overall_status']} vs {ref_model['overall_status']}")
    if model["aliases"] != ref_model["aliases"]:
        found.append(f"registry aliases {model['aliases']} vs {ref_model['aliases']}")
    return found


def fingerprint(spark: Any, cfg: Any) -> dict[str, Any]:
    """Tables (rows and digest) and model numbers of the lakehouse `cfg` points at."""
    from spark_ml.io.delta import Lakehouse

    lake = Lakehouse(spark, cfg)
    out: dict[str, Any] = {"tables": {}, "model": {}}
    for name in sorted(cfg.tables):
        if name in SKIPPED or lake.latest_version(name) is None:
            continue
        frame = lake.read(name)
        kept = [c for c in frame.columns if c not in RUN_SPECIFIC | MODEL_DEPENDENT.get(name, set())]
        rows = [r.asDict(recursive=True) for r in frame.select(*kept).collect()]
        out["tables"][name] = {"rows": len(rows), "digest": table_digest(rows), "columns": kept}
    tc = cfg.require_train()
    predictions = lake.read(cfg.require_score().output).collect()
    out["model"]["predictions"] = {"|".join(str(r[k]) for k in tc.keys): r["probability"] for r in predictions}
    monitoring = lake.read(cfg.monitor.output).collect()
    out["model"]["monitoring"] = {r["column_name"]: r["psi"] for r in monitoring}
    out["model"]["overall_status"] = sorted({r["overall_status"] for r in monitoring})
    out["model"]["realized_auc_roc"] = sorted({r["realized_auc_roc"] for r in monitoring})
    out["model"]["metrics"] = _training_metrics(cfg)
    out["model"]["aliases"] = _aliases(cfg)
    return out


def main(argv: list[str]) -> int:
    import argparse

    from spark_ml.config import load_settings
    from spark_ml.session import get_spark

    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("--out", required=True, help="the JSON file to write (stdout carries Spark's own lines)")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args(argv)
    overrides = [f"lakehouse.root={args.root}", "logging.level=WARNING", "spark.mode=local", *args.overrides]
    cfg = load_settings("local", overrides=overrides)
    spark = get_spark(cfg)
    found = fingerprint(spark, cfg)
    spark.stop()
    Path(args.out).write_text(json.dumps(found, indent=1, sort_keys=True))
    return 0


def _aliases(cfg: Any) -> dict[str, str]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=cfg.tracking_uri, registry_uri=cfg.registry_uri)
    return {str(k): str(v) for k, v in dict(client.get_registered_model(cfg.registered_model_name).aliases).items()}


def _training_metrics(cfg: Any) -> dict[str, float]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=cfg.tracking_uri, registry_uri=cfg.registry_uri)
    name = cfg.registered_model_name
    model = client.get_registered_model(name)
    version = client.get_model_version(name, dict(model.aliases)["champion"])
    run = client.get_run(version.run_id)
    return {k: float(v) for k, v in run.data.metrics.items() if k.startswith(("test_", "validation_"))}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
