"""Matplotlib figures from already-aggregated metrics (curves and importances; never raw rows).

Each function returns a figure; the caller logs it (MLflow `log_figure`) and closes it with `close`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from spark_ml.ml.evaluation import Metrics
from spark_ml.ml.multiclass import MulticlassMetrics
from spark_ml.ml.regression import RegressionMetrics


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


def predicted_vs_actual_plot(m: RegressionMetrics) -> Any:
    """Mean label per bin of the prediction's range against the bin's mean prediction (test)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    predicted, actual = m.curves["predicted"], m.curves["actual"]
    ax.plot(predicted, actual, "o-", label=f"model (RMSE {m.rmse:.2f}, R² {m.r2:.3f})")
    if predicted:
        lo, hi = min(predicted + actual), max(predicted + actual)
        ax.plot([lo, hi], [lo, hi], "--", color="grey", label="perfect")
    ax.set(xlabel="mean prediction (per bin)", ylabel="mean actual", title="Predicted vs actual")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def residual_plot(m: RegressionMetrics) -> Any:
    """Mean residual (actual - predicted) per prediction bin, with one standard deviation."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    predicted, mean, sd = m.curves["predicted"], m.curves["residual_mean"], m.curves["residual_sd"]
    ax.errorbar(predicted, mean, yerr=sd, fmt="o", capsize=2, label="mean residual ± 1 sd")
    ax.axhline(0.0, color="grey", linestyle="--")
    ax.set(xlabel="prediction", ylabel="actual - predicted", title="Residuals (test)")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def confusion_plot(m: MulticlassMetrics) -> Any:
    """The confusion matrix (rows: actual class, columns: predicted), counts and row shares."""
    plt = _pyplot()
    k = len(m.classes)
    fig, ax = plt.subplots(figsize=(1.2 * k + 3, 1.1 * k + 2))
    totals = [sum(row) or 1 for row in m.confusion]
    shares = [[v / totals[i] for v in row] for i, row in enumerate(m.confusion)]
    ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    for i, row in enumerate(m.confusion):
        for j, v in enumerate(row):
            ax.text(j, i, f"{v:,}\n{shares[i][j]:.0%}", ha="center", va="center", color="black", fontsize=8)
    ax.set_xticks(range(k), m.classes, rotation=30, ha="right")
    ax.set_yticks(range(k), m.classes)
    ax.set(xlabel="predicted", ylabel="actual", title=f"Confusion matrix (accuracy {m.accuracy:.3f})")
    fig.tight_layout()
    return fig


STATUS_COLORS = {"ok": "#1a7f37", "warn": "#9a6700", "alert": "#cf222e"}


def psi_plot(drift: Sequence[tuple[str, str, float, str]], warn: float, alert: float) -> Any:
    """One horizontal bar per monitored column (its PSI, coloured by status), worst first."""
    plt = _pyplot()
    rows = sorted(((c, p if p == p else 0.0, s) for c, _, p, s in drift), key=lambda r: r[1])
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(rows) + 1.5))
    ax.barh([r[0] for r in rows], [r[1] for r in rows], color=[STATUS_COLORS.get(r[2], "grey") for r in rows])
    ax.axvline(warn, color=STATUS_COLORS["warn"], linestyle="--", label=f"warn {warn}")
    ax.axvline(alert, color=STATUS_COLORS["alert"], linestyle="--", label=f"alert {alert}")
    ax.set(xlabel="PSI (current month vs training window)", title="Drift per column")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig
