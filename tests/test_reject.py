"""The reject class: a classifier that can say not_a_face, its operating point, and what detect makes of it (the
state unknown, no evidence for a person's state); and a face of no person is unknown in video."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from maskwatch.commands import main
from maskwatch.core.classes import INCORRECT, NOT_A_FACE, UNKNOWN, WITH_MASK, WITHOUT_MASK
from maskwatch.core.faces import Face
from maskwatch.video.analysis import faces_only
from maskwatch.video.persons import DEFAULT_SETTINGS, Person
from maskwatch.vision.classifier import Labels, MaskClassifier, read_labels
from maskwatch.vision.judge import DEFAULT_RULE


def test_a_class_with_a_threshold_is_said_exactly_where_its_probability_reaches_it() -> None:
    rare = Labels([INCORRECT, WITH_MASK, WITHOUT_MASK], {INCORRECT: 0.3})  # ranked well, seldom first
    probs = np.array([[0.31, 0.60, 0.09],    # worn wrong, though worn right is more probable
                      [0.29, 0.60, 0.11],    # under its threshold: the most probable of the others
                      [0.10, 0.20, 0.70]])
    assert rare.decide(probs).tolist() == [0, 1, 2]
    sure = Labels([INCORRECT, WITH_MASK, WITHOUT_MASK], {INCORRECT: 0.85})  # said only where sure
    probs = np.array([[0.80, 0.05, 0.15], [0.90, 0.05, 0.05]])
    assert sure.decide(probs).tolist() == [2, 0]
    assert Labels([INCORRECT, WITH_MASK, WITHOUT_MASK]).decide(probs).tolist() == [0, 0]  # no threshold: argmax


def test_labels_json_may_carry_operating_points(tmp_path: Path) -> None:
    model = tmp_path / "model.tflite"
    (tmp_path / "labels.json").write_text(json.dumps({"labels": [INCORRECT, WITH_MASK, WITHOUT_MASK],
                                                      "thresholds": {INCORRECT: 0.3}}))
    assert read_labels(model) == Labels([INCORRECT, WITH_MASK, WITHOUT_MASK], {INCORRECT: 0.3})
    (tmp_path / "labels.json").write_text(json.dumps([WITH_MASK, WITHOUT_MASK]))  # as models have always had it
    assert read_labels(model) == Labels([WITH_MASK, WITHOUT_MASK])
    for bad in ({"labels": [WITH_MASK, WITHOUT_MASK], "thresholds": {INCORRECT: 0.3}},  # not a class of the model
                {"labels": [WITH_MASK, WITHOUT_MASK], "thresholds": {WITH_MASK: 1.5}}):
        (tmp_path / "labels.json").write_text(json.dumps(bad))
        with pytest.raises(ValueError, match="thresholds"):
            read_labels(model)


def test_what_is_not_a_face_is_unknown_and_no_evidence_for_a_person() -> None:
    rejected = Face((0, 0, 60, 60), 0.9, NOT_A_FACE, 0.99, {NOT_A_FACE: 0.99, WITH_MASK: 0.01}, frontal=0.45)
    assert DEFAULT_RULE.state(rejected) == UNKNOWN
    person = Person(1, rejected.box, rejected.box, 0, 0, 0.0, 0.9)
    masked = Face((0, 0, 60, 60), 0.9, WITH_MASK, 0.99, {WITH_MASK: 0.99}, state=WITH_MASK, frontal=0.45)
    for face in (masked, masked, rejected, rejected, masked):  # rejected frames neither count nor break the run
        person.observe(face, DEFAULT_SETTINGS)
    assert person.state == WITH_MASK


def test_what_is_not_a_face_is_left_out_unless_it_is_a_persons() -> None:
    junk = Face((0, 0, 60, 60), 0.2, NOT_A_FACE, 0.95, state=UNKNOWN)
    turned = replace(junk, person=3, state=WITH_MASK)  # a person's face that looked like none on this frame
    face = Face((100, 0, 160, 60), 0.8, WITHOUT_MASK, 0.99, state=WITHOUT_MASK)
    assert faces_only([junk, turned, face]) == [turned, face]
    assert faces_only([junk, turned, face], ghosts={1}) == [face]  # a box carried onto a cut: the face left it


def _texture(seed: int) -> np.ndarray:
    """A crop of a photo with no face in it, at a random place and size."""
    rng = np.random.default_rng(seed)
    photo = data.coffee() if seed % 2 else data.chelsea()
    side = int(rng.integers(60, 200))
    y, x = rng.integers(0, photo.shape[0] - side), rng.integers(0, photo.shape[1] - side)
    return np.ascontiguousarray(photo[y:y + side, x:x + side])


def test_a_model_trained_with_not_a_face_examples_says_what_it_rejects(tiny_dataset, tmp_path) -> None:
    mined = tmp_path / "mined" / NOT_A_FACE
    mined.mkdir(parents=True)
    for i in range(20):
        cv2.imwrite(str(mined / f"{i:02d}.jpg"), cv2.cvtColor(_texture(i), cv2.COLOR_RGB2BGR))
    data_dir = tmp_path / "faces"
    shutil.copytree(tiny_dataset, data_dir)
    out = tmp_path / "run"
    assert main(["train", str(data_dir), str(mined.parent), "--out", str(out), "--epochs", "1", "--fine-tune-epochs",
                 "0", "--image-size", "32", "--blocks", "2", "--batch-size", "8"]) == 0
    assert json.loads((out / "labels.json").read_text()) == [NOT_A_FACE, WITH_MASK, WITHOUT_MASK]
    report = json.loads((out / "report.json").read_text())
    effect = report["reject"][NOT_A_FACE]["test"]
    assert set(effect["faces_rejected"]) == {"faces"} and effect["not_faces"] > 0
    assert 0 <= effect["not_faces_caught"] <= 1
    classifier = MaskClassifier(out / "model.tflite")
    [face] = classifier.classify(_texture(99), [Face((0, 0, 60, 60), 0.5)])
    assert set(face.probs) == {NOT_A_FACE, WITH_MASK, WITHOUT_MASK}


def test_a_face_that_is_no_persons_yet_is_unknown_in_video(tmp_path: Path) -> None:
    import maskwatch

    clip = tmp_path / "arrives.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (320, 240))
    head = cv2.resize(data.astronaut()[0:260, 90:330], (100, 108), interpolation=cv2.INTER_AREA)
    for i in range(12):
        frame = np.full((240, 320, 3), 100, np.uint8)
        if i >= 5:  # arrives at frame 5: one detection is not yet a person
            frame[60:168, 100:200] = head
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    steps = list(maskwatch.track(clip, detect_every=1))
    arrival = steps[5].faces
    assert arrival and all(face.person is None and face.state == UNKNOWN for face in arrival)
    assert arrival[0].label == WITHOUT_MASK and arrival[0].confidence > 0.9  # sure of its label, yet no verdict
    later = [face for step in steps[7:] for face in step.faces]
    assert later and all(face.person is not None for face in later)
