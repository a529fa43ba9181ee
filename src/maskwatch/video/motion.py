"""Boxes moved along with the picture between two frames: how faces are carried between detections.

A box carried at its person's recent speed drifts off a small face within a few frames when the person
turns, slows or the camera pans; the picture itself says where the face went. Each box gets a grid of
points that sparse Lucas-Kanade optical flow follows from the previous frame to this one, checked by
following them back again; the median shift of the points that come back to where they started moves the
box. A box with too few such points (a blank wall, a face leaving) gets no shift and is left to the caller.
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


def _grid(box: Sequence[float]) -> np.ndarray:
    """GRID x GRID points over the middle 80% of a box."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    xs = np.linspace(x1 + 0.1 * w, x2 - 0.1 * w, GRID)
    ys = np.linspace(y1 + 0.1 * h, y2 - 0.1 * h, GRID)
    return np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)


class MotionFollower:
    """Call `see` with every frame in order; `shifts` then says how far each box of the previous frame
    moved to reach this one."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled  # with detection on every frame nothing is carried: no need to look
        self._previous: np.ndarray | None = None
        self._current: np.ndarray | None = None

    def see(self, image: np.ndarray) -> None:
        if self.enabled:
            self._previous, self._current = self._current, cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)

    def shifts(self, boxes: Sequence[Sequence[float]]) -> list[np.ndarray | None]:
        """The (dx, dy) that moves each box from the previous frame to this one, or None where the picture
        does not say (too few points followed there and back, or no previous frame)."""
        if (not boxes or self._previous is None or self._current is None
                or self._previous.shape != self._current.shape):
            return [None] * len(boxes)
        start = np.concatenate([_grid(b) for b in boxes]).astype(np.float32)
        options = {"winSize": WINDOW, "maxLevel": LEVELS,
                   "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)}
        there, ok, _ = cv2.calcOpticalFlowPyrLK(self._previous, self._current, start, None, **options)
        back, ok_back, _ = cv2.calcOpticalFlowPyrLK(self._current, self._previous, there, None, **options)
        good = (ok[:, 0] == 1) & (ok_back[:, 0] == 1) & (np.linalg.norm(back - start, axis=1) <= MAX_RETURN_ERROR)
        moved = (there - start).reshape(len(boxes), GRID * GRID, 2)
        good = good.reshape(len(boxes), GRID * GRID)
        return [np.median(m[g], axis=0) if g.sum() >= MIN_POINTS else None
                for m, g in zip(moved, good, strict=True)]
