"""Training curves and confusion matrix as PNG files next to the JSON report."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from maskwatch.io.atomic import atomic_save


def _save(figure, path: Path) -> None:
    atomic_save(path, lambda tmp: figure.savefig(tmp, dpi=110, bbox_inches="tight"))
    plt.close(figure)


def plot_curves(history: dict[str, Sequence[float]], path: Path, fine_tune_from: int | None = None,
                metrics: Sequence[str] = ("loss", "accuracy")) -> None:
    """Each metric per epoch (one panel each), training vs validation (`val_` keys); a dotted line where
    fine-tuning began."""
    figure, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 4), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        for key, style in ((metric, "-"), (f"val_{metric}", "--")):
            if key in history:
                ax.plot(range(1, len(history[key]) + 1), history[key], style, marker="o", label=key)
        if fine_tune_from:
            ax.axvline(fine_tune_from + 0.5, color="grey", linestyle=":", label="fine-tuning starts")
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
        else:  # e.g. a validation metric of a run that had no validation scenes
            ax.text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax.transAxes, color="grey")
    _save(figure, path)


def plot_confusion(confusion: Sequence[Sequence[int]], labels: Sequence[str], path: Path, title: str) -> None:
    figure, ax = plt.subplots(figsize=(1.6 * len(labels) + 2.5, 1.4 * len(labels) + 2))
    ax.imshow(confusion, cmap="Blues")
    peak = max(max(row) for row in confusion) or 1
    for i, row in enumerate(confusion):
        for j, count in enumerate(row):
            ax.text(j, i, str(count), ha="center", va="center", color="white" if count > peak / 2 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    _save(figure, path)
