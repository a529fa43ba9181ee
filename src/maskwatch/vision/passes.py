"""What face detectors share on the image side: the input check, resizing and mapping boxes back, and the
multi-scale front (which passes over which part of a picture, and how their faces are merged)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import cv2
import numpy as np

from maskwatch.core.faces import Face

# Faces CenterFace finds well, by their long side in its input: fine-tuned, it found 88-99% of annotated faces
# from 16 to 320 px at IoU 0.5 on both collections' development scenes, and fewer above (0.52 at 512-768 px,
# none above 768): a close-up needs a smaller input than a crowd (docs/detector.md, "Any face size").
GOOD_FACES = (16.0, 320.0)
# The least face score of a coarse pass's faces: at 0.15 (the threshold with a classifier that rejects) it drew
# boxes round two people on a band of a scripted clip; faces that only it finds, close-ups, scored 0.36-0.8
COARSE_SCORE = 0.3
# Where the faces to find are known (video: those followed, at half their size), the finest pass needs to make
# the smallest only this large: weak faces (blurred, fisheye, dim) that score near the threshold at the preset's
# scale were lost at a third of it (the office clip's one person, at 0.78x instead of 1.6x)
FOLLOWED_FACE = 64.0
Sizes = tuple[float, float]  # (smallest, largest) long side in image pixels of the faces a detection must find


def check_rgb(image: np.ndarray) -> None:
    """Reject what is not RGB uint8 HxWx3: a gray or float image would silently give wrong detections."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(
            f"expected an RGB uint8 image of shape HxWx3, got shape {image.shape} dtype {image.dtype}; "
            "convert first, e.g. cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)"
        )


def resize(image: np.ndarray, factor: float) -> tuple[np.ndarray, float, float]:
    """Image resized by ``factor`` and the exact x/y factors that rounding to whole pixels gave."""
    h, w = image.shape[:2]
    nh, nw = max(1, round(h * factor)), max(1, round(w * factor))
    if (nh, nw) != (h, w):
        interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
        image = cv2.resize(image, (nw, nh), interpolation=interp)
    return image, nw / w, nh / h


def to_faces(boxes: np.ndarray, scores: np.ndarray, fx: float, fy: float, shape: tuple[int, ...],
             frontal: np.ndarray | None = None, points: np.ndarray | None = None) -> list[Face]:
    """Faces with boxes (and landmarks) mapped from detector-input pixels back to the original image."""
    h, w = shape[:2]
    boxes = np.clip(boxes / [fx, fy, fx, fy], 0, [w, h, w, h])
    frontal = [None] * len(boxes) if frontal is None else [float(f) for f in frontal]
    marks = [None] * len(boxes) if points is None else [
        tuple((float(x / fx), float(y / fy)) for x, y in face) for face in points]
    return [Face(box=tuple(map(float, b)), score=float(s), frontal=f, landmarks=m)
            for b, s, f, m in zip(boxes, scores, frontal, marks, strict=True)]


def shifted(face: Face, dx: float, dy: float) -> Face:
    """The face found in a part of an image that starts at (dx, dy), in the whole image's pixels."""
    x1, y1, x2, y2 = face.box
    marks = face.landmarks and tuple((x + dx, y + dy) for x, y in face.landmarks)
    return replace(face, box=(x1 + dx, y1 + dy, x2 + dx, y2 + dy), landmarks=marks)


def content_box(image: np.ndarray, darkest: int = 12) -> tuple[int, int, int, int]:
    """(x1, y1, x2, y2) of the picture inside black bars (letterbox, pillarbox, a phone's portrait strip):
    detecting on it alone gives the faces more of the detector's input pixels. Checked on a coarse copy,
    so it costs well under a millisecond."""
    step = 4
    coarse = image[::step, ::step].max(axis=2) > darkest
    rows, cols = np.flatnonzero(coarse.any(axis=1)), np.flatnonzero(coarse.any(axis=0))
    if len(rows) == 0:
        return 0, 0, image.shape[1], image.shape[0]
    h, w = image.shape[:2]
    return (max(0, (cols[0] - 1) * step), max(0, (rows[0] - 1) * step),
            min(w, (cols[-1] + 2) * step), min(h, (rows[-1] + 2) * step))


def pass_factors(h: int, w: int, scale: float, max_side: int | None = None, coarse_side: int | None = None,
                 sizes: Sizes | None = None) -> list[float]:
    """The input scales of the detector's passes over a picture of h x w: the fine one (`scale`, less where
    `max_side` caps the long side) and, with `coarse_side`, a coarse one that makes the long side at most that
    (never enlarged), for large faces, where it differs enough to matter. With `sizes` (smallest, largest
    long side of the faces to find), only what those need: the fine pass only as fine as makes the smallest
    FOLLOWED_FACE px, and the coarse pass only for faces too large for it."""
    fine = max_side / max(h, w) if max_side and max(h, w) * scale > max_side else scale
    coarse = min(1.0, coarse_side / max(h, w)) if coarse_side else fine
    if coarse * 1.25 >= fine:
        return [fine]
    if sizes is None:
        return [coarse, fine]
    smallest, largest = sizes
    needed = min(fine, max(coarse, FOLLOWED_FACE / max(smallest, 1.0)))
    if needed <= coarse * 1.25:
        return [coarse]
    return [coarse, needed] if largest * needed > GOOD_FACES[1] else [needed]


def merge(passes: Sequence[Sequence[Face]], factors: Sequence[float], nms_iou: float = 0.3) -> list[Face]:
    """The faces of passes over one picture at the input scales `factors` as one list. Each pass answers for
    the faces of a band of sizes: the finest for those it sees at most GOOD_FACES' largest size, each coarser
    one for those larger than that in the next finer pass (at 2.5x, the print of a close-up's mask or its eyes
    look like faces of their own; at 0.25x, a crowd's faces are specks). Faces found twice, near the size
    where one pass hands over to the next, are merged as by NMS; a box that is a small part of a surer face is
    dropped."""
    high = GOOD_FACES[1]
    order = sorted(range(len(factors)), key=lambda i: -factors[i])
    bands = {i: (high / factors[i] if k < len(order) - 1 else math.inf,
                 0.8 * high / factors[order[k - 1]] if k else 0.0) for k, i in enumerate(order)}
    faces = sorted((face for i, found in enumerate(passes) for face in found
                    if bands[i][1] <= face.side <= bands[i][0]), key=lambda face: face.score, reverse=True)
    kept: list[Face] = []
    for face in faces:
        if not any(_overlap(face, other) > nms_iou for other in kept):
            kept.append(face)
    return [face for face in kept if not any(other.score >= face.score and part_of(face, other) for other in kept)]


def _overlap(a: Face, b: Face) -> float:
    ax1, ay1, ax2, ay2 = a.box
    bx1, by1, bx2, by2 = b.box
    inter = max(0.0, min(ax2, bx2) - max(ax1, bx1)) * max(0.0, min(ay2, by2) - max(ay1, by1))
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    return inter / union if union > 0 else 0.0


def part_of(face: Face, outer: Face) -> bool:
    """Whether a box is a small part of a larger one: its centre inside it, at most half its size."""
    x1, y1, x2, y2 = face.box
    ox1, oy1, ox2, oy2 = outer.box
    return ox1 <= (x1 + x2) / 2 <= ox2 and oy1 <= (y1 + y2) / 2 <= oy2 and face.side <= 0.5 * outer.side
