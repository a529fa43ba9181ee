"""Choosing the `fast` preset (cameras and streams): faces an entrance camera shows, against frames per second.

For each candidate (detector input cap, face threshold, detection every N frames) it runs `detect`'s video
loop (persons, states, events) on the hallway clips of ../shared/clips, and reports:
- kept: the faces that per-frame `accurate` finds (the reference) which the candidate also reports
  (IoU >= 0.3: small faces' boxes jitter), per clip and over all;
- persons: distinct person ids per clip (each clip shows one person);
- false: faces reported on hallway_2_no_face, where no face is ever visible;
- fps: the same loop on `maskwatch bench`'s 640x480 webcam frames (2 faces a frame), measured in this run.

    .venv/bin/python benchmarks/live_preset.py            # about 5 minutes on 2 idle cores
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from maskwatch.bench import _tracked_steps, clip_frames, matched, webcam_frames
from maskwatch.io.images import decode_image
from maskwatch.vision.pipeline import MaskDetector

CLIPS = ("hallway_1.avi", "hallway_3.avi", "hallway_4_mask_on.avi")
CANDIDATES = [  # (max_side, face threshold, detect every)
    (256, 0.35, 1), (384, 0.3, 1), (480, 0.3, 1), (480, 0.3, 2), (640, 0.3, 2), (640, 0.3, 3), (640, 0.25, 3),
]


def candidate(max_side: int, threshold: float) -> MaskDetector:
    detector = MaskDetector("fast", face_threshold=threshold)
    detector.detector.max_side = max_side
    return detector


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=Path, default=Path("../shared/clips"))
    parser.add_argument("--frames", type=int, default=120, help="webcam frames for the fps (default 120)")
    args = parser.parse_args()
    clips = {name: clip_frames(args.clips / name, 10_000) for name in (*CLIPS, "hallway_2_no_face.avi")}
    accurate = MaskDetector("accurate")
    reference = {name: [[f.box for f in accurate.detector.detect(decode_image(b))] for b in clips[name]]
                 for name in CLIPS}
    webcam = webcam_frames(args.frames)
    print(f"reference (accurate, every frame): {sum(len(f) for r in reference.values() for f in r)} faces in "
          + ", ".join(f"{n} {sum(map(len, r))}" for n, r in reference.items()))
    print(f"{'max_side':>8} {'thr':>5} {'every':>5} | " + " ".join(f"{n[:9]:>10}" for n in CLIPS)
          + f" | {'kept':>6} {'persons':>8} {'false':>6} | {'fps 640x480':>11}")
    for max_side, threshold, every in CANDIDATES:
        detector = candidate(max_side, threshold)
        kept, total, persons = [], 0, []
        for name in CLIPS:
            steps = list(_tracked_steps(detector, clips[name], every))
            boxes = [[f.box for f in s.faces] for s in steps]
            kept.append(matched(reference[name], boxes, threshold=0.3))
            total += sum(map(len, reference[name]))
            persons.append(len({f.person for s in steps for f in s.faces if f.person is not None}))
        false = sum(len(s.faces) for s in _tracked_steps(detector, clips["hallway_2_no_face.avi"], every))
        started = time.perf_counter()
        for _ in _tracked_steps(detector, webcam, every):
            pass
        fps = len(webcam) / (time.perf_counter() - started)
        shares = " ".join(f"{k / max(1, sum(map(len, reference[n]))):>10.0%}" for k, n in zip(kept, CLIPS,
                                                                                          strict=True))
        print(f"{max_side:>8} {threshold:>5} {every:>5} | {shares} | {sum(kept) / total:>6.0%} "
              f"{'/'.join(map(str, persons)):>8} {false:>6} | {fps:>11.1f}")


if __name__ == "__main__":
    main()
