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


def _grids(boxes: np.ndarray) -> np.ndarray:
    """GRID x GRID points over the middle 80% of each box (B x 4): B * GRID * GRID points, box by box."""
    steps = np.linspace(0.1, 0.9, GRID)
    xs = boxes[:, None, 0] + steps * (boxes[:, None, 2] - boxes[:, None, 0])  # B x GRID
    ys = boxes[:, None, 1] + steps * (boxes[:, None, 3] - boxes[:, None, 1])
    points = np.stack(np.broadcast_arrays(xs[:, None, :], ys[:, :, None]), -1)  # B x GRID(y) x GRID(x) x 2
    return points.reshape(-1, 2)


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
        corners = np.asarray(boxes, float)
        start = _grids(corners).astype(np.float32)
        options = {"winSize": WINDOW, "maxLevel": LEVELS,
                   "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)}
        there, ok, _ = cv2.calcOpticalFlowPyrLK(self._previous, self._current, start, None, **options)
        back, ok_back, _ = cv2.calcOpticalFlowPyrLK(self._current, self._previous, there, None, **options)
        good = (ok[:, 0] == 1) & (ok_back[:, 0] == 1) & (np.linalg.norm(back - start, axis=1) <= MAX_RETURN_ERROR)
        good = good.reshape(len(boxes), -1)
        sure = np.flatnonzero(good.sum(1) >= MIN_POINTS)
        moved: list[np.ndarray | None] = [None] * len(boxes)
        if len(sure):
            before, after = start.reshape(len(boxes), -1, 2)[sure], there.reshape(len(boxes), -1, 2)[sure]
            for i, box in zip(sure, _moved_boxes(corners[sure], before, after, good[sure]), strict=True):
                moved[i] = box
        return moved


def _moved_boxes(boxes: np.ndarray, before: np.ndarray, after: np.ndarray, good: np.ndarray) -> np.ndarray:
    """Boxes (B x 4) moved by the median shift of their good points (B x P x 2, before and after) and scaled
    by the median ratio of the distances between pairs of good points."""
    shift = nanmedian(np.where(good[..., None], after - before, np.nan))
    apart_before = np.linalg.norm(before[:, :, None] - before[:, None], axis=-1)
    apart_after = np.linalg.norm(after[:, :, None] - after[:, None], axis=-1)
    pairs = good[:, :, None] & good[:, None] & np.triu(np.ones(apart_before.shape[1:], bool), 1)
    ratio = np.where(pairs, apart_after / np.maximum(apart_before, 1e-3), np.nan).reshape(len(boxes), -1)
    scale = np.clip(nanmedian(ratio), *SCALE_RANGE)[:, None]
    centre, half = (boxes[:, :2] + boxes[:, 2:]) / 2 + shift, (boxes[:, 2:] - boxes[:, :2]) / 2 * scale
    return np.concatenate([centre - half, centre + half], axis=1)


def nanmedian(values: np.ndarray) -> np.ndarray:
    """`np.nanmedian(values, axis=1)`, without the masked arrays numpy uses for small inputs: 1.5 ms a frame
    for a crowd's boxes, most of the cost of carrying them."""
    ordered = np.sort(values, axis=1)  # NaNs sort last
    count = np.expand_dims((~np.isnan(values)).sum(axis=1), 1)
    low = np.take_along_axis(ordered, np.maximum(count - 1, 0) // 2, axis=1)
    high = np.take_along_axis(ordered, count // 2, axis=1)
    return np.squeeze((low + high) / 2, axis=1)


class MotionGate:
    """Whether anything in the picture moved: a small grey copy of each frame against a background that
    follows the picture slowly (lighting drifts in, a parked car becomes background). Costs well under a
    millisecond for a 640x480 frame, so a camera where nothing happens does almost no work."""

    def __init__(self, width: int = 160, level: float = 14.0, share: float = 0.0005, learn: float = 0.05) -> None:
        # level: grey levels a pixel must change by (above JPEG and sensor noise); share: of the small copy's
        # pixels that must change (160x120: 10, about what a face 12 px wide in 640 px changes when it moves)
        self.width, self.level, self.share, self.learn = width, level, share, learn
        self._background: np.ndarray | None = None

    def moved(self, image: np.ndarray) -> bool:
        height = max(1, round(image.shape[0] * self.width / image.shape[1]))
        small = cv2.GaussianBlur(cv2.cvtColor(cv2.resize(image, (self.width, height), interpolation=cv2.INTER_AREA),
                                              cv2.COLOR_RGB2GRAY).astype(np.float32), (3, 3), 0)
        if self._background is None or self._background.shape != small.shape:
            self._background = small
            return True  # the first frame (or a new size) is looked at
        changed = np.count_nonzero(np.abs(small - self._background) > self.level) > self.share * small.size
        cv2.accumulateWeighted(small, self._background, self.learn)
        return changed
