"""CenterFace settings for the `fast` preset: faces kept on real hallway clips against detection cost.

For each detector setting (input cap `max_side`, input `scale`, face threshold) it measures, on the hallway
clips of ../shared/clips (720x480 entrance-camera video; the picture is a portrait strip at x 245-474 with
black bars, so a cap on the long side of the whole frame shrinks the faces a lot):

- faces found per clip (detections) and frames with at least one face;
- recall against the `accurate` preset (scale 2.5, its threshold), frame by frame: a face that `accurate`
  finds counts as kept when the setting has a box with IoU >= 0.3 on it (hallway_1, _3, _4 only). It is
  given over all of accurate's boxes and over those on the person: accurate also fires on small static
  things in hallway_1 (boxes at a place where it fires again after the person has left, per the clips
  README plus 10 frames), which a setting is not asked to find;
- extra boxes on those clips that match nothing of `accurate`'s while the person is in view, and boxes in
  the frames after the person has left: both are candidates for false positives;
- false detections on hallway_2_no_face (no face is ever visible there);

and, side by side in the same run, detection ms per frame (the whole `CenterFace.detect`: bar check if the
detector has one, resize, padding, onnxruntime, decoding and NMS) on the bench's synthetic 640x480 webcam
frames (`maskwatch.bench.webcam_frames`, 1-3 heads, 2 a frame on average) and on 720x480 hallway frames
with a person in view; with --fps (default) also the frames per second of the bench's tracked video loop
(`maskwatch.bench.time_overlapped`, the fast preset's classifier) with each detector on the webcam frames.
Timings are interleaved over `--rounds` rounds (median and best shown; detectors run at the lowest
threshold), so load on the shared machine hits every setting alike; "x256" is the cost relative to
max_side 256 (the fast preset before this study) measured in the same run. Hallway timings depend on how
much of the frame the detector actually runs on: compare settings on the webcam frames.

Each (max_side, scale) runs once per frame at the lowest threshold; higher thresholds keep the boxes scoring
above them. That equals a run at the higher threshold: the heatmap cut is the same test, and greedy NMS
decides each box only from higher-scoring ones. A setting whose detector inputs equal an earlier one's on
webcam and hallway frames (e.g. scale 1.5 under a cap that 1.0 already reaches) is listed and not rerun.

The detector measured is whatever `maskwatch.vision.detector` is. If its `CenterFace` cuts black bars off
by itself (it has `content_box`), the output says so and the hallway inputs are those of the picture
inside the bars; if it does not, "strip" rows (--strip-sides) run on the frame cut to x 245-474 by this
script, to show what cutting the bars would give (they are not a preset).

Run (every 2nd frame by default: about 4-6 minutes on 2 idle cores, 2 of them the accurate reference,
which --reference-cache keeps for the next run; --step 1 for every frame):

    .venv/bin/python benchmarks/detector_settings.py > /tmp/detector_settings.txt
    .venv/bin/python benchmarks/detector_settings.py --max-sides 384 448 --thresholds 0.3 0.25 \\
        --reference-cache /tmp/detector_settings_ref.json --json /tmp/detector_settings.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from maskwatch.bench import webcam_frames
from maskwatch.evaluation.detection import iou as box_iou
from maskwatch.io.images import decode_image
from maskwatch.vision import detector as detector_module
from maskwatch.vision.detector import STRIDE, load_detector
from maskwatch.vision.presets import PRESETS

CLIPS_DIR = Path(__file__).resolve().parents[2] / "shared" / "clips"
# Clip name -> first frame after the person has left (clips README: "gone by ~f160", etc., +10 frames).
FACE_CLIPS = {"hallway_1": 170, "hallway_3": 150, "hallway_4_mask_on": 155}
NO_FACE_CLIP = "hallway_2_no_face"
STRIP = (245, 475)  # the hallway picture's columns; the rest is black bars
MATCH_IOU = 0.3
# Whether CenterFace.detect cuts black bars off by itself (added to detector.py while this was written).
CROPS_BARS = hasattr(detector_module, "content_box")


def detector_view(frame: np.ndarray, strip: bool) -> tuple[int, int]:
    """(h, w) of the picture the detector works on: the frame, or the strip, less the black bars where the
    detector cuts them itself (when they take over 10% of the frame, as `CenterFace.detect` does)."""
    if strip:
        frame = frame[:, STRIP[0]:STRIP[1]]
    h, w = frame.shape[:2]
    if CROPS_BARS:
        x1, y1, x2, y2 = detector_module.content_box(frame)
        if (x2 - x1) * (y2 - y1) < 0.9 * h * w:
            return y2 - y1, x2 - x1
    return h, w


@dataclass(frozen=True)
class Setting:
    max_side: int | None
    scale: float
    strip: bool = False

    @property
    def name(self) -> str:
        return f"{self.max_side or '-'}/x{self.scale:g}" + (" strip" if self.strip else "")

    def input_shape(self, height: int, width: int) -> tuple[int, int]:
        """The padded detector input (h, w) for a picture of this size, as `CenterFace.detect` computes it."""
        factor = self.scale
        if self.max_side and max(height, width) * factor > self.max_side:
            factor = self.max_side / max(height, width)
        h, w = max(1, round(height * factor)), max(1, round(width * factor))
        return -(-h // STRIDE) * STRIDE, -(-w // STRIDE) * STRIDE


class Runner:
    """A detector for one setting that returns boxes as an (n, 5) array: x1, y1, x2, y2, score."""

    def __init__(self, setting: Setting, threshold: float, threads: int | None) -> None:
        self.setting = setting
        self.detector = load_detector("centerface", threshold=threshold, scale=setting.scale,
                                      max_side=setting.max_side, threads=threads)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        x0 = 0
        if self.setting.strip:
            x0 = STRIP[0]
            image = np.ascontiguousarray(image[:, STRIP[0]:STRIP[1]])
        faces = self.detector.detect(image)
        boxes = np.array([[*f.box, f.score] for f in faces], np.float64).reshape(-1, 5)
        boxes[:, [0, 2]] += x0
        return boxes


def read_clip(path: Path, step: int) -> list[tuple[int, np.ndarray]]:
    """Every `step`-th frame of a video as (index, RGB image)."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise SystemExit(f"cannot open {path}")
    frames, index = [], 0
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        if index % step == 0:
            frames.append((index, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
        index += 1
    capture.release()
    return frames


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in `a` (n, >=4) with every box in `b` (m, >=4): an (n, m) array (extra columns,
    such as scores, are ignored)."""
    return box_iou(a[:, :4], b[:, :4])


def person_masks(reference: dict[str, list[tuple[int, np.ndarray]]]) -> dict[str, list[np.ndarray]]:
    """Per face clip and frame, which reference boxes are the person: those before the exit frame that are
    not where `accurate` also fires after the person has left (a static false positive in the scene)."""
    masks = {}
    for clip, exit_frame in FACE_CLIPS.items():
        frames = reference[clip]
        static = np.concatenate([np.zeros((0, 5)), *(boxes for i, boxes in frames if i >= exit_frame)])
        masks[clip] = [(i < exit_frame) & ~(iou(boxes, static) >= MATCH_IOU).any(axis=1) for i, boxes in frames]
    return masks


def score_setting(found: dict[str, list[tuple[int, np.ndarray]]], reference: dict[str, list[tuple[int, np.ndarray]]],
                  threshold: float) -> dict:
    """Counts for one setting's boxes (scoring above `threshold`) against the reference run, per clip."""
    masks = person_masks(reference)
    result = {}
    for clip, frames in found.items():
        result[clip] = counts = dict.fromkeys(("detections", "frames_with_face", "reference_faces", "kept",
                                               "person_faces", "kept_person", "extra", "after_exit"), 0)
        counts["frames"] = len(frames)
        for n, ((index, boxes), (_, ref)) in enumerate(zip(frames, reference[clip], strict=True)):
            boxes = boxes[boxes[:, 4] > threshold]
            counts["detections"] += len(boxes)
            counts["frames_with_face"] += int(len(boxes) > 0)
            if clip not in FACE_CLIPS:
                continue
            overlap = iou(ref, boxes) >= MATCH_IOU  # (reference boxes, found boxes)
            hit = overlap.any(axis=1)
            person = masks[clip][n]
            counts["reference_faces"] += len(ref)
            counts["kept"] += int(hit.sum())
            counts["person_faces"] += int(person.sum())
            counts["kept_person"] += int(hit[person].sum())
            if index >= FACE_CLIPS[clip]:
                counts["after_exit"] += len(boxes)
            else:
                counts["extra"] += int((~overlap.any(axis=0)).sum())
        if clip not in FACE_CLIPS:
            for key in ("reference_faces", "kept", "person_faces", "kept_person", "extra", "after_exit"):
                del counts[key]
    return result


def time_detect(runner: Runner, images: list[np.ndarray], warmup: int = 3) -> float:
    """Mean ms of one detection over the images, after `warmup` untimed ones."""
    for image in images[:warmup]:
        runner(image)
    total = 0.0
    for image in images:
        started = time.perf_counter()
        runner(image)
        total += time.perf_counter() - started
    return 1000 * total / len(images)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    title, _, details = __doc__.partition("\n\n")
    parser = argparse.ArgumentParser(description=title, epilog=details,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=Path, default=CLIPS_DIR, help="folder with the hallway_*.avi clips")
    parser.add_argument("--max-sides", type=int, nargs="+", default=[256, 320, 384, 448, 480, 512, 640, 1080],
                        help="detector input caps (1080 is a reference: the uncapped frame at scale 1 and 1.5)")
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 1.5])
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.35, 0.3, 0.25, 0.2, 0.15])
    parser.add_argument("--strip-sides", type=int, nargs="*", default=[] if CROPS_BARS else [256, 384, 480],
                        help="caps for the extra runs on the picture cut out of the bars (none: skip them; "
                             "default: none when the detector cuts bars itself, else 256 384 480)")
    parser.add_argument("--step", type=int, default=2, help="use every STEP-th frame of the clips")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved timing rounds (median shown)")
    parser.add_argument("--timing-frames", type=int, default=48, help="frames per timing (webcam and hallway)")
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime threads (default: all cores)")
    parser.add_argument("--speed-only", action="store_true", help="skip the clip detections, only time")
    parser.add_argument("--fps", action=argparse.BooleanOptionalAction, default=True,
                        help="also time the whole tracked video loop of `maskwatch bench` (fast preset, its "
                             "classifier, this detector) on the webcam frames, in frames per second")
    parser.add_argument("--fps-threshold", type=float, default=PRESETS["fast"].face_threshold,
                        help="face threshold of the detector in the --fps loop (default: the fast preset's)")
    parser.add_argument("--detect-every", type=int, nargs="+",
                        default=sorted({1, getattr(PRESETS["fast"], "detect_every", 1)}),
                        help="--fps loop with detection on every Nth frame (default: 1 and the fast preset's)")
    parser.add_argument("--reference-cache", type=Path, default=None,
                        help="JSON file to keep the accurate run in (reused when step and preset match)")
    parser.add_argument("--json", type=Path, default=None, help="also write all numbers to this JSON file")
    return parser.parse_args(argv)


