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
MAX_COORDINATE = 100_000  # px: beyond any camera's frame, and far from where float32 corners overflow


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
                or not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                           and 0 <= v <= MAX_COORDINATE for v in point)):
            return (f"zone {name!r}: every corner must be [x, y] with x and y from 0 to {MAX_COORDINATE} "
                    f"(fractions of the frame, or pixels), got {point!r}")
    corners = np.array(points, np.float64)
    x, y = corners[:, 0], corners[:, 1]
    if abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) < 1e-9:
        return f"zone {name!r}: its corners enclose no area"
    if crossing := _crossing_edges([(float(a), float(b)) for a, b in corners]):
        return f"zone {name!r}: its edges {crossing[0]} and {crossing[1]} cross (list the corners in order around it)"
    return None


def _crossing_edges(corners: list[tuple[float, float]]) -> tuple[int, int] | None:
    """The first two edges (1-based: edge k runs from corner k to the next) of the closed polygon that meet,
    other than neighbours at their shared corner; None for a simple polygon."""
    n = len(corners)
    edges = [(corners[i], corners[(i + 1) % n]) for i in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            if j == i + 1 or (i == 0 and j == n - 1):
                if _overlap(*edges[i], *edges[j]):  # neighbours meet at a corner; folding back on each other is a cross
                    return i + 1, j + 1
            elif _meet(*edges[i], *edges[j]):
                return i + 1, j + 1
    return None


def _turn(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _on(a: tuple[float, float], b: tuple[float, float], p: tuple[float, float]) -> bool:
    """p, collinear with a-b, lies on the segment."""
    return min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])


def _meet(a, b, c, d) -> bool:
    """Segments a-b and c-d touch or cross."""
    d1, d2, d3, d4 = _turn(c, d, a), _turn(c, d, b), _turn(a, b, c), _turn(a, b, d)
    if ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and 0 not in (d1, d2, d3, d4):
        return True
    return ((d1 == 0 and _on(c, d, a)) or (d2 == 0 and _on(c, d, b)) or (d3 == 0 and _on(a, b, c))
            or (d4 == 0 and _on(a, b, d)))


def _overlap(a, b, c, d) -> bool:
    """Neighbouring edges a-b and c-d (sharing a corner) run back along each other."""
    shared = ({a, b} & {c, d}) or {b}
    corner = next(iter(shared))
    far1 = a if b == corner else b
    far2 = c if d == corner else d
    if _turn(corner, far1, far2) != 0:
        return False
    return ((far1[0] - corner[0]) * (far2[0] - corner[0]) + (far1[1] - corner[1]) * (far2[1] - corner[1])) > 0


def parse_zone(text: str) -> Zone:
    """A zone as `detect --zone` takes it: NAME=X,Y X,Y X,Y ... (fractions of the frame, or pixels)."""
    name, sep, rest = text.partition("=")
    pairs = [pair.split(",") for pair in rest.replace(";", " ").split()]
    if not sep or any(len(pair) != 2 for pair in pairs):
        raise InvalidInput(f"--zone {text!r}: give NAME=X,Y X,Y X,Y ..., e.g. door=0.3,0 0.7,0 0.7,1 0.3,1")
    try:
        points = [(float(x), float(y)) for x, y in pairs]
    except ValueError as error:
        raise InvalidInput(f"--zone {text!r}: a corner is not a number ({error})") from None
    if problem := zone_problem(name, [list(p) for p in points]):
        raise InvalidInput(f"--zone: {problem}")
    return Zone(name, tuple((float(x), float(y)) for x, y in points))
