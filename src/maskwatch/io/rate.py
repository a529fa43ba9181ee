"""Frames per second as a viewer means it: the frames of the last few seconds over the time they span.

An average of 1/dt is not that: one near-zero gap between two frames (a frame that waited while a slow
detection ran) adds hundreds to it, so a 30 fps camera read 52, 629 or 1004 fps depending on the moment.
"""

from __future__ import annotations

import time
from collections import deque

WINDOW_S = 3.0


class RateMeter:
    """`tick()` once per frame; `rate()` is frames per second over the last `window_s` seconds (0 without
    two frames in that window, so a stalled source reads 0 once the window has passed)."""

    def __init__(self, window_s: float = WINDOW_S) -> None:
        self.window_s = window_s
        self._times: deque[float] = deque()

    def tick(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._times.append(now)
        self._forget(now)

    def rate(self, now: float | None = None) -> float:
        self._forget(time.monotonic() if now is None else now)
        if len(self._times) < 2 or self._times[-1] <= self._times[0]:
            return 0.0
        return (len(self._times) - 1) / (self._times[-1] - self._times[0])

    def _forget(self, now: float) -> None:
        while self._times and self._times[0] < now - self.window_s:
            self._times.popleft()
