"""End-to-end detection metrics on annotated scenes: face recall, face AP50, per-class AP50 and mAP50.

Classifier accuracy on crops says little about what a user sees; these numbers score the whole pipeline
(detector + classifier) against VOC boxes, with VOC-style greedy matching and all-point interpolated AP.
Pure numpy so that evaluation runs wherever the package does.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from maskwatch.data.voc import Box


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU (N, M) of (N, 4) and (M, 4) x1y1x2y2 boxes (continuous coordinates, no +1)."""
    a = np.asarray(a, dtype=float).reshape(-1, 4)
    b = np.asarray(b, dtype=float).reshape(-1, 4)
    w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(w, 0, None) * np.clip(h, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """VOC all-point AP: area under the monotone (right-to-left max) envelope of the PR curve."""
    recall, precision = np.asarray(recall, dtype=float), np.asarray(precision, dtype=float)
    if recall.shape != precision.shape:
        raise ValueError(f"recall {recall.shape} and precision {precision.shape} differ in shape")
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.maximum.accumulate(np.concatenate(([0.0], precision, [0.0]))[::-1])[::-1]
    return float(np.sum(np.diff(mrec) * mpre[1:]))


@dataclass
class Prediction:
    """A predicted face; any object with ``.box``, ``.score`` and ``.label`` (e.g. ``Face``) will do."""

    box: tuple[float, float, float, float]
    score: float
    label: str | None = None


_Truth = tuple[np.ndarray, np.ndarray]  # per image: boxes (K, 4) and their "ignored" flags (K,)


def _truth(boxes: Sequence[Box], ignored: Sequence[bool]) -> _Truth:
    return np.asarray([b.box for b in boxes], dtype=float).reshape(-1, 4), np.asarray(ignored, dtype=bool)


def _n_gt(truth: Sequence[_Truth]) -> int:
    return int(sum((~ignored).sum() for _, ignored in truth))


def _match(
    truth: Sequence[_Truth], preds: list[tuple[float, int, Any]], thr: float
) -> tuple[float | None, float | None]:
    """Greedy VOC matching of (score, image, box) predictions; returns (AP, recall), None without GT.

    Best score first, each prediction takes the highest-IoU unmatched real GT box at IoU >= thr (TP);
    failing that, one overlapping an ignored box is dropped; everything else, duplicates included, is a FP.
    """
    n_gt = _n_gt(truth)
    if n_gt == 0:
        return None, None
    used = [np.zeros(len(ignored), dtype=bool) for _, ignored in truth]
    hits = []
    for k in sorted(range(len(preds)), key=lambda k: -preds[k][0]):  # stable: ties keep input order
        _, i, box = preds[k]
        gt, ignored = truth[i]
        overlaps = iou(np.asarray(box, dtype=float), gt)[0]
        free = np.flatnonzero(~ignored & ~used[i] & (overlaps >= thr))
        if free.size:
            used[i][free[np.argmax(overlaps[free])]] = True
            hits.append(True)
        elif not (ignored & (overlaps >= thr)).any():
            hits.append(False)
    tp = np.cumsum(hits, dtype=float)
    ap = average_precision(tp / n_gt, tp / np.arange(1, len(hits) + 1))
    return ap, float(tp[-1] / n_gt) if hits else 0.0


def evaluate_scenes(
    ground_truth: Sequence[Sequence[Box]],
    predictions: Sequence[Sequence[Any]],
    classes: Sequence[str],
    iou_threshold: float = 0.5,
    ignore: Collection[str] = (),
    relabel: Mapping[str, str] | None = None,
    class_score: Callable[[Any], float] = lambda p: p.score,
) -> dict:
    """Score predictions against ground truth, image by image (``ground_truth[i]`` with ``predictions[i]``).

    Face metrics are class-agnostic and rank by ``p.score``. Per-class metrics use predictions whose
    ``label`` is that class (``None`` labels count for faces only), ranked by ``class_score(p)``: pass e.g.
    ``lambda p: p.score * p.confidence`` to rank by face score times class confidence.
    GT names are mapped through ``relabel`` first. A GT box whose name, or mapped name, is in ``ignore``
    is "difficult" (VOC): not counted in ``n_gt``, and any prediction on it, whatever its label, is neither
    TP nor FP. Any other GT name must be in ``classes``. Metrics without GT are ``None``; ``map50`` is the
    mean AP50 over classes that have GT.
    """
    if len(ground_truth) != len(predictions):
        raise ValueError(f"{len(ground_truth)} ground-truth images but {len(predictions)} prediction lists")
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
    relabel = relabel or {}
    faces: list[_Truth] = []
    by_class: dict[str, list[_Truth]] = {c: [] for c in classes}
    for boxes in ground_truth:
        names = [relabel.get(b.name, b.name) for b in boxes]
        ignored = [b.name in ignore or n in ignore for b, n in zip(boxes, names, strict=True)]
        unknown = {n for n, ig in zip(names, ignored, strict=True) if not ig and n not in by_class}
        if unknown:
            raise ValueError(
                f"ground-truth classes {sorted(unknown)} not in {list(classes)}: relabel/ignore them"
            )
        faces.append(_truth(boxes, ignored))
        for c, truth in by_class.items():  # ignored boxes of any name stay "difficult" for every class
            keep = [k for k, (n, ig) in enumerate(zip(names, ignored, strict=True)) if n == c or ig]
            truth.append(_truth([boxes[k] for k in keep], [ignored[k] for k in keep]))
    labels = {p.label for ps in predictions for p in ps} - {None} - by_class.keys()
    if labels:
        raise ValueError(f"predicted labels {sorted(labels)} not in {list(classes)}")

    face_ap, face_recall = _match(
        faces, [(p.score, i, p.box) for i, ps in enumerate(predictions) for p in ps], iou_threshold
    )
    per_class = {}
    for c, truth in by_class.items():
        preds = [(class_score(p), i, p.box) for i, ps in enumerate(predictions) for p in ps if p.label == c]
        ap, recall = _match(truth, preds, iou_threshold)
        per_class[c] = {"ap50": ap, "recall": recall, "n_gt": _n_gt(truth), "n_pred": len(preds)}
    aps = [v["ap50"] for v in per_class.values() if v["ap50"] is not None]
    return {
        "face_recall": face_recall,
        "face_ap50": face_ap,
        "map50": float(np.mean(aps)) if aps else None,
        "per_class": per_class,
        "n_gt": _n_gt(faces),
        "n_pred": sum(len(ps) for ps in predictions),
        "n_images": len(ground_truth),
        "iou_threshold": iou_threshold,
    }


SIZE_BANDS = (0, 16, 32, 64, 128, 256)  # px, the annotated box's long side: under 16, 16-32, ..., 256 and up


def recall_by_size(ground_truth: Sequence[Sequence[Box]], predictions: Sequence[Sequence[Any]],
                   iou_threshold: float = 0.5, bands: Sequence[int] = SIZE_BANDS) -> dict[str, dict]:
    """Face recall per band of face size: each image's predictions, best score first, take the unmatched
    annotated box they overlap most at IoU >= `iou_threshold` (as `evaluate_scenes` matches faces)."""
    found = {low: [0, 0] for low in bands}
    for boxes, preds in zip(ground_truth, predictions, strict=True):
        gt = np.asarray([b.box for b in boxes], dtype=float).reshape(-1, 4)
        used = np.zeros(len(gt), dtype=bool)
        for pred in sorted(preds, key=lambda p: -p.score):
            if not len(gt):
                break
            overlaps = np.where(used, -1.0, iou(np.asarray(pred.box, dtype=float), gt)[0])
            if overlaps.max() >= iou_threshold:
                used[int(overlaps.argmax())] = True
        sides = np.maximum(gt[:, 2] - gt[:, 0], gt[:, 3] - gt[:, 1])
        for k, side in enumerate(sides):
            low = max(b for b in bands if b <= side)
            found[low][0] += 1
            found[low][1] += bool(used[k])
    names = {low: (f"{low}+ px" if low == bands[-1] else f"{low}-{bands[i + 1]} px") for i, low in enumerate(bands)}
    return {names[low]: {"faces": n, "recall": round(k / n, 4) if n else None} for low, (n, k) in found.items()}
