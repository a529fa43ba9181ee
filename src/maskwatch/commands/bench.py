"""`maskwatch bench`: per-stage milliseconds and frames per second, measured side by side in one run.

(a) 640x480 frames with 1-3 faces, as a webcam shows them (made from scikit-image's astronaut photo, so
the benchmark runs anywhere); (b) scene photos with many small faces (the held-out mask-detect scenes,
where ../shared is present, or any folder given); (c) the mask classifier as maskwatch runs it against the
origin's way, Keras `model.predict` on each frame's faces, on the same crops; (d) where the CPU computes in
bfloat16, the detector and classifier on OpenVINO against onnxruntime and LiteRT, on the same inputs.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from maskwatch.commands.options import needs_tensorflow, positive
from maskwatch.core.errors import InvalidInput
from maskwatch.io.annotate import draw
from maskwatch.io.images import decode_image
from maskwatch.vision.classifier import MaskClassifier
from maskwatch.vision.crops import face_crop
from maskwatch.vision.detector import load_detector
from maskwatch.vision.pipeline import MaskDetector
from maskwatch.vision.presets import PRESETS
from maskwatch.vision.runtimes import openvino_bf16

log = logging.getLogger(__name__)
STAGES = ("decode", "detect", "classify", "draw")
WARMUP_FRAMES = 8  # frames run before a timing: OpenVINO compiles its model for a size on the 3rd call at it


def webcam_frames(count: int = 60) -> list[bytes]:
    """JPEG-encoded 640x480 frames of a short clip: 1, then 2, then 3 copies of the astronaut's head
    (90-200 px tall) drifting across a blurred background, as a webcam would see people pass."""
    head = data.astronaut()[0:260, 90:330]
    background = cv2.GaussianBlur(cv2.resize(data.coffee(), (640, 480)), (0, 0), 8)
    heights = (200, 150, 110)
    frames = []
    for i in range(count):
        frame = background.copy()
        for slot in range(min(3, 1 + 3 * i // count)):
            height = heights[slot]
            width = height * head.shape[1] // head.shape[0]
            x = slot * 213 + (i * 2) % max(1, 213 - width)
            y = 40 + slot * 60
            frame[y:y + height, x:x + width] = cv2.resize(head, (width, height), interpolation=cv2.INTER_AREA)
        frames.append(cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))[1].tobytes())
    return frames


def time_stages(detector: MaskDetector, encoded: Sequence[bytes], warmup: int = 3) -> dict:
    """Mean ms per stage over the frames (after `warmup` untimed ones) and the resulting frame rate."""
    totals = dict.fromkeys(STAGES, 0.0)
    faces_seen = 0
    warm = list(encoded[:warmup])
    for i, blob in enumerate([*warm, *encoded]):
        t0 = time.perf_counter()
        image = decode_image(blob)
        t1 = time.perf_counter()
        faces = detector.detector.detect(image)
        t2 = time.perf_counter()
        faces = detector.classifier.classify(image, faces)
        t3 = time.perf_counter()
        draw(image, faces)
        t4 = time.perf_counter()
        if i >= len(warm):
            faces_seen += len(faces)
            for stage, seconds in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                totals[stage] += seconds
    n = len(encoded)
    ms = {stage: round(1000 * s / n, 2) for stage, s in totals.items()}
    total = sum(totals.values())
    return {"frames": n, "faces_per_frame": round(faces_seen / n, 2), "ms": ms,
            "ms_per_face_classify": round(1000 * totals["classify"] / max(faces_seen, 1), 2),
            "fps_sequential": round(n / total, 1)}


def time_overlapped(detector: MaskDetector, encoded: Sequence[bytes], track: bool = False,
                    detect_every: int = 1) -> float:
    """Frames per second of the whole loop as `detect` runs it: decoding one frame ahead in another thread
    and, with `track`, faces tracked into persons with states and events, detected on every
    `detect_every`-th frame (the preset's, as `detect` runs video). After a warm-up on the first frames:
    OpenVINO compiles a model for a size once it has come three times (200 ms, a third of a 60-frame run)."""
    from maskwatch.io.background import prefetch

    def run(blobs: Sequence[bytes]) -> None:
        if track:
            for _ in _tracked_steps(detector, blobs, detect_every):
                pass
        else:
            for image in prefetch(decode_image(blob) for blob in blobs):
                draw(image, detector(image))

    run(encoded[:WARMUP_FRAMES])
    started = time.perf_counter()
    run(encoded)
    return round(len(encoded) / (time.perf_counter() - started), 1)


def face_batches(detector: MaskDetector, encoded: Sequence[bytes]) -> list[np.ndarray]:
    """Each frame's face crops (frames with faces only), at the classifier's input size."""
    batches = []
    for blob in encoded:
        image = decode_image(blob)
        faces = detector.detector.detect(image)
        if faces:
            batches.append(np.stack([face_crop(image, f.box, detector.classifier.image_size) for f in faces]))
    return batches


def _ms_per_item(run, batches: Sequence) -> float:
    """Milliseconds per item (face or frame) of `run` over the batches, after one call to warm up."""
    run(batches[0])
    started = time.perf_counter()
    for batch in batches:
        run(batch)
    return round(1000 * (time.perf_counter() - started) / sum(map(len, batches)), 2)


def classifier_vs_keras(detector: MaskDetector, encoded: Sequence[bytes], keras_model: Path | None) -> dict:
    """Per-face ms of maskwatch's classifier and of Keras `predict` per frame, on the same face crops."""
    import keras

    classifier = detector.classifier
    model = keras.models.load_model(keras_model) if keras_model else keras_twin(classifier)
    batches = face_batches(detector, encoded)
    result = {"faces": sum(map(len, batches)), "runtime": classifier.runtime,
              "maskwatch_ms_per_face": _ms_per_item(classifier.predict, batches),
              "keras_predict_ms_per_face": _ms_per_item(lambda b: model.predict(b.astype(np.float32), verbose=0),
                                                        batches)}
    result["speedup"] = round(result["keras_predict_ms_per_face"] / result["maskwatch_ms_per_face"], 1)
    return result


def openvino_vs_defaults(detector: MaskDetector, encoded: Sequence[bytes]) -> dict | None:
    """Where OpenVINO may run in bfloat16: ms per frame of the default face detection there (the float file) and
    on onnxruntime (8 bits where exact), and ms per face of the classifier there and on LiteRT, on the same
    frames and crops, whichever runs by default (None where OpenVINO cannot run)."""
    if not openvino_bf16():
        return None
    settings = detector.detector
    detectors = {runtime: load_detector(threshold=settings.threshold, scale=settings.scale,
                                        max_side=settings.max_side, coarse_side=settings.coarse_side, runtime=runtime)
                 for runtime in ("openvino", "onnxruntime")}
    frames = [[decode_image(blob)] for blob in encoded]
    batches = face_batches(detector, encoded)
    classifiers = {runtime: MaskClassifier(detector.classifier.path, runtime=runtime)
                   for runtime in ("openvino", "litert")}
    result = {"detect_ms": {name: _ms_per_item(lambda f, d=d: d.detect(f[0]), frames)
                            for name, d in detectors.items()},
              "classify_ms_per_face": {name: _ms_per_item(c.predict, batches) for name, c in classifiers.items()}}
    result["detect_speedup"] = round(result["detect_ms"]["onnxruntime"] / result["detect_ms"]["openvino"], 2)
    result["classify_speedup"] = round(result["classify_ms_per_face"]["litert"]
                                       / result["classify_ms_per_face"]["openvino"], 2)
    return result


def keras_twin(classifier: MaskClassifier):
    """A Keras model of the LiteRT model's architecture: its input size, and its MobileNetV2 blocks as read
    from the layer names that the export keeps in tensor names. Weights do not change the timing."""
    from ai_edge_litert.interpreter import Interpreter

    from maskwatch.training.mobilenet import LAST_FEATURE
    from maskwatch.training.model import build_classifier

    names = [t["name"] for t in Interpreter(model_path=str(classifier.path)).get_tensor_details()]
    blocks = max((int(n) for name in names for n in re.findall(r"features_(\d+)_", name)), default=LAST_FEATURE)
    return build_classifier(len(classifier.labels), classifier.image_size, imagenet=False, blocks=blocks)


def tiled_frames(photos: Sequence[tuple[np.ndarray, np.ndarray | None]], count: int,
                 size: tuple[int, int] = (1280, 720)) -> tuple[list[bytes], list[np.ndarray] | None]:
    """JPEG frames of `size` made of the photos side by side at their own resolution (shrunk only to fit
    a cell), each drifting a little, so small faces stay small and move: a crowded 720p video. Also each
    frame's true face boxes, where every photo has its annotated ones (None otherwise)."""
    width, height = size
    columns = 3
    rows = max(1, -(-len(photos) // columns))
    cell_w, cell_h = width // columns, height // rows
    cells = []
    for photo, boxes in photos[: columns * rows]:
        shrink = min(1.0, (cell_w - 16) / photo.shape[1], (cell_h - 16) / photo.shape[0])
        cells.append((cv2.resize(photo, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
                      if shrink < 1 else photo, None if boxes is None else boxes * shrink))
    known = all(boxes is not None for _, boxes in cells)
    frames, truth = [], []
    for i in range(count):
        frame = np.full((height, width, 3), 60, np.uint8)
        faces = []
        for k, (cell, boxes) in enumerate(cells):
            room_x, room_y = cell_w - cell.shape[1], cell_h - cell.shape[0]
            x = (k % columns) * cell_w + _back_and_forth(i * (1 + k % 2), room_x)  # 1 or 2 px a frame
            y = (k // columns) * cell_h + _back_and_forth(i // 2, room_y)
            frame[y:y + cell.shape[0], x:x + cell.shape[1]] = cell
            if known:
                faces.append(boxes + np.array([x, y, x, y], float))
        frames.append(cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))[1].tobytes())
        truth.append(np.concatenate(faces) if faces else np.zeros((0, 4)))
    return frames, truth if known else None


def _back_and_forth(travelled: int, room: int) -> int:
    """Where a photo that has moved `travelled` px is in a cell with `room` px to spare: it turns at each
    edge, as a panning camera would, instead of jumping back to the start."""
    if room <= 0:
        return 0
    turn = travelled % (2 * room)
    return turn if turn <= room else 2 * room - turn


def small_face_photos(scenes: Path | None) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Photos with small faces, each with its annotated face boxes: the first six held-out scenes (boxes from
    their Pascal VOC annotations beside the images folder, if there), or else the astronaut at sizes that make
    her face 20-45 px (no boxes)."""
    if scenes is None:
        photo = data.astronaut()
        return [(cv2.resize(photo, (w, w), interpolation=cv2.INTER_AREA), None) for w in (100, 130, 160, 190, 220, 250)]
    from maskwatch.data.voc import read_annotation

    photos = []
    for path in scene_paths(scenes, 6):
        annotation = path.parent.parent / "annotations" / f"{path.stem}.xml"
        boxes = (np.array([b.box for b in read_annotation(annotation)], float).reshape(-1, 4)
                 if annotation.is_file() else None)
        photos.append((decode_image(path.read_bytes()), boxes))
    return photos


def matched(reference: Sequence[Sequence], boxes: Sequence[Sequence], threshold: float = 0.5) -> int:
    """How many reference boxes, frame by frame, have a box of their own (one to one) with IoU >= threshold."""
    from maskwatch.evaluation.detection import iou

    found = 0
    for want, got in zip(reference, boxes, strict=True):
        if len(want) and len(got):
            overlap = iou(np.array(want), np.array(got))
            while overlap.max() >= threshold:
                i, j = np.unravel_index(overlap.argmax(), overlap.shape)
                overlap[i, :], overlap[:, j] = -1, -1
                found += 1
    return found


def detect_every_curve(detector: MaskDetector, encoded: Sequence[bytes],
                       everies: Sequence[int] = (1, 2, 3, 4, 6, 8, 10, 12), repeat: int = 1,
                       truth: Sequence[np.ndarray] | None = None) -> list[dict]:
    """Frames per second of the tracked video loop with detection on every Nth frame (the best of `repeat`
    runs: on a shared machine, others' work only ever slows a run); the share of the faces of detection on
    every frame (the reference) that each N still reports (IoU >= 0.5), and with `truth` (each frame's true
    face boxes) of its true faces; and the persons each N makes, against the reference's."""
    curve, reference, true_reference, persons_reference = [], None, None, None
    for every in everies:
        fps = 0.0
        for _ in range(repeat):  # the same boxes each time: detection and tracking are deterministic
            started = time.perf_counter()
            steps = list(_tracked_steps(detector, encoded, every))
            fps = max(fps, len(encoded) / (time.perf_counter() - started))
        boxes = [[f.box for f in step.faces] for step in steps]
        persons = sum(e.kind == "person_left" for step in steps for e in step.events)
        if reference is None:
            reference, persons_reference = boxes, persons
            if truth is not None:
                true_reference = [[box for box in found if _matches(box, want)] for found, want in zip(
                    boxes, truth, strict=True)]
        total = sum(map(len, reference))
        point = {"detect_every": every, "fps": round(fps, 1),
                 "faces_kept": round(matched(reference, boxes) / total, 4) if total else None,
                 "persons": persons,
                 "persons_kept": round(persons / persons_reference, 4) if persons_reference else None}
        if true_reference is not None:
            true_total = sum(map(len, true_reference))
            point["true_faces_kept"] = round(matched(true_reference, boxes) / true_total, 4) if true_total else None
        curve.append(point)
    return curve


def _matches(box: Sequence[float], truth: np.ndarray) -> bool:
    from maskwatch.evaluation.detection import iou

    return bool(len(truth)) and float(iou(np.array(box), truth).max()) >= 0.5


def _tracked_steps(detector: MaskDetector, encoded: Sequence[bytes], every: int):
    """The steps of `detect`'s video loop (decoding ahead in a thread, persons, events), drawing each."""
    from maskwatch.core.frame import Frame
    from maskwatch.io.background import prefetch
    from maskwatch.video.analysis import VideoAnalyzer, analyze

    def frames():
        for i, blob in enumerate(encoded):
            yield Frame(decode_image(blob), "bench", i, i / 30, Path("bench.mp4"), 30.0, True)

    for step in analyze(prefetch(frames()), VideoAnalyzer(detector, detect_every=every)):
        draw(step.frame.image, step.faces)
        yield step


def scene_paths(folder: Path, count: int) -> list[Path]:
    """The first `count` photos of a folder, its held-out ones if it has any."""
    from maskwatch.data.voc import holdout
    from maskwatch.io.images import IMAGE_SUFFIXES, iter_files

    paths = list(iter_files(folder, IMAGE_SUFFIXES))
    return ([p for p in paths if holdout(p.name)] or paths)[:count]


def scene_frames(folder: Path, count: int) -> list[bytes]:
    return [p.read_bytes() for p in scene_paths(folder, count)]


def clip_frames(path: Path, count: int) -> list[bytes]:
    """The first `count` frames of a video file, JPEG-encoded (as a camera or file would hand them over)."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < count:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(cv2.imencode(".jpg", bgr)[1].tobytes())
    capture.release()
    if not frames:
        raise InvalidInput(f"{path}: no frames OpenCV can read")
    return frames


def run_bench(scenes: Path | None, model: Path | None = None, keras_model: Path | None = None,
              frames: int = 60, clips: Sequence[Path] = (), repeat: int = 1) -> dict:
    webcam = webcam_frames(frames)
    fast, accurate = MaskDetector("fast", model), MaskDetector("accurate", model)
    report = {"webcam_640x480_fast": {**time_stages(fast, webcam), "fps_overlapped": time_overlapped(fast, webcam),
                                      "fps_overlapped_tracked": time_overlapped(fast, webcam, track=True,
                                                                                detect_every=PRESETS["fast"].detect_every)}}
    if scenes is not None:
        images = scene_frames(scenes, frames)
        report["scenes_accurate"] = {**time_stages(accurate, images),
                                     "fps_overlapped": time_overlapped(accurate, images)}
    video, truth = tiled_frames(small_face_photos(scenes), frames)
    report["video_1280x720_accurate"] = {**time_stages(accurate, video[:max(1, frames // 4)]),
                                         "detect_every": detect_every_curve(accurate, video, repeat=repeat,
                                                                            truth=truth)}
    for clip in clips:
        report[f"clip {clip.name}"] = {"detect_every": detect_every_curve(accurate, clip_frames(clip, frames),
                                                                          repeat=repeat)}
    report["classifier_vs_keras"] = classifier_vs_keras(fast, webcam, keras_model)
    report["runtimes"] = {"detector": str(accurate.detector), "classifier": accurate.classifier.runtime,
                          "classifier_why": accurate.classifier.choice.why}
    compared = openvino_vs_defaults(accurate, video[:max(2, frames // 10)])
    if compared is not None:
        report["openvino_vs_defaults"] = compared
    return report


def format_bench(report: dict) -> str:
    lines = [f"{'workload':<22}{'faces/frame':>12}" + "".join(f"{s + ' ms':>12}" for s in STAGES)
             + f"{'ms/face':>10}{'fps':>8}{'threads':>10}{'tracked':>9}"]
    for name, r in report.items():
        if "ms" not in r:
            continue
        lines.append(f"{name:<22}{r['faces_per_frame']:>12}" + "".join(f"{r['ms'][s]:>12}" for s in STAGES)
                     + f"{r['ms_per_face_classify']:>10}{r['fps_sequential']:>8}{r.get('fps_overlapped', '-'):>10}"
                     + f"{r.get('fps_overlapped_tracked', '-'):>9}")
    lines.append("fps: stages one after another; threads: decoding ahead in a second thread, as `detect` runs; "
                 "tracked: plus faces tracked into persons, states and events (the video default)")
    for name, r in report.items():
        if "detect_every" in r:
            points = ", ".join(f"{p['detect_every']}: {p['fps']} fps / {p['faces_kept']:.1%} kept"
                               + (f" ({p['true_faces_kept']:.1%} of true faces)" if p.get("true_faces_kept") else "")
                               + f" / {p['persons']} persons" for p in r["detect_every"])
            lines.append(f"{name}, detection every N frames (N: fps / faces of N=1 kept / persons): {points}")
    c = report["classifier_vs_keras"]
    lines.append(f"classifier on {c['faces']} faces: maskwatch ({c['runtime']}) {c['maskwatch_ms_per_face']} ms/face, "
                 f"Keras predict per frame {c['keras_predict_ms_per_face']} ms/face -> {c['speedup']}x faster")
    r = report["runtimes"]
    lines.append(f"runtimes: {r['detector']}; classifier on {r['classifier']}: {r['classifier_why']}")
    if "openvino_vs_defaults" in report:
        o = report["openvino_vs_defaults"]
        lines.append(f"OpenVINO (bfloat16) against onnxruntime, 1280x720 crowd, accurate, side by side: detection "
                     f"{o['detect_ms']['openvino']} vs {o['detect_ms']['onnxruntime']} ms/frame "
                     f"({o['detect_speedup']}x); classifier against LiteRT {o['classify_ms_per_face']['openvino']} "
                     f"vs {o['classify_ms_per_face']['litert']} ms/face ({o['classify_speedup']}x)")
    return "\n".join(lines)


def add_parser(sub) -> None:
    p = sub.add_parser("bench", help="measure per-stage ms and fps of detection, and the runtimes against each other",
                       description="Times decode, detect, classify and draw on 640x480 webcam-like frames "
                       "(fast preset), on scene photos (accurate preset) and on a crowded 1280x720 video with "
                       "small faces (accurate, with the fps / faces-kept curve of detection every N frames), "
                       "in one run on this machine.")
    p.add_argument("--scenes", type=Path, help="folder of scene photos (default: ../shared/datasets/mask-detect/images "
                   "if present; its held-out part)")
    p.add_argument("--model", type=Path, help="a .tflite classifier (default: each preset's shipped model)")
    p.add_argument("--keras-model", type=Path, help="the same model as .keras for the Keras comparison "
                   "(default: the same architecture with untrained weights; timing does not depend on weights)")
    p.add_argument("--frames", type=positive(int), default=60, help="frames per workload (default 60)")
    p.add_argument("--clip", type=Path, action="append", default=[], metavar="VIDEO",
                   help="also measure the detection-every-N curve on this video (repeatable)")
    p.add_argument("--repeat", type=positive(int), default=1,
                   help="time each point of the detection-every-N curves this many times and keep the best: "
                   "on a shared machine, others' work only slows a run (default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    scenes = args.scenes
    default_scenes = Path("../shared/datasets/mask-detect/images")
    if scenes is None and default_scenes.is_dir():
        scenes = default_scenes
    missing = [str(clip) for clip in args.clip if not clip.is_file()]
    if missing:
        raise FileNotFoundError(f"--clip: no such file: {', '.join(missing)}")
    needs_tensorflow(args.verbose)  # the Keras comparison
    report = run_bench(scenes, args.model, args.keras_model, args.frames, args.clip, args.repeat)
    print(json.dumps(report) if args.json else format_bench(report))
    return 0
