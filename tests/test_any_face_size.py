"""Faces of any size with the same defaults: a coarse pass for close-ups beside the fine one for crowds, each
answering for its band of sizes, merged; and on video only the passes the followed faces' sizes need."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from maskwatch.core.faces import Face
from maskwatch.vision.detector import load_detector
from maskwatch.vision.passes import GOOD_FACES, merge, pass_factors
from maskwatch.vision.pipeline import MaskDetector
from maskwatch.vision.presets import PRESETS


def _close_up() -> np.ndarray:
    """The astronaut's face filling a 700x660 photo (a selfie): about 500 px, more than CenterFace knows at 2x."""
    return np.ascontiguousarray(cv2.resize(data.astronaut(), None, fx=4, fy=4)[100:800, 560:1220])


def test_a_close_up_is_one_face_with_the_defaults() -> None:
    photo = _close_up()
    accurate = PRESETS["accurate"]
    [face] = MaskDetector("accurate").detector.detect(photo)
    assert face.side > 300
    # the fine pass alone, at 2.5x (capped at 2048 px), sees parts of the face as faces of their own
    fine_only = load_detector(threshold=0.25, scale=accurate.scale, max_side=accurate.max_side)
    assert all(part.side < 0.5 * face.side for part in fine_only.detect(photo))


def test_the_passes_over_a_picture() -> None:
    # a 720p frame: the fine pass capped at 2048 px (1.6x), the coarse one at 320 px (0.25x)
    assert pass_factors(720, 1280, 2.5, 2048, 320) == [0.25, 1.6]
    assert pass_factors(300, 400, 1.0, 480, None) == [1.0]  # no coarse pass (fast)
    assert pass_factors(200, 250, 2.5, 2048, 320) == [1.0, 2.5]  # never enlarged by the coarse pass
    assert pass_factors(120, 160, 1.2, 2048, 320) == [1.2]  # too close to the fine pass to be worth it
    # faces followed on video: only the passes their sizes need
    assert pass_factors(720, 1280, 2.5, 2048, 320, sizes=(300.0, 600.0)) == [0.25]  # close-ups: coarse only
    # large faces: one pass that makes the smallest 64 px (FOLLOWED_FACE) rather than 1.6x
    assert pass_factors(720, 1280, 2.5, 2048, 320, sizes=(150.0, 600.0)) == [pytest.approx(64 / 150)]
    assert pass_factors(720, 1280, 2.5, 2048, 320, sizes=(8.0, 60.0)) == [1.6]  # a crowd: the fine pass
    # small and large faces: both passes, the fine one eased
    assert pass_factors(720, 1280, 2.5, 2048, 320, sizes=(50.0, 400.0)) == [0.25, 1.28]


def _face(x: float, y: float, side: float, score: float) -> Face:
    return Face((x, y, x + side, y + side), score)


def test_each_pass_answers_for_its_band_of_sizes() -> None:
    high = GOOD_FACES[1]
    fine = [_face(10, 10, 20, 0.6),            # a small face: the fine pass's
            _face(300, 300, 150, 0.7)]         # 375 px at 2.5x, beyond what the fine pass answers for
    coarse = [_face(12, 12, 18, 0.4),          # the small face again, seen coarsely: not the coarse pass's to say
              _face(280, 280, 200, 0.5)]       # the large face
    kept = merge([coarse, fine], [1.0, 2.5])
    assert [face.box for face in kept] == [fine[0].box, coarse[1].box]
    assert 150 * 2.5 > high >= 20 * 2.5


def test_a_box_inside_a_surer_face_is_dropped() -> None:
    face = _face(100, 100, 200, 0.8)
    eye = _face(140, 130, 50, 0.5)  # the print of a mask, an eye: inside, at most half the size
    neighbour = _face(320, 100, 60, 0.9)
    assert merge([[face, eye, neighbour]], [1.0]) == [neighbour, face]
    assert eye in merge([[_face(100, 100, 200, 0.3), eye]], [1.0])  # a less sure outer box drops nothing


@pytest.mark.parametrize("preset", ["accurate", "fast"])
def test_the_astronaut_is_found_alike_at_any_preset(preset: str) -> None:
    [face] = MaskDetector(preset).detector.detect(data.astronaut())
    assert 80 < face.side < 200
