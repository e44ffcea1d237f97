"""The one-page HTML report of a pipeline run (pure rendering; the caller writes and logs it)."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from spark_ml.tasks.base import TaskResult

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:1100px;color:#222}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.25rem .6rem;text-align:left}
th{background:#f4f4f4}.ok,.pass{color:#1a7f37}.warn{color:#9a6700}.alert,.fail{color:#cf222e;font-weight:600}
img{max-width:48%;margin:.3rem;border:1px solid #eee}
"""


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], status_col: int | None = None) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            text = f"{cell:.4f}" if isinstance(cell, float) else str(cell)
            css = f' class="{html.escape(str(cell))}"' if i == status_col else ""
            cells.append(f"<td{css}>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def render(
    title: str,
    results: Sequence[TaskResult],
    images: Mapping[str, Path],
    facts: Mapping[str, Any],
) -> str:
    """Steps and timings, tables written, quality results, metrics with plots, promotion, drift."""
    by_task = {r.task: r for r in results}
    parts = [f"<h1>{html.escape(title)}</h1>", _table(["fact", "value"], [[k, v] for k, v in facts.items()])]
    parts.append("<h2>Steps</h2>")
    parts.append(_table(["step", "seconds", "status"], [[r.task, round(r.duration_s, 1), r.status] for r in results]))
    writes = [[w.table, w.rows, w.version, w.operation] for r in results for w in r.writes]
    parts.append("<h2>Tables written</h2>" + _table(["table", "rows", "Delta version", "operation"], writes))
    quality = [[q.table, q.check, q.severity, q.status, q.details] for r in results for q in r.quality]
    parts.append("<h2>Data quality</h2>" + _table(["table", "check", "severity", "status", "result"], quality, 3))
    train = by_task.get("train")
    if train is not None:
        m = train.metrics
        names = ["auc_roc", "auc_pr", "log_loss", "brier", "precision", "recall", "f1"]
        rows = [[n, m.get(f"validation_{n}"), m.get(f"test_{n}"), m.get(f"baseline_test_{n}")] for n in names]
        parts.append("<h2>Model metrics</h2>")
        parts.append(_table(["metric", "validation", "test", "prior-rate baseline (test)"], rows))
        parts.append(
            f"<p>threshold chosen on validation: {m.get('validation_threshold', 0):.2f}; "
            f"best params: {html.escape(str(m.get('params')))}</p>"
        )
        for name, path in images.items():
            data = base64.b64encode(path.read_bytes()).decode()
            parts.append(f'<img alt="{html.escape(name)}" src="data:image/png;base64,{data}">')
    promote = by_task.get("promote")
    if promote is not None:
        reasons = promote.metrics.get("reasons") or []
        verdict = "promoted" if promote.metrics.get("promoted") else "not promoted"
        parts.append(
            f"<h2>Promotion</h2><p>challenger version {promote.metrics.get('challenger_version')}: "
            f"{verdict}</p><ul>" + "".join(f"<li>{html.escape(r)}</li>" for r in reasons) + "</ul>"
        )
        parts.extend(f"<p>{html.escape(n)}</p>" for n in promote.notes)
    monitor = by_task.get("monitor")
    if monitor is not None:
        drift = monitor.metrics.get("drift") or []
        parts.append(f"<h2>Drift: {html.escape(str(monitor.metrics.get('overall_status')))}</h2>")
        parts.append(_table(["column", "kind", "PSI", "status"], drift, 3))
        parts.extend(f"<p>{html.escape(n)}</p>" for n in monitor.notes)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>"
    )