def first_frame(path: Path) -> np.ndarray:
    capture = cv2.VideoCapture(str(path))
    ok, bgr = capture.read()
    capture.release()
    if not ok:
        raise SystemExit(f"cannot read {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def hallway_inputs(setting: Setting, firsts: dict[str, np.ndarray]) -> str:
    """The distinct detector inputs (h x w) of the setting on the clips' first frames."""
    shapes = dict.fromkeys(shape(setting, detector_view(frame, setting.strip)) for frame in firsts.values())
    return ",".join(shapes)


def build_settings(args: argparse.Namespace, firsts: dict[str, np.ndarray]) -> tuple[list[Setting], list[str]]:
    """Settings in order, without those whose detector input equals an earlier one's on both kinds of frame."""
    settings, notes, seen = [], [], {}
    candidates = [Setting(m, s) for m in args.max_sides for s in args.scales]
    candidates += [Setting(m, 1.0, strip=True) for m in args.strip_sides]
    for setting in candidates:
        key = (setting.strip, shape(setting, (480, 640)), hallway_inputs(setting, firsts))
        if key in seen:
            notes.append(f"{setting.name}: same detector input as {seen[key].name} on webcam and hallway frames, "
                         "not rerun")
            continue
        seen[key] = setting
        settings.append(setting)
    return settings, notes


def shape(setting: Setting, size: tuple[int, int]) -> str:
    return "x".join(map(str, setting.input_shape(*size)))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    firsts = {clip: first_frame(args.clips / f"{clip}.avi") for clip in [*FACE_CLIPS, NO_FACE_CLIP]}
    settings, notes = build_settings(args, firsts)
    low = min(args.thresholds)
    accurate = PRESETS["accurate"]
    reference_setting = Setting(accurate.max_side, accurate.scale)
    reference_runner = Runner(reference_setting, accurate.face_threshold, args.threads)
    runners = {s: Runner(s, low, args.threads) for s in settings}

    clip_names = [*FACE_CLIPS, NO_FACE_CLIP]
    cache_key = (f"step {args.step}, scale {accurate.scale}, max_side {accurate.max_side}, "
                 f"threshold {accurate.face_threshold}, crops bars {CROPS_BARS}")
    cached = {}
    if args.reference_cache and args.reference_cache.is_file():
        stored = json.loads(args.reference_cache.read_text())
        cached = stored["clips"] if stored.get("key") == cache_key else {}
    reference: dict[str, list] = {}
    found: dict[Setting, dict[str, list]] = {s: {} for s in settings}
    hallway_sample: list[np.ndarray] = []
    load_before = os.getloadavg()
    for clip in clip_names:
        frames = read_clip(args.clips / f"{clip}.avi", args.step)
        if not args.speed_only:
            t0 = time.perf_counter()
            if clip in cached:
                reference[clip] = [(i, np.array(boxes, np.float64).reshape(-1, 5)) for i, boxes in cached[clip]]
            else:
                reference[clip] = [(i, reference_runner(image)) for i, image in frames]
            log(f"{clip}: {len(frames)} frames, accurate {time.perf_counter() - t0:.0f} s")
            for setting, runner in runners.items():
                found[setting][clip] = [(i, runner(image)) for i, image in frames]
            log(f"{clip}: all settings done, {time.perf_counter() - started:.0f} s so far")
        if clip in FACE_CLIPS:  # timing frames: a person in view (before the exit frame)
            inside = [image for i, image in frames if i < FACE_CLIPS[clip]]
            per_clip = args.timing_frames // len(FACE_CLIPS) + 1
            hallway_sample += inside[:: max(1, len(inside) // per_clip)][:per_clip]
    if args.reference_cache and not args.speed_only and not cached:
        args.reference_cache.write_text(json.dumps({"key": cache_key, "clips": {
            clip: [(i, boxes.tolist()) for i, boxes in frames] for clip, frames in reference.items()}}))
    hallway_sample = hallway_sample[: args.timing_frames]
    encoded = webcam_frames(args.timing_frames)
    webcam = [decode_image(blob) for blob in encoded]
    pipeline = None
    if args.fps:  # the bench's video loop with the fast preset's classifier and tracking, detector swapped
        from maskwatch.bench import time_overlapped
        from maskwatch.vision.pipeline import MaskDetector

        pipeline = MaskDetector("fast", threads=args.threads)
        time_overlapped(pipeline, encoded[:5], track=True)  # warm the classifier

    fps_keys = [f"fps_every_{every}" for every in args.detect_every] if args.fps else []
    ms: dict[Setting, dict[str, list[float]]] = {s: {kind: [] for kind in ["webcam", "hallway", *fps_keys]}
                                                 for s in settings}
    for round_ in range(args.rounds):
        order = settings[round_ % len(settings):] + settings[: round_ % len(settings)]
        for setting in order:
            if not setting.strip:  # the strip crop only exists on the hallway picture
                ms[setting]["webcam"].append(time_detect(runners[setting], webcam))
                if pipeline is not None:
                    pipeline.detector = load_detector("centerface", threshold=args.fps_threshold,
                                                      scale=setting.scale, max_side=setting.max_side,
                                                      threads=args.threads)
                    for every in args.detect_every:  # the keyword only where needed: older benches lack it
                        extra = {"detect_every": every} if every != 1 else {}
                        ms[setting][f"fps_every_{every}"].append(
                            time_overlapped(pipeline, encoded, track=True, **extra))
            ms[setting]["hallway"].append(time_detect(runners[setting], hallway_sample))
        log(f"timing round {round_ + 1}/{args.rounds} done, {time.perf_counter() - started:.0f} s so far")

    report = build_report(args, settings, notes, reference_setting, reference, found, ms, firsts)
    report["detector_crops_bars"] = CROPS_BARS
    report["hallway_view"] = {clip: "x".join(map(str, detector_view(frame, False))) for clip, frame in firsts.items()}
    report["load_average_1min"] = {"start": load_before[0], "end": os.getloadavg()[0]}
    print(format_report(report))
    print(f"\ntotal run time {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


def build_report(args, settings, notes, reference_setting, reference, found, ms, firsts) -> dict:
    accurate = PRESETS["accurate"]
    report = {"step": args.step, "threads": args.threads, "rounds": args.rounds, "notes": notes,
              "fps_threshold": args.fps_threshold if args.fps else None,
              "detect_every": args.detect_every if args.fps else [],
              "reference": {"setting": reference_setting.name, "threshold": accurate.face_threshold,
                            "clips": reference and score_setting(reference, reference, accurate.face_threshold)},
              "quality": [], "speed": []}
    base = next((s for s in settings if s.max_side == 256 and s.scale == 1.0 and not s.strip), None)
    med = {s: {k: statistics.median(v) if v else None for k, v in ms[s].items()} for s in settings}
    for setting in settings:
        for threshold in sorted(args.thresholds, reverse=True) if reference else ():
            report["quality"].append({"setting": setting.name, "threshold": threshold,
                                      "input_hallway": hallway_inputs(setting, firsts),
                                      "clips": score_setting(found[setting], reference, threshold)})
        row = {"setting": setting.name,
               "input_640x480": None if setting.strip else shape(setting, (480, 640)),
               "input_hallway": hallway_inputs(setting, firsts)}
        for kind in ("webcam", "hallway"):
            value = med[setting][kind]
            row[f"ms_{kind}"] = None if value is None else round(value, 2)
            row[f"best_{kind}"] = round(min(ms[setting][kind]), 2) if ms[setting][kind] else None
            row[f"ms_{kind}_rounds"] = [round(v, 2) for v in ms[setting][kind]]
            if base is not None and value is not None:
                row[f"x256_{kind}"] = round(value / med[base][kind], 2)
        for kind in ms[setting]:
            if kind.startswith("fps") and ms[setting][kind]:
                row[kind] = round(med[setting][kind], 1)
        report["speed"].append(row)
    return report


def _pct(part: int, whole: int) -> str:
    return f"{part}/{whole} {100 * part / max(whole, 1):.0f}%"


def format_quality(report: dict) -> list[str]:
    clips = list(FACE_CLIPS)
    ref = report["reference"]["clips"]
    lines = [f"Frames: 1 in {report['step']} per clip. Reference: accurate {report['reference']['setting']}, "
             f"threshold {report['reference']['threshold']}; kept = a found box with IoU >= {MATCH_IOU}.",
             *(f"  {c}: {ref[c]['reference_faces']} boxes, {ref[c]['person_faces']} of them on the person, "
               f"{ref[c]['frames_with_face']}/{ref[c]['frames']} frames with a box" for c in clips),
             f"  {NO_FACE_CLIP}: {ref[NO_FACE_CLIP]['detections']} boxes (all false)",
             "  Not on the person: static false positives of accurate (where it also fires after the person left).",
             *(f"Note: {n}" for n in report["notes"]), "",
             "QUALITY. faces = boxes per clip; frames = frames with >= 1 box; person kept = accurate's boxes on the "
             "person that the setting finds; all kept = the same over all of accurate's boxes; extra = boxes on "
             "nothing accurate found while the person is in view; exit = boxes after the person left; h2 FP = "
             "boxes (frames) on hallway_2_no_face, all false."]
    header = (f"{'setting':<14}{'thr':>5}{'input hallway':>18}{'faces h1/h3/h4':>16}{'frames h1/h3/h4':>17}"
              f"{'person kept h1/h3/h4':>22}{'person kept':>14}{'all kept':>14}{'extra':>7}{'exit':>6}{'h2 FP':>9}")
    lines += [header, "-" * len(header)]
    previous = None
    for row in report["quality"]:
        c = row["clips"]
        if previous is not None and row["setting"] != previous:
            lines.append("")
        previous = row["setting"]
        person = _pct(sum(c[k]["kept_person"] for k in clips), sum(c[k]["person_faces"] for k in clips))
        every = _pct(sum(c[k]["kept"] for k in clips), sum(c[k]["reference_faces"] for k in clips))
        fp = f"{c[NO_FACE_CLIP]['detections']} ({c[NO_FACE_CLIP]['frames_with_face']})"
        lines.append(
            f"{row['setting']:<14}{row['threshold']:>5}{row['input_hallway']:>18}"
            f"{'/'.join(str(c[k]['detections']) for k in clips):>16}"
            f"{'/'.join(str(c[k]['frames_with_face']) for k in clips):>17}"
            f"{'/'.join(str(c[k]['kept_person']) for k in clips):>22}{person:>14}{every:>14}"
            f"{sum(c[k]['extra'] for k in clips):>7}{sum(c[k]['after_exit'] for k in clips):>6}{fp:>9}")
    return [*lines, ""]


def format_report(report: dict) -> str:
    load = report["load_average_1min"]
    views = ", ".join(f"{clip} {view}" for clip, view in report["hallway_view"].items())
    lines = [f"Threads: {report['threads'] or 'all cores'}; load average (1 min) {load['start']:.1f} at the start, "
             f"{load['end']:.1f} at the end (the machine is shared: compare settings within this run).",
             "Detector cuts black bars off by itself: " + (f"yes; the picture it sees (h x w, first frame): {views}"
                                                           if report["detector_crops_bars"]
                                                           else "no, it sees the whole 720x480 frame"),
             "input hallway: detector input(s) on the clips' first frames (h x w, padded to 32).", ""]
    if report["quality"]:
        lines += format_quality(report)
    lines += [f"SPEED. Detection ms per frame: median and best of {report['rounds']} interleaved rounds; x256 = "
              "median relative to max_side 256 in this run. Webcam: the bench's 640x480 frames, 2 faces a frame."]
    everies = report["detect_every"]
    if everies:
        lines.append("fps eN: the bench's tracked video loop on the webcam frames (fast preset's classifier, face "
                     f"threshold {report['fps_threshold']}), detection on every Nth frame; median of the rounds.")
    header = (f"{'setting':<14}{'input 640x480':>14}{'ms webcam':>11}{'best':>7}{'x256':>7}"
              f"{'input hallway':>19}{'ms hallway':>12}{'best':>7}{'x256':>7}"
              + "".join(f"{f'fps e{every}':>9}" for every in everies))
    lines += [header, "-" * len(header)]
    for row in report["speed"]:
        lines.append(
            f"{row['setting']:<14}{row['input_640x480'] or '-':>14}{row['ms_webcam'] or '-':>11}"
            f"{row['best_webcam'] or '-':>7}{row.get('x256_webcam', '-'):>7}{row['input_hallway']:>19}"
            f"{row['ms_hallway']:>12}{row['best_hallway']:>7}{row.get('x256_hallway', '-'):>7}"
            + "".join(f"{row.get(f'fps_every_{every}', '-'):>9}" for every in everies))
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
