"""The frame loop of `detect` and `bench`, and the classifier each preset picks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from skimage import data

from maskwatch.io.sources import Frame
from maskwatch.vision.pipeline import MaskDetector

from .conftest import masked


def _clip(source: str, count: int, is_video: bool = True) -> list[Frame]:
    """The astronaut drifting right, her face masked on odd frames, so labels change along the clip."""
    photo = data.astronaut()
    frames = []
    for i in range(count):
        image = np.roll(photo, 4 * i, axis=1)
        if i % 2:
            image[60:175, 180 + 4 * i:270 + 4 * i] = masked(image[60:175, 180 + 4 * i:270 + 4 * i])
        frames.append(Frame(image, source, i, i / 25, Path(source), 25.0 if is_video else None, is_video))
    return frames


@pytest.mark.parametrize("track", [True, False])
def test_frames_match_one_call_per_frame(track: bool) -> None:
    frames = _clip("a.mp4", 6) + _clip("b.mp4", 4) + _clip("still.jpg", 1, is_video=False)
    reference = MaskDetector("fast")
    expected, previous = [], None
    for frame in frames:
        if frame.source != previous:
            reference.new_video()
            previous = frame.source
        expected.append(reference(frame.image, track=track and frame.is_video))

    got = list(MaskDetector("fast").frames(frames, track=track))

    assert [(f.source, f.index) for f, _ in got] == [(f.source, f.index) for f in frames]
    assert [[(face.box, face.label) for face in faces] for _, faces in got] == \
        [[(face.box, face.label) for face in faces] for faces in expected]
    for (_, faces), wanted in zip(got, expected, strict=True):
        for face, other in zip(faces, wanted, strict=True):
            assert face.probs == pytest.approx(other.probs, abs=1e-5)
    if not track:  # tracked labels are smoothed over frames, so the alternating mask need not win
        assert {face.label for _, faces in got for face in faces} == {"with_mask", "without_mask"}


def test_each_preset_uses_its_shipped_classifier_unless_told_otherwise() -> None:
    assert MaskDetector("fast").classifier.path.name == "mask_classifier_fast.tflite"
    assert MaskDetector("fast").classifier.image_size == 88
    accurate = MaskDetector("accurate")
    assert accurate.classifier.path.name == "mask_classifier.tflite" and accurate.classifier.image_size == 128
    assert MaskDetector("fast", model=accurate.classifier.path).classifier.image_size == 128
