"""`maskwatch bench` runs every workload on real models and reports consistent numbers (not their size:
speed targets are checked by reading the benchmark, never by a timed test)."""

from __future__ import annotations

import json

import cv2
from skimage import data

from maskwatch.bench import STAGES, webcam_frames
from maskwatch.cli import main
from maskwatch.io.images import decode_image
from maskwatch.vision.classifier import runtime_choice
from maskwatch.vision.detector import CenterFace
from maskwatch.vision.pipeline import MaskDetector
from maskwatch.vision.runtimes import openvino_bf16


def test_webcam_clip_shows_one_then_two_then_three_faces():
    frames = [decode_image(blob) for blob in webcam_frames(6)]
    assert all(frame.shape == (480, 640, 3) for frame in frames)
    assert [len(CenterFace(max_side=640).detect(frame)) for frame in frames] == [1, 1, 2, 2, 3, 3]


def test_bench_reports_every_workload(tmp_path, capsys):
    for name in ("astronaut", "coffee"):
        cv2.imwrite(str(tmp_path / f"{name}.jpg"), cv2.cvtColor(getattr(data, name)(), cv2.COLOR_RGB2BGR))
    assert main(["bench", "--frames", "6", "--scenes", str(tmp_path), "--repeat", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    webcam, scenes = report["webcam_640x480_fast"], report["scenes_accurate"]
    assert webcam["frames"] == 6 and webcam["faces_per_frame"] == 2.0
    assert scenes["frames"] == 2 and scenes["faces_per_frame"] == 0.5
    for workload in (webcam, scenes):
        assert all(workload["ms"][stage] > 0 for stage in STAGES)
        assert workload["fps_sequential"] > 0 and workload["fps_overlapped"] > 0
    assert webcam["fps_overlapped_tracked"] > 0
    keras = report["classifier_vs_keras"]
    assert keras["faces"] == 12
    assert keras["speedup"] > 1  # maskwatch on the same crops must beat Keras predict per frame
    # the runtime measured faster on this machine (or LiteRT where OpenVINO cannot run), and why
    chosen = runtime_choice(str(MaskDetector("accurate").classifier.path.resolve()))
    assert (report["runtimes"]["classifier"], report["runtimes"]["classifier_why"]) == (chosen.runtime, chosen.why)
    assert len(report["video_1280x720_accurate"]["detect_every"]) == 8
    if openvino_bf16():  # both runtimes timed on the same frames and crops
        compared = report["openvino_vs_defaults"]
        assert min(compared["detect_ms"].values()) > 0 and min(compared["classify_ms_per_face"].values()) > 0
    else:
        assert "openvino_vs_defaults" not in report
