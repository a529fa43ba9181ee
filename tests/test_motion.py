"""Boxes carried between detections follow the picture (`video/motion.py`)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from maskwatch.core.frame import Frame
from maskwatch.evaluation.detection import iou
from maskwatch.video.analysis import VideoAnalyzer
from maskwatch.video.motion import MotionFollower, nanmedian
from maskwatch.vision.pipeline import MaskDetector

FACE = (180, 60, 270, 175)  # the astronaut's face in her photo


def _shifted(dx: int, dy: int) -> np.ndarray:
    return np.roll(data.astronaut(), (dy, dx), axis=(0, 1))


@pytest.mark.parametrize(("dx", "dy"), [(6, -4), (-15, 9), (0, 0)])
def test_each_box_moves_as_the_picture_under_it_moved(dx, dy) -> None:
    follower = MotionFollower()
    follower.see(_shifted(0, 0))
    follower.see(_shifted(dx, dy))
    boxes = [FACE, (300, 300, 340, 350)]
    for box, moved in zip(boxes, follower.follow(boxes), strict=True):
        assert moved is not None and np.allclose(moved, np.add(box, (dx, dy, dx, dy)), atol=0.6)


def test_a_face_coming_closer_grows_with_the_picture() -> None:
    """The photo zoomed by 6% about the face's centre: the box keeps its centre and grows by 6%."""
    image = data.astronaut()
    cx, cy = (FACE[0] + FACE[2]) / 2, (FACE[1] + FACE[3]) / 2
    zoom = cv2.getRotationMatrix2D((cx, cy), 0, 1.06)
    follower = MotionFollower()
    follower.see(image)
    follower.see(cv2.warpAffine(image, zoom, image.shape[1::-1]))
    [moved] = follower.follow([FACE])
    half_w, half_h = 1.06 * (FACE[2] - FACE[0]) / 2, 1.06 * (FACE[3] - FACE[1]) / 2
    assert moved is not None and np.allclose(moved, (cx - half_w, cy - half_h, cx + half_w, cy + half_h), atol=1.5)


def test_a_blank_picture_or_no_previous_frame_says_nothing() -> None:
    follower = MotionFollower()
    follower.see(_shifted(0, 0))
    assert follower.follow([FACE]) == [None]  # one frame: nothing to compare with
    blank = np.full((512, 512, 3), 90, np.uint8)
    follower.see(blank)
    follower.see(blank)
    assert follower.follow([FACE]) == [None]
    assert follower.follow([]) == []
    off = MotionFollower(enabled=False)
    off.see(_shifted(0, 0))
    off.see(_shifted(5, 0))
    assert off.follow([FACE]) == [None]


def test_a_face_that_turns_back_between_detections_is_not_lost() -> None:
    """The astronaut runs right 8 px a frame, then left: a box carried at her recent speed would run on
    past her; one that follows the picture stays on her face until the next detection."""
    detector = MaskDetector("fast")
    path = [0, 8, 16, 24, 32, 40, 48, 56, 64, 56, 48, 40, 32, 24, 16, 8]
    frames = [Frame(_shifted(x, 0), "turn.mp4", i, i / 25, Path("turn.mp4"), 25.0, True) for i, x in enumerate(path)]
    analyzer = VideoAnalyzer(detector, detect_every=8)
    steps = [s for f in frames for s in analyzer.push(f)] + analyzer.finish()
    for step, x in zip(steps, path, strict=True):
        truth = np.array([[FACE[0] + x, FACE[1], FACE[2] + x, FACE[3]]], float)
        [face] = step.faces
        assert iou(truth, np.array([face.box]))[0, 0] >= 0.6, f"frame {step.frame.index}"


def test_a_face_that_walks_further_than_its_width_between_detections_becomes_one_person() -> None:
    """The astronaut crosses a wide picture at 40 px a frame, detected every 4th frame: her face (90 px
    wide) is 160 px further on at each detection. Matched through the carried boxes, she is one person
    from the second detection on; matched detection to detection, she would never become one."""
    canvas = np.full((512, 1800, 3), 120, np.uint8)
    detector = MaskDetector("fast")
    frames = []
    for i in range(16):
        image = canvas.copy()
        image[:, 40 * i:40 * i + 512] = data.astronaut()
        frames.append(Frame(image, "walk.mp4", i, i / 25, Path("walk.mp4"), 25.0, True))
    analyzer = VideoAnalyzer(detector, detect_every=4)
    steps = [s for f in frames for s in analyzer.push(f)] + analyzer.finish()
    assert {face.person for step in steps[4:] for face in step.faces} == {1}
    assert [e.kind for step in steps for e in step.events] == ["person_appeared", "person_left"]


def test_nanmedian_is_numpys() -> None:
    rng = np.random.default_rng(0)
    for shape in [(7, 16), (5, 16, 2), (3, 120), (1, 1)]:
        values = rng.normal(size=shape)
        values[rng.random(shape) < 0.4] = np.nan
        values[0] = rng.normal(size=shape[1:])  # one row without NaNs
        assert np.allclose(nanmedian(values), np.nanmedian(values, axis=1), equal_nan=True)
