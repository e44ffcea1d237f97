"""PNG plots from already-aggregated metrics (curves and importances; never raw rows)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from spark_ml.ml.evaluation import Metrics


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def roc_plot(curves: Mapping[str, Metrics], path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, m in curves.items():
        ax.plot(m.curves["fpr"], m.curves["tpr"], label=f"{name} (AUC {m.auc_roc:.3f})")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    ax.legend(loc="lower right")
    return _save(fig, path)


def pr_plot(curves: Mapping[str, Metrics], path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, m in curves.items():
        ax.plot(m.curves["recall"], m.curves["precision"], label=f"{name} (AUC-PR {m.auc_pr:.3f})")
        ax.axhline(m.positive_rate, linestyle=":", color="grey")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall", xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="upper right")
    return _save(fig, path)


def calibration_plot(curves: Mapping[str, Metrics], path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, m in curves.items():
        ax.plot(m.curves["calibration_predicted"], m.curves["calibration_observed"], "o-", label=name)
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect")
    ax.set(xlabel="mean predicted probability", ylabel="observed rate", title="Calibration", xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="upper left")
    return _save(fig, path)


def importance_plot(importances: Sequence[tuple[str, float]], title: str, path: Path, top: int = 20) -> Path:
    plt = _pyplot()
    shown = sorted(importances, key=lambda kv: abs(kv[1]), reverse=True)[:top][::-1]
    fig, ax = plt.subplots(figsize=(7, max(3, 0.3 * len(shown) + 1)))
    ax.barh([k for k, _ in shown], [v for _, v in shown], color="#3b6ea8")
    ax.set(title=title)
    return _save(fig, path)


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    fig.clf()
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
