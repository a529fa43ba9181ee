"""Labels carried across video frames: same faces keep (smoothed) labels, new faces are classified at once."""

from __future__ import annotations

from dataclasses import replace

import pytest
from skimage import data

from maskwatch.video.tracker import LabelTracker
from maskwatch.vision.classifier import MaskClassifier
from maskwatch.vision.detector import CenterFace


@pytest.fixture(scope="module")
def astronaut_and_face():
    image = data.astronaut()
    [face] = CenterFace().detect(image)
    return image, face


def shifted(face, dx):
    x1, y1, x2, y2 = face.box
    return replace(face, box=(x1 + dx, y1, x2 + dx, y2))


def test_a_face_in_view_is_reclassified_only_every_few_frames(astronaut_and_face):
    image, face = astronaut_and_face
    tracker = LabelTracker(MaskClassifier(), refresh=3)
    ages = []
    for frame in range(7):
        [labelled] = tracker(image, [shifted(face, frame)])
        ages.append(tracker.tracks[0].age)
        assert labelled.label == "without_mask" and labelled.box == shifted(face, frame).box
    assert ages == [0, 1, 2, 0, 1, 2, 0]


def test_a_new_face_is_classified_at_once_and_a_reset_forgets(astronaut_and_face):
    image, face = astronaut_and_face
    tracker = LabelTracker(MaskClassifier(), refresh=10)
    tracker(image, [face])
    tracker(image, [face])
    far = shifted(face, 250)
    tracker(image, [face, far])
    assert [t.age for t in tracker.tracks] == [2, 0]
    tracker.reset()
    tracker(image, [face])
    assert [t.age for t in tracker.tracks] == [0]


def test_refreshed_probabilities_are_smoothed(astronaut_and_face):
    image, face = astronaut_and_face
    classifier = MaskClassifier()
    tracker = LabelTracker(classifier, refresh=1, smoothing=0.5)
    first = tracker(image, [face])[0].probs["without_mask"]
    dark = (image * 0.3).astype(image.dtype)
    plain = classifier.classify(dark, [face])[0].probs["without_mask"]
    smoothed = tracker(dark, [face])[0].probs["without_mask"]
    assert smoothed == pytest.approx((first + plain) / 2, abs=1e-5)
