"""Motion gating: on a camera where nothing moves and no one is in view, frames are not looked at (no
detection, no classification); someone walking in is found as without gating, with the same events."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from skimage import data

from maskwatch.core.frame import Frame
from maskwatch.video.analysis import VideoAnalyzer
from maskwatch.video.motion import MotionGate
from maskwatch.vision.pipeline import MaskDetector

FPS = 15.0


def _corridor(frames: int = 150, enter: int = 60, leave: int = 100) -> list[Frame]:
    """A still, slightly noisy corridor (as a camera's sensor gives it); the astronaut's head walks across
    it from frame `enter` to `leave`."""
    rng = np.random.default_rng(0)
    wall = cv2.GaussianBlur(cv2.resize(data.coffee(), (640, 480)), (0, 0), 6)
    head = cv2.resize(data.astronaut()[0:260, 90:330], (150, 162), interpolation=cv2.INTER_AREA)
    out = []
    for i in range(frames):
        frame = np.clip(wall.astype(np.int16) + rng.normal(0, 2.0, wall.shape), 0, 255).astype(np.uint8)
        if enter <= i < leave:
            x = 60 + (i - enter) * 8
            frame[150:312, x:x + 150] = head
        out.append(Frame(frame, "corridor", i, i / FPS, Path("corridor"), FPS, True))
    return out


def _doorway(frames: int = 45, leave: int = 30) -> list[Frame]:
    """A face that stands still in the picture from the first frame (nothing moves until it goes)."""
    face = cv2.resize(data.astronaut()[0:260, 90:330], (150, 162), interpolation=cv2.INTER_AREA)
    out = []
    for i in range(frames):
        frame = np.full((480, 640, 3), 90, np.uint8)
        if i < leave:
            frame[150:312, 245:395] = face
        out.append(Frame(frame, "doorway", i, i / 10.0, Path("doorway"), 10.0, True))
    return out


def _run(gated: bool, frames: list[Frame] | None = None) -> tuple[list, int, int]:
    detector = MaskDetector("fast")
    calls = []
    detect = detector.detector.detect
    detector.detector.detect = lambda image, rows=None, sizes=None: calls.append(1) or detect(image, rows, sizes)
    analyzer = VideoAnalyzer(detector, live=True, motion_gate=gated, detect_every=2)
    steps = [step for frame in (frames or _corridor()) for step in analyzer.push(frame)] + analyzer.finish()
    return steps, len(calls), sum(step.still for step in steps)


def test_a_still_picture_is_not_looked_at_and_a_visitor_is_found_as_without_gating() -> None:
    plain, plain_calls, _ = _run(gated=False)
    gated, gated_calls, still = _run(gated=True)
    events = [[(e.kind, e.person, e.state) for e in step.events] for step in plain]
    assert [[(e.kind, e.person, e.state) for e in step.events] for step in gated] == events
    assert [kind for step in events for kind, _, _ in step] == ["person_appeared", "person_left"]
    # 95 frames without anyone: 60 before, 35 after the person is gone (followed for 1 s after the last
    # sighting); of those, all but the first and one every 2 s are not looked at (measured: 76)
    assert still >= 70
    assert gated_calls <= 0.55 * plain_calls  # measured: 38 detections against 75
    # every frame with the visitor in it is looked at: the same faces as without gating
    assert [len(s.faces) for s in gated[60:100]] == [len(s.faces) for s in plain[60:100]]


def test_a_face_that_never_moves_is_followed_from_its_first_sighting() -> None:
    # a face found once is not yet a track; the frames after it are looked at until it is one, or gone
    plain, _, _ = _run(gated=False, frames=_doorway())
    gated, _, _ = _run(gated=True, frames=_doorway())
    kinds = [[e.kind for e in step.events] for step in gated]
    assert kinds == [[e.kind for e in step.events] for step in plain]
    assert [kind for step in kinds for kind in step] == ["person_appeared", "person_left"]
    assert not any(step.still for step in gated[:30])


def test_the_gate_ignores_noise_and_sees_a_small_face_move() -> None:
    gate = MotionGate()
    rng = np.random.default_rng(1)
    wall = np.full((480, 640, 3), 120, np.uint8)
    noisy = [np.clip(wall + rng.normal(0, 3, wall.shape), 0, 255).astype(np.uint8) for _ in range(20)]
    assert gate.moved(noisy[0])  # the first frame is looked at
    assert not any(gate.moved(frame) for frame in noisy[1:])
    face = cv2.resize(data.astronaut()[20:150, 135:235], (14, 18))  # a face 14 px wide in 640
    moving = noisy[0].copy()
    moving[200:218, 300:314] = face
    assert gate.moved(moving)
