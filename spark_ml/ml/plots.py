"""Matplotlib figures from already-aggregated metrics (curves and importances; never raw rows).

Each function returns a figure; the caller logs it (MLflow `log_figure`) and closes it with `close`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from spark_ml.ml.evaluation import Metrics


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def roc_plot(curves: Mapping[str, Metrics]) -> Any:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, m in curves.items():
        ax.plot(m.curves["fpr"], m.curves["tpr"], label=f"{name} (AUC {m.auc_roc:.3f})")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def pr_plot(curves: Mapping[str, Metrics]) -> Any:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, m in curves.items():
        ax.plot(m.curves["recall"], m.curves["precision"], label=f"{name} (AUC-PR {m.auc_pr:.3f})")
        ax.axhline(m.positive_rate, linestyle=":", color="grey")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall", xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="upper right")
    fig.tight_layout()
    return fig


def calibration_plot(curves: Mapping[str, Metrics]) -> Any:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, m in curves.items():
        ax.plot(m.curves["calibration_predicted"], m.curves["calibration_observed"], "o-", label=name)
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect")
    ax.set(xlabel="mean predicted probability", ylabel="observed rate", title="Calibration", xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def importance_plot(importances: Sequence[tuple[str, float]], title: str, top: int = 20) -> Any:
    plt = _pyplot()
    shown = sorted(importances, key=lambda kv: abs(kv[1]), reverse=True)[:top][::-1]
    fig, ax = plt.subplots(figsize=(7, max(3, 0.3 * len(shown) + 1)))
    ax.barh([k for k, _ in shown], [v for _, v in shown], color="#3b6ea8")
    ax.set(title=title)
    fig.tight_layout()
    return fig


def close(fig: Any) -> None:
    """Release a figure's memory once it has been logged."""
    _pyplot().close(fig)
