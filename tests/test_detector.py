"""Face detectors on real models and real images (no mocks)."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from maskwatch.detector import CenterFace, YuNet, load_detector

MASK_DETECT = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "mask-detect"
# Hand-checked face of skimage's astronaut (512x512): hairline to chin, ear to ear.
ASTRONAUT_FACE = (180.0, 60.0, 270.0, 175.0)


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, w) * max(0.0, h)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()


def test_astronaut_has_one_face(astronaut: np.ndarray) -> None:
    faces = CenterFace().detect(astronaut)
    assert len(faces) == 1
    assert iou(faces[0].box, ASTRONAUT_FACE) > 0.6
    assert faces[0].label is None and 0.5 < faces[0].score <= 1


def test_faceless_images_give_no_faces() -> None:
    detector = CenterFace()
    assert len(detector.detect(data.coffee())) <= 1
    assert detector.detect(np.full((480, 640, 3), 128, np.uint8)) == []


@pytest.mark.parametrize("scale", [0.5, 2.0])
def test_boxes_are_in_original_pixels_at_any_scale(astronaut: np.ndarray, scale: float) -> None:
    (ref,) = CenterFace().detect(astronaut)
    (face,) = CenterFace(scale=scale).detect(astronaut)
    assert np.allclose(face.box, ref.box, atol=8)


def test_max_side_caps_input_and_keeps_original_coordinates(astronaut: np.ndarray) -> None:
    (ref,) = CenterFace().detect(astronaut)
    (face,) = CenterFace(scale=2.0, max_side=256).detect(astronaut)
    assert np.allclose(face.box, ref.box, atol=8)


def test_odd_sizes_work(astronaut: np.ndarray) -> None:
    odd = np.zeros((333, 517, 3), np.uint8)
    odd[:, :512] = astronaut[:333]
    faces = CenterFace().detect(odd)
    assert len(faces) == 1 and iou(faces[0].box, ASTRONAUT_FACE) > 0.6
    assert all(0 <= v <= 517 for v in faces[0].box[::2]) and all(0 <= v <= 333 for v in faces[0].box[1::2])


@pytest.mark.parametrize(
    "image",
    [np.zeros((64, 64), np.uint8), np.zeros((64, 64, 4), np.uint8), np.zeros((64, 64, 3), np.float32)],
    ids=["gray", "rgba", "float"],
)
def test_non_rgb_uint8_input_is_rejected(image: np.ndarray) -> None:
    with pytest.raises(ValueError, match="RGB uint8"):
        CenterFace().detect(image)


def test_load_detector() -> None:
    assert isinstance(load_detector(), CenterFace)
    assert load_detector("centerface", threshold=0.7).threshold == 0.7
    with pytest.raises(FileNotFoundError):
        load_detector("/nonexistent/yunet.onnx")
    with pytest.raises(ValueError, match="unknown detector"):
        load_detector("retinaface")


@pytest.mark.skipif(
    not os.environ.get("MASKWATCH_YUNET_MODEL"), reason="set MASKWATCH_YUNET_MODEL to a YuNet .onnx file"
)
def test_yunet_finds_astronaut(astronaut: np.ndarray) -> None:
    detector = load_detector(os.environ["MASKWATCH_YUNET_MODEL"])
    assert isinstance(detector, YuNet)
    faces = detector.detect(astronaut)
    assert len(faces) == 1 and iou(faces[0].box, ASTRONAUT_FACE) > 0.5


def read_voc_boxes(xml_path: Path) -> list[tuple[int, int, int, int]]:
    """Face boxes of a Pascal VOC file; numbers are pulled out by regex since one file has stray text."""
    boxes = []
    for box in ET.parse(xml_path).getroot().iter("bndbox"):
        texts = [box.findtext(k, "") for k in ("xmin", "ymin", "xmax", "ymax")]
        boxes.append(tuple(int(float(re.search(r"-?\d+(?:\.\d+)?", t).group())) for t in texts))
    return boxes


@pytest.mark.skipif(not MASK_DETECT.is_dir(), reason=f"dataset absent: {MASK_DETECT}")
def test_recall_on_mask_detect() -> None:
    detector = CenterFace()
    matched = total = 0
    for xml_path in sorted((MASK_DETECT / "annotations").glob("*.xml"))[:30]:
        image = cv2.imread(str(MASK_DETECT / "images" / f"{xml_path.stem}.jpg"))
        faces = detector.detect(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        truth = read_voc_boxes(xml_path)
        total += len(truth)
        matched += sum(any(iou(t, f.box) >= 0.5 for f in faces) for t in truth)
    # Measured 0.715 (123 of 172 faces) at threshold 0.5, scale 1; many faces here are under 30 px.
    assert matched / total > 0.68
