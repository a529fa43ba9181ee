"""`maskwatch bench` keeps its promises: every workload is there with the frames and faces its input holds,
each fps and ratio it prints is what its own timings give, and both runtimes are timed side by side. Never
how fast this CPU is: speed targets are checked by reading the benchmark, not by a timed test."""

from __future__ import annotations

import contextlib
import io
import json
import re
import sys

import cv2
import pytest
from skimage import data

from maskwatch.commands import main
from maskwatch.commands.bench import STAGES, format_bench, webcam_frames
from maskwatch.io.images import decode_image
from maskwatch.vision.centerface import CenterFace
from maskwatch.vision.classifier import runtime_choice
from maskwatch.vision.pipeline import MaskDetector
from maskwatch.vision.runtimes import openvino_bf16
from tests.services import door_clip

FRAMES = 6
EVERIES = [1, 2, 3, 4, 6, 8, 10, 12]  # the points of a detection-every-N curve
HALF = {1: 0.05, 2: 0.005}  # half the last digit of a number rounded to 1 or 2 decimals


def heads(frames: int) -> list[int]:
    """The heads in each of webcam_frames(frames): 1, then 2, then 3."""
    return [min(3, 1 + 3 * i // frames) for i in range(frames)]


def ratio_of(ratio: float, top: float, bottom: float, digits: int = 1, inputs: int = 2) -> bool:
    """Whether `ratio` (rounded to `digits`) is top / bottom, each rounded to `inputs` decimals."""
    e = HALF[inputs]
    return (top - e) / (bottom + e) - HALF[digits] <= ratio <= (top + e) / (bottom - e) + HALF[digits]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One `bench --json` on two scene photos (the astronaut: one face; coffee: none) and a door clip."""
    folder = tmp_path_factory.mktemp("bench")
    scenes = folder / "scenes"
    scenes.mkdir()
    for name in ("astronaut", "coffee"):
        cv2.imwrite(str(scenes / f"{name}.jpg"), cv2.cvtColor(getattr(data, name)(), cv2.COLOR_RGB2BGR))
    clip = door_clip(folder / "door.mp4", size=(384, 288))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["bench", "--frames", str(FRAMES), "--scenes", str(scenes), "--clip", str(clip),
                     "--repeat", "2", "--json"])
    assert code == 0
    return json.loads(out.getvalue()), clip


def test_webcam_clip_shows_one_then_two_then_three_faces():
    frames = [decode_image(blob) for blob in webcam_frames(FRAMES)]
    assert all(frame.shape == (480, 640, 3) for frame in frames)
    assert [len(CenterFace(max_side=640).detect(frame)) for frame in frames] == heads(FRAMES)


def test_bench_counts_the_frames_and_faces_its_inputs_hold(run):
    report, clip = run
    assert list(report) == ["webcam_640x480_fast", "scenes_accurate", "video_1280x720_accurate", f"clip {clip.name}",
                            "classifier_vs_keras", "runtimes", *(["openvino_vs_defaults"] if openvino_bf16() else [])]
    webcam, scenes, video = report["webcam_640x480_fast"], report["scenes_accurate"], report["video_1280x720_accurate"]
    assert (webcam["frames"], webcam["faces_per_frame"]) == (FRAMES, sum(heads(FRAMES)) / FRAMES)
    assert (scenes["frames"], scenes["faces_per_frame"]) == (2, 0.5)  # one face on two photos
    assert (video["frames"], video["faces_per_frame"]) == (max(1, FRAMES // 4), 1.0)  # the two photos tiled
    assert report["classifier_vs_keras"]["faces"] == sum(heads(FRAMES))  # the webcam frames' faces, once each
    for name in ("video_1280x720_accurate", f"clip {clip.name}"):
        curve = report[name]["detect_every"]
        assert [point["detect_every"] for point in curve] == EVERIES
        assert curve[0]["faces_kept"] == 1.0  # N=1 is the reference
        assert all(0 < point["faces_kept"] <= 1 for point in curve)
        assert all(point["fps"] > 0 for point in curve)
    assert all(point["persons"] == 1 for point in video["detect_every"])  # the astronaut, whatever N


def test_bench_fps_and_ratios_are_those_of_its_own_timings(run):
    report, _ = run
    for name in ("webcam_640x480_fast", "scenes_accurate", "video_1280x720_accurate"):
        workload = report[name]
        assert set(workload["ms"]) == set(STAGES) and all(ms >= 0 for ms in workload["ms"].values())
        total = sum(workload["ms"].values())  # ms a frame, stages one after another; each rounded to 0.01
        slack = len(STAGES) * HALF[2]
        assert 1000 / (total + slack) - HALF[1] <= workload["fps_sequential"] <= 1000 / (total - slack) + HALF[1], name
        per_frame = workload["ms"]["classify"] / workload["faces_per_frame"]
        assert abs(workload["ms_per_face_classify"] - per_frame) <= 0.005 + 0.005 / workload["faces_per_frame"], name
    assert report["webcam_640x480_fast"]["fps_overlapped_tracked"] > 0
    keras = report["classifier_vs_keras"]
    assert ratio_of(keras["speedup"], keras["keras_predict_ms_per_face"], keras["maskwatch_ms_per_face"])
    assert keras["speedup"] > 1  # maskwatch on the same crops must beat Keras predict per frame
    # the runtime measured faster on this machine (or LiteRT where OpenVINO cannot run), and why
    chosen = runtime_choice(str(MaskDetector("accurate").classifier.path.resolve()))
    assert (report["runtimes"]["classifier"], report["runtimes"]["classifier_why"]) == (chosen.runtime, chosen.why)
    assert keras["runtime"] == chosen.runtime
    if openvino_bf16():  # both runtimes timed on the same frames and crops
        compared = report["openvino_vs_defaults"]
        detect, classify = compared["detect_ms"], compared["classify_ms_per_face"]
        assert set(detect) == {"openvino", "onnxruntime"} and set(classify) == {"openvino", "litert"}
        assert min(detect.values()) > 0 and min(classify.values()) > 0
        assert ratio_of(compared["detect_speedup"], detect["onnxruntime"], detect["openvino"], digits=2)
        assert ratio_of(compared["classify_speedup"], classify["litert"], classify["openvino"], digits=2)


def test_bench_prints_the_numbers_it_measured(run, monkeypatch, capsys):
    report, clip = run
    bench = sys.modules[format_bench.__module__]  # the module the command takes run_bench and format_bench from
    monkeypatch.setattr(bench, "run_bench", lambda *args: json.loads(json.dumps(report)))
    assert main(["bench", "--frames", str(FRAMES), "--clip", str(clip)]) == 0
    text = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line.split()}
    for name in ("webcam_640x480_fast", "scenes_accurate", "video_1280x720_accurate"):
        w = report[name]
        assert rows[name][:7] == [str(v) for v in (w["faces_per_frame"], *(w["ms"][s] for s in STAGES),
                                                    w["ms_per_face_classify"], w["fps_sequential"])], name
    for name in ("video_1280x720_accurate", f"clip {clip.name}"):
        line = next(line for line in text.splitlines() if line.startswith(f"{name}, detection every N"))
        points = re.findall(r"(\d+): ([\d.]+) fps / ([\d.]+%) kept", line)
        assert points == [(str(p["detect_every"]), str(p["fps"]), f"{p['faces_kept']:.1%}")
                          for p in report[name]["detect_every"]]
    keras = re.search(r"classifier on (\d+) faces: maskwatch \((\w+)\) ([\d.]+) ms/face, "
                      r"Keras predict per frame ([\d.]+) ms/face -> ([\d.]+)x faster", text)
    faces, runtime, ours, theirs, speedup = keras.groups()
    assert (int(faces), runtime) == (sum(heads(FRAMES)), report["runtimes"]["classifier"])
    assert ratio_of(float(speedup), float(theirs), float(ours))
    side_by_side = re.search(r"detection ([\d.]+) vs ([\d.]+) ms/frame \(([\d.]+)x\); "
                             r"classifier against LiteRT ([\d.]+) vs ([\d.]+) ms/face \(([\d.]+)x\)", text)
    if openvino_bf16():
        openvino, onnxruntime, detect_x, openvino_c, litert, classify_x = map(float, side_by_side.groups())
        assert ratio_of(detect_x, onnxruntime, openvino, digits=2)
        assert ratio_of(classify_x, litert, openvino_c, digits=2)
    else:
        assert side_by_side is None
