"""Boxes carried between detections follow the picture (`video/motion.py`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from skimage import data

from maskwatch.evaluation.scene_metrics import iou
from maskwatch.io.sources import Frame
from maskwatch.video.analysis import VideoAnalyzer
from maskwatch.video.motion import MotionFollower
from maskwatch.vision.pipeline import MaskDetector

FACE = (180, 60, 270, 175)  # the astronaut's face in her photo


def _shifted(dx: int, dy: int) -> np.ndarray:
    return np.roll(data.astronaut(), (dy, dx), axis=(0, 1))


@pytest.mark.parametrize(("dx", "dy"), [(6, -4), (-15, 9), (0, 0)])
def test_each_box_moves_as_the_picture_under_it_moved(dx, dy) -> None:
    follower = MotionFollower()
    follower.see(_shifted(0, 0))
    follower.see(_shifted(dx, dy))
    shifts = follower.shifts([FACE, (300, 300, 340, 350)])
    for shift in shifts:
        assert shift is not None and np.allclose(shift, (dx, dy), atol=0.5)


def test_a_blank_picture_or_no_previous_frame_says_nothing() -> None:
    follower = MotionFollower()
    follower.see(_shifted(0, 0))
    assert follower.shifts([FACE]) == [None]  # one frame: nothing to compare with
    blank = np.full((512, 512, 3), 90, np.uint8)
    follower.see(blank)
    follower.see(blank)
    assert follower.shifts([FACE]) == [None]
    assert follower.shifts([]) == []
    off = MotionFollower(enabled=False)
    off.see(_shifted(0, 0))
    off.see(_shifted(5, 0))
    assert off.shifts([FACE]) == [None]


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
