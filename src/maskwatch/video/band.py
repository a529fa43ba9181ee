"""Detection where the faces are, at the size they are. A camera shows heads in a band of its picture (people
walk on a floor, at the distances it sees), so on video most detections look only at the band of rows where
faces were seen, with room above and below, and only at the scales faces of the sizes seen need (a close-up
needs no 2.5x input); every FULL_EVERY-th looks at the whole frame at every scale, for faces that come in
elsewhere or at another size. On the crosswalk crowd (360x640, faces in a third of its height) the band ran
the video loop at 38.9 fps against 29.1, keeping 96.7% of per-frame detection's faces against 97.3%
(docs/results-2026-12-05.md, "Speed").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Box = tuple[float, float, float, float]

FULL_EVERY = 4  # every 4th detection is of the whole frame: at detection every 2nd frame, every 8th frame
MARGIN = 2.0  # rows kept above and below each face, in face heights (faces move, grow, come in beside others)
STRIPS = 8  # band edges snap outward to eighths of the frame: few detector input sizes, each prepared once
MOST = 0.75  # a band taller than this share of the frame is not worth it: the whole frame is detected
GROWTH = 2.0  # faces may shrink or grow this much before the next whole look (walking away, coming closer)


@dataclass(frozen=True)
class Look:
    """Where a detection looks: a band of rows (None: all of them) and the sizes of faces to find (smallest and
    largest long side in pixels; None: any size)."""

    rows: tuple[int, int] | None = None
    sizes: tuple[float, float] | None = None

    @property
    def whole(self) -> bool:
        return self.rows is None and self.sizes is None


WHOLE = Look()


class FaceBand:
    """Where the next detection of a video's frames looks. One per video: `look()` before each detection,
    `saw()` with what it found."""

    def __init__(self) -> None:
        self._detections = 0
        self._seen: list[Box] = []  # the faces of the last whole-frame detection

    def look(self, height: int, followed: Sequence[Box], whole: bool = False) -> Look:
        """The rows and face sizes to detect in a frame of `height` rows where the faces `followed` are: the
        whole frame at every size on every FULL_EVERY-th detection, with `whole`, or with nobody in view; all
        rows where the band would be most of the frame."""
        self._detections += 1
        boxes = [*self._seen, *followed]
        if whole or (self._detections - 1) % FULL_EVERY == 0 or not boxes:
            return WHOLE
        sides = [max(x2 - x1, y2 - y1) for x1, y1, x2, y2 in boxes]
        sizes = (min(sides) / GROWTH, max(sides) * GROWTH)
        strip = height / STRIPS
        top = min(y1 - MARGIN * (y2 - y1) for _, y1, _, y2 in boxes)
        bottom = max(y2 + MARGIN * (y2 - y1) for _, y1, _, y2 in boxes)
        top = max(0, math.floor(top / strip)) * strip
        bottom = min(STRIPS, math.ceil(bottom / strip)) * strip
        if bottom - top > MOST * height:
            return Look(None, sizes)
        return Look((round(top), round(bottom)), sizes)

    def saw(self, look: Look, boxes: Sequence[Box]) -> None:
        """What a detection that looked at `look` found; a whole look's faces set the band until the next one."""
        if look.whole:
            self._seen = list(boxes)
