"""Zones: named polygons of a camera's picture (the doorway, not the street behind it).

A face is in a zone when the centre of its box is inside the polygon: a face box is small and sits where the
person's head is, so its centre says where they are in the picture as well as any point of it would, and a
zone is drawn around where heads appear. Points are fractions of the frame's width and height when every
coordinate is between 0 and 1, else pixels, so one zone fits every resolution of a camera.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from maskwatch.core.errors import InvalidInput

ZONE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class Zone:
    name: str
    points: tuple[tuple[float, float], ...]

    @property
    def relative(self) -> bool:
        return all(0.0 <= v <= 1.0 for point in self.points for v in point)

    def polygon(self, width: int, height: int) -> np.ndarray:
        """The corners in pixels of a frame of this size (N x 2, float32)."""
        scale = (width, height) if self.relative else (1.0, 1.0)
        return np.array([(x * scale[0], y * scale[1]) for x, y in self.points], np.float32)

    def holds(self, box: Sequence[float], width: int, height: int) -> bool:
        """Whether the centre of the box is inside (or on the edge of) the zone."""
        x1, y1, x2, y2 = box
        centre = (float((x1 + x2) / 2), float((y1 + y2) / 2))
        return cv2.pointPolygonTest(self.polygon(width, height), centre, False) >= 0


def zones_of(box: Sequence[float], zones: Sequence[Zone], width: int, height: int) -> list[str]:
    """The names of the zones the box is in, in the order they are configured."""
    return [zone.name for zone in zones if zone.holds(box, width, height)]


def zone_problem(name: object, points: object) -> str | None:
    """What is wrong with a zone as a user wrote it, or None."""
    if not isinstance(name, str) or not ZONE_NAME.fullmatch(name):
        return f"a zone needs a name of 1-64 letters, digits, '.', '_' or '-', got {name!r}"
    if not isinstance(points, list | tuple) or len(points) < 3:
        return f"zone {name!r}: 'points' must list at least 3 [x, y] corners"
    for point in points:
        if (not isinstance(point, list | tuple) or len(point) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
                           for v in point)):
            return f"zone {name!r}: every corner must be [x, y] with x, y >= 0, got {point!r}"
    corners = np.array(points, np.float64)
    x, y = corners[:, 0], corners[:, 1]
    if abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) < 1e-9:
        return f"zone {name!r}: its corners enclose no area"
    return None


def parse_zone(text: str) -> Zone:
    """A zone as `detect --zone` takes it: NAME=X,Y X,Y X,Y ... (fractions of the frame, or pixels)."""
    name, sep, rest = text.partition("=")
    try:
        points = [tuple(float(v) for v in pair.split(",")) for pair in rest.replace(";", " ").split()]
    except ValueError:
        points = []
    if not sep or any(len(p) != 2 for p in points):
        raise InvalidInput(f"--zone {text!r}: give NAME=X,Y X,Y X,Y ..., e.g. door=0.3,0 0.7,0 0.7,1 0.3,1")
    if problem := zone_problem(name, [list(p) for p in points]):
        raise InvalidInput(f"--zone: {problem}")
    return Zone(name, tuple((float(x), float(y)) for x, y in points))
