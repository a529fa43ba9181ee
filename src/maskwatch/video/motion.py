"""Boxes moved along with the picture between two frames: how faces are carried between detections.

A box carried at its person's recent speed drifts off a small face within a few frames when the person
turns, slows or the camera pans; the picture itself says where the face went. Each box gets a grid of
points that sparse Lucas-Kanade optical flow follows from the previous frame to this one, checked by
following them back again. The points that come back to where they started move the box by their median
shift and scale it by the median change of the distances between them, so a face walking at the camera
grows as it does (the median-flow idea). A box with too few such points (a blank wall, a face leaving) is
left to the caller.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

GRID = 4  # points per side of each box
MAX_RETURN_ERROR = 1.0  # px a point may land away from its start when followed there and back
MIN_POINTS = 4  # points that must agree for a box to move
WINDOW = (15, 15)
LEVELS = 3
SCALE_RANGE = (0.8, 1.25)  # a face grows or shrinks by less than this between two frames


def _grid(box: Sequence[float]) -> np.ndarray:
    """GRID x GRID points over the middle 80% of a box."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    xs = np.linspace(x1 + 0.1 * w, x2 - 0.1 * w, GRID)
    ys = np.linspace(y1 + 0.1 * h, y2 - 0.1 * h, GRID)
    return np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)


class MotionFollower:
    """Call `see` with every frame in order; `follow` then says where each box of the previous frame is in
    this one."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled  # with detection on every frame nothing is carried: no need to look
        self._previous: np.ndarray | None = None
        self._current: np.ndarray | None = None

    def see(self, image: np.ndarray) -> None:
        if self.enabled:
            self._previous, self._current = self._current, cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)

    def follow(self, boxes: Sequence[Sequence[float]]) -> list[np.ndarray | None]:
        """Each box of the previous frame where it is in this one: moved by the median shift of its points
        and scaled by the median change of the distances between them (a face coming closer grows), or None
        where the picture does not say (too few points followed there and back, or no previous frame)."""
        if (not boxes or self._previous is None or self._current is None
                or self._previous.shape != self._current.shape):
            return [None] * len(boxes)
        start = np.concatenate([_grid(b) for b in boxes]).astype(np.float32)
        options = {"winSize": WINDOW, "maxLevel": LEVELS,
                   "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)}
        there, ok, _ = cv2.calcOpticalFlowPyrLK(self._previous, self._current, start, None, **options)
        back, ok_back, _ = cv2.calcOpticalFlowPyrLK(self._current, self._previous, there, None, **options)
        good = (ok[:, 0] == 1) & (ok_back[:, 0] == 1) & (np.linalg.norm(back - start, axis=1) <= MAX_RETURN_ERROR)
        moved = []
        for box, before, after, g in zip(boxes, start.reshape(len(boxes), -1, 2), there.reshape(len(boxes), -1, 2),
                                          good.reshape(len(boxes), -1), strict=True):
            moved.append(_moved_box(box, before[g], after[g]) if g.sum() >= MIN_POINTS else None)
        return moved


def _moved_box(box: Sequence[float], before: np.ndarray, after: np.ndarray) -> np.ndarray:
    pairs = np.triu_indices(len(before), 1)
    apart_before = np.linalg.norm(before[pairs[0]] - before[pairs[1]], axis=1)
    apart_after = np.linalg.norm(after[pairs[0]] - after[pairs[1]], axis=1)
    scale = float(np.clip(np.median(apart_after / np.maximum(apart_before, 1e-3)), *SCALE_RANGE))
    centre = (np.asarray(box[:2]) + np.asarray(box[2:])) / 2 + np.median(after - before, axis=0)
    half = (np.asarray(box[2:]) - np.asarray(box[:2])) / 2 * scale
    return np.concatenate([centre - half, centre + half])
