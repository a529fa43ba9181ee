"""A person's state needs consistent evidence; a weak detection (face score under the unknown rule's
weak_score) counts half, so a dim face called bare on a few frames in a row does not make a bare person."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from maskwatch.core.classes import WITHOUT_MASK
from maskwatch.core.faces import Face
from maskwatch.core.frame import Frame
from maskwatch.video.persons import DEFAULT_SETTINGS, PersonTracker
from maskwatch.vision.judge import DEFAULT_RULE

IMAGE = np.zeros((480, 640, 3), np.uint8)


def first_judged_frame(score: float, frames: int = 12) -> int | None:
    """The frame at which a person whose face scores `score`, called bare at p 0.98, becomes bare."""
    tracker = PersonTracker()
    face = Face((100.0, 100.0, 200.0, 220.0), score, WITHOUT_MASK, 0.98, {WITHOUT_MASK: 0.98, "with_mask": 0.02})
    for index in range(frames):
        frame = Frame(IMAGE, "door", index, index / 10, Path("door.mp4"), 10.0, True)
        if index == 0:
            tracker.start(frame)
        [judged] = DEFAULT_RULE.judged(tracker.detected([face], frame))
        _, events = tracker.observe(frame, [judged])
        if any(e.kind == "person_appeared" for e in events):
            return index
    return None


def test_a_weak_detection_counts_half() -> None:
    strong = first_judged_frame(0.9)
    weak = first_judged_frame(DEFAULT_RULE.weak_score - 0.1)  # still enough to start a person (0.45)
    assert strong is not None and weak is not None
    assert weak - strong == 3  # three frames of evidence: 3 strong ones, or 6 weak ones


def persons_made(score: float, detect_every: int) -> set[int]:
    """The persons a face of `score`, detected on two frames in a row, makes under a schedule of detection
    every `detect_every` frames."""
    tracker, persons = PersonTracker(), set()
    face = Face((100.0, 100.0, 160.0, 170.0), score, WITHOUT_MASK, 0.98, {WITHOUT_MASK: 0.98, "with_mask": 0.02})
    for index in range(2):
        frame = Frame(IMAGE, "terrace", index, index / 10, Path("terrace.mp4"), 10.0, True)
        if index == 0:
            tracker.start(frame, detect_every)
        faces, _ = tracker.observe(frame, DEFAULT_RULE.judged(tracker.detected([face], frame)))
        persons |= {f.person for f in faces if f.person is not None}
    return persons


def test_on_sparse_detections_a_weaker_face_seen_twice_makes_a_person() -> None:
    """A raised 720p camera detected every 8th frame made no person at all when a person needed a face of 0.45
    on two detections in a row (16 frames apart): there, a face of 0.3 and the frame after it start one."""
    weak = DEFAULT_SETTINGS.sparse_track_score + 0.05
    assert persons_made(weak, detect_every=8)
    assert not persons_made(weak, detect_every=2)  # dense schedules keep the strict start
    assert not persons_made(DEFAULT_SETTINGS.sparse_track_score - 0.05, detect_every=8)
