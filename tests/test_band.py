"""Detection where the faces are: on video, most detections look at the band of rows where faces were seen,
every FULL_EVERY-th at the whole frame; the band is detected at the whole frame's scale."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from maskwatch.core.frame import Frame
from maskwatch.evaluation.detection import iou
from maskwatch.video import band
from maskwatch.video.analysis import VideoAnalyzer
from maskwatch.video.band import FULL_EVERY, WHOLE, FaceBand, Look
from maskwatch.vision import centerface
from maskwatch.vision.detector import load_detector
from maskwatch.vision.pipeline import MaskDetector

HEAD = data.astronaut()[0:260, 90:330]


def _head(width: int) -> np.ndarray:
    return cv2.resize(HEAD, (width, round(width * 260 / 240)), interpolation=cv2.INTER_AREA)


def test_the_band_follows_the_faces_and_the_whole_frame_comes_back() -> None:
    looks = FaceBand()
    face = (100.0, 200.0, 130.0, 240.0)  # 40 rows high, in a frame of 800
    assert looks.look(800, [face]) == WHOLE  # the first detection of a video is of the whole frame, at every size
    looks.saw(WHOLE, [face])
    # 2 face heights above and below (120-320), out to eighths of the frame (100 rows each); faces from half to
    # twice the size seen
    assert [looks.look(800, []) for _ in range(FULL_EVERY - 1)] == [Look((100, 400), (20.0, 80.0))] * (FULL_EVERY - 1)
    assert looks.look(800, []) == WHOLE  # every FULL_EVERY-th: the whole frame
    looks.saw(WHOLE, [])
    assert looks.look(800, []) == WHOLE  # nobody seen or followed: faces may come anywhere, at any size
    assert looks.look(800, [face], whole=True) == WHOLE
    # the band would be most of the frame: all rows, at the sizes of the faces followed
    assert looks.look(800, [face, (0.0, 650.0, 30.0, 690.0)]) == Look(None, (20.0, 80.0))
    top = FaceBand()
    assert top.look(800, []) == WHOLE
    assert top.look(800, [(0.0, 0.0, 30.0, 40.0)]).rows == (0, 200)  # never above the frame


def _portrait_with_two_faces() -> np.ndarray:
    frame = np.full((1000, 400, 3), 120, np.uint8)
    frame[100:208, 100:200] = _head(100)
    frame[700:808, 200:300] = _head(100)
    return frame


def _close(a: tuple, b: tuple, side: float) -> bool:
    """Boxes within 3% of the face's size: the runtime's arithmetic (bfloat16 on some CPUs) rounds differently
    for inputs of other shapes."""
    return max(abs(x - y) for x, y in zip(a, b, strict=True)) <= 0.03 * side


def test_a_band_is_detected_at_the_whole_frames_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    # a portrait frame (1000 rows): `accurate` caps its long side at 2048 px, so a 300-row band detected on its
    # own would be upscaled 2.5x, the whole frame 2.048x
    frame = _portrait_with_two_faces()
    preset = MaskDetector("accurate").settings
    detector = load_detector(threshold=preset.face_threshold, scale=preset.scale, max_side=preset.max_side)
    whole = detector.detect(frame)
    factors = []
    resize = centerface.resize
    monkeypatch.setattr(centerface, "resize", lambda image, f: factors.append(f) or resize(image, f))
    [lower] = detector.detect(frame, (600, 900))
    assert factors == [pytest.approx(2048 / 1000)]
    assert len(whole) == 2 and _close(lower.box, max(whole, key=lambda f: f.box[1]).box, lower.side)
    x1, y1, x2, y2 = lower.box
    assert all(x1 <= x <= x2 and y1 <= y <= y2 for x, y in lower.landmarks)  # in the frame's pixels too
    assert detector.detect(frame, (300, 600)) == []


def test_faces_of_known_sizes_are_detected_at_the_scale_they_need(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = _portrait_with_two_faces()  # faces of about 47 px
    detector = MaskDetector("accurate").detector
    whole = detector.detect(frame)
    factors = []
    resize = centerface.resize
    monkeypatch.setattr(centerface, "resize", lambda image, f: factors.append(f) or resize(image, f))
    # faces of 64-128 px need no 2.048x: the smallest at FOLLOWED_FACE (64 px) of input is 1x
    [lower] = detector.detect(frame, (600, 900), sizes=(64.0, 128.0))
    assert factors == [1.0]
    assert iou(lower.box, max(whole, key=lambda f: f.box[1]).box)[0, 0] >= 0.8


def _walk_in(frames: int = 30, enters: int = 10) -> list[Frame]:
    """A face in the top rows all along; a second one far below from frame `enters` on."""
    out = []
    for i in range(frames):
        image = np.full((480, 640, 3), 90, np.uint8)
        image[20:74, 100:150] = _head(50)
        if i >= enters:
            image[400:454, 400:450] = _head(50)
        out.append(Frame(image, "walk_in", i, i / 15, Path("walk_in"), 15.0, True))
    return out


def _first_below(steps: list) -> int:
    """The first frame with the lower face in it."""
    return next(step.frame.index for step in steps if any(face.box[1] > 300 for face in step.faces))


def test_a_face_that_comes_in_outside_the_band_is_found_at_the_next_whole_frame_detection(
        monkeypatch: pytest.MonkeyPatch) -> None:
    detector = MaskDetector("fast")
    calls = []
    detect = detector.detector.detect
    detector.detector.detect = lambda image, rows=None, sizes=None: calls.append(rows) or detect(image, rows, sizes)
    analyzer = VideoAnalyzer(detector, detect_every=2)
    steps = [step for frame in _walk_in() for step in analyzer.push(frame)] + analyzer.finish()
    # detections on frames 0, 2, 4, ...: the whole frame on the 1st, 5th, 9th (frames 0, 8, 16)
    assert [rows is None for rows in calls[:9]] == [True, False, False, False, True, False, False, False, True]
    assert all(rows == (0, 120) for rows in calls[1:4])  # the top face (rows 35-57) and 2 heights around, in eighths
    assert _first_below(steps) == 16  # came in at frame 10, in no band until the whole frame was looked at again
    assert all(any(face.box[1] < 100 for face in step.faces) for step in steps)  # the top face all along
    monkeypatch.setattr(band, "FULL_EVERY", 1)  # every detection of the whole frame: found when it comes in
    analyzer = VideoAnalyzer(detector, detect_every=2)
    steps = [step for frame in _walk_in() for step in analyzer.push(frame)] + analyzer.finish()
    assert _first_below(steps) == 10
