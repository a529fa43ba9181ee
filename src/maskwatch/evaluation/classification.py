"""Classification metrics in plain NumPy (no scikit-learn needed where only a model is evaluated)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]) -> dict:
    """Accuracy, per-class precision / recall / F1 / support and the confusion matrix (rows: truth)."""
    k = len(labels)
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    per_class = {}
    for i, label in enumerate(labels):
        tp, predicted, support = confusion[i, i], confusion[:, i].sum(), confusion[i].sum()
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {"precision": round(float(precision), 4), "recall": round(float(recall), 4),
                            "f1": round(float(f1), 4), "support": int(support)}
    n = int(confusion.sum())
    return {"accuracy": round(float(np.trace(confusion) / n), 4) if n else 0.0, "n": n, "labels": list(labels),
            "per_class": per_class, "confusion": confusion.tolist()}


def format_metrics(metrics: dict) -> str:
    """A short table for the terminal."""
    lines = [f"accuracy {metrics['accuracy']:.4f} on {metrics['n']} images",
             f"{'class':<24}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for label, m in metrics["per_class"].items():
        lines.append(f"{label:<24}{m['precision']:>10.4f}{m['recall']:>10.4f}{m['f1']:>10.4f}{m['support']:>10}")
    lines.append("confusion (rows: truth, columns: predicted): " + str(metrics["confusion"]))
    if "incorrect_as_without_mask" in metrics:
        m = metrics["incorrect_as_without_mask"]
        lines.append(f"mask_weared_incorrect counted as without_mask: accuracy {m['accuracy']:.4f} "
                     f"({m['right']} of {m['n']})")
    if "errors" in metrics:
        e = metrics["errors"]
        lines.append(f"{e['mistakes']} mistakes, {e['shown']} drawn on {e['sheet']}")
    return "\n".join(lines)
