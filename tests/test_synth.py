"""`maskwatch synth`: masks placed by the landmarks, right over the nose and wrong below it or on the chin."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
from skimage import data

import maskwatch.commands
from maskwatch.training.synth import faces_with_landmarks, mask_polygon
from maskwatch.vision.centerface import CenterFace


def test_mask_positions_follow_the_landmarks() -> None:
    face = faces_with_landmarks(data.astronaut(), CenterFace())
    assert face is not None and len(face.landmarks) == 5
    nose_y = face.landmarks[2][1]
    mouth_y = (face.landmarks[3][1] + face.landmarks[4][1]) / 2
    tops = {position: mask_polygon(face, position, "cloth")[:2, 1].mean()
            for position in ("right", "under_nose", "on_chin")}
    assert tops["right"] < nose_y < tops["under_nose"] < mouth_y < tops["on_chin"]
    assert all(mask_polygon(face, p, "surgical")[:, 1].max() > mouth_y for p in tops)  # down to the chin


def test_synth_writes_both_classes_and_a_manifest_of_sources(tmp_path: Path, capsys) -> None:
    faces = tmp_path / "bare"
    faces.mkdir()
    cv2.imwrite(str(faces / "astronaut.jpg"), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(faces / "coffee.jpg"), cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR))  # no face
    out = tmp_path / "synth"
    assert maskwatch.commands.main(["synth", str(faces), "--out", str(out), "--per-face", "2"]) == 0
    assert "1 photos had no face" in capsys.readouterr().out
    rows = [r for r in csv.DictReader((out / "manifest.csv").open()) if r["class"]]
    assert sorted(r["class"] for r in rows) == ["mask_weared_incorrect"] * 2 + ["with_mask"] * 2
    assert {r["position"] for r in rows} == {"right", "under_nose", "on_chin"}
    assert {r["source"] for r in rows} == {str(faces / "astronaut.jpg")}
    for row in rows:
        image = cv2.imread(str(out / row["file"]))
        assert image.shape == (256, 256, 3) and np.std(image) > 10
    assert maskwatch.commands.main(["synth", str(tmp_path / "none"), "--out", str(out)]) == 2


def test_recolour_changes_the_blue_mask_and_nothing_else() -> None:
    from maskwatch.training.synth import mask_region, recolour

    image = np.ascontiguousarray(data.astronaut())
    image[130:230, 160:290] = (100, 150, 220)  # a light-blue "mask" over the mouth and chin
    region = mask_region(image)
    assert region[180, 225] > 0.9 and region[40, 40] < 0.1
    rng = np.random.default_rng(3)
    copies = [recolour(image, rng) for _ in range(6)]
    assert all(np.array_equal(copy[:100], image[:100]) for copy in copies)  # above the mask: untouched
    assert len({tuple(copy[180, 225]) for copy in copies}) > 3  # the mask: other colours each time
    assert recolour(np.full((64, 64, 3), 128, np.uint8), rng) is None  # no blue mask: no copy
