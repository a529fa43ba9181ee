"""Should a face turned away from the camera be judged at all? Errors by how frontal a face is.

CenterFace gives 5 landmarks per face; `Face.frontal` is the eye distance over the box width (about 0.45
facing the camera, under 0.2 in profile or seen from behind). For each detected face of mask-detect that
matches an annotated box (IoU >= 0.5; `accurate` preset, 128 px model, the unknown rule of
`maskwatch.vision.judge`), it reports by frontal bin: faces, bare faces called masked and masked faces
called bare among those labelled. Then, for each candidate floor F ("unknown if frontal < F"): coverage
(all faces, faces >= 48 px) and the same errors, on development and held-out scenes. Last, on the shared
clips of masked people filmed from above or behind, how many faces each floor leaves labelled bare.

    .venv/bin/python benchmarks/turned_away.py        # about 3 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import cv2
import numpy as np

from maskwatch.data.voc import holdout, scan_scenes
from maskwatch.evaluation.detection import iou
from maskwatch.io.images import read_image
from maskwatch.vision.pipeline import MaskDetector

FLOORS = (0.0, 0.1, 0.15, 0.2, 0.25, 0.3)
BINS = (0.0, 0.1, 0.2, 0.3, 0.4, 1.0)
MASKED_CLIPS = ("office_cctv_masked.mp4", "hallway_3.avi", "hallway_4_mask_on.avi", "hallway_1.avi")


def scene_faces(dataset: Path, detector: MaskDetector) -> list[dict]:
    rows = []
    for scene in scan_scenes(dataset):
        image = read_image(scene.image)
        truth = [b for b in scene.boxes if b.name in ("with_mask", "without_mask")]
        faces = detector(image)
        if not truth or not faces:
            continue
        overlap = iou(np.array([b.box for b in truth]), np.array([f.box for f in faces]))
        while overlap.max() >= 0.5:
            i, j = np.unravel_index(overlap.argmax(), overlap.shape)
            overlap[i, :], overlap[:, j] = -1, -1
            rows.append({"truth": truth[i].name, "face": faces[j], "held_out": holdout(scene.image.name)})
    return rows


def errors(rows: list[dict], floor: float) -> dict:
    labelled = [r for r in rows if r["face"].state != "unknown" and (r["face"].frontal or 0) >= floor]
    bare = [r for r in labelled if r["truth"] == "without_mask"]
    masked = [r for r in labelled if r["truth"] == "with_mask"]
    large = [r for r in rows if r["face"].side >= 48]
    large_labelled = [r for r in large if r in labelled]
    return {"coverage": len(labelled) / max(1, len(rows)), "coverage_48": len(large_labelled) / max(1, len(large)),
            "bare_as_masked": (sum(r["face"].state == "with_mask" for r in bare), len(bare)),
            "masked_as_bare": (sum(r["face"].state == "without_mask" for r in masked), len(masked))}


def share(pair: tuple[int, int]) -> str:
    return f"{pair[0]:>3}/{pair[1]:<4} {pair[0] / pair[1]:6.1%}" if pair[1] else f"{pair[0]:>3}/{pair[1]:<4}    -  "


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, default=Path("../shared/datasets/mask-detect"))
    parser.add_argument("--clips", type=Path, default=Path("../shared/clips"))
    args = parser.parse_args()
    detector = MaskDetector("accurate")
    rows = scene_faces(args.dataset, detector)
    print(f"{len(rows)} detected faces matched to annotated with/without boxes")
    print("by frontal (eye distance / box width), labelled faces only:")
    for low, high in itertools.pairwise(BINS):
        inside = [r for r in rows if low <= (r["face"].frontal or 0) < high]
        e = errors(inside, 0.0)
        print(f"  {low:.1f}-{high:.1f}: {len(inside):>5} faces | bare->masked {share(e['bare_as_masked'])} | "
              f"masked->bare {share(e['masked_as_bare'])}")
    for split, chosen in (("development", False), ("held-out", True)):
        part = [r for r in rows if r["held_out"] == chosen]
        print(f"{split} ({len(part)} faces): floor | coverage  >=48 px | bare->masked | masked->bare")
        for floor in FLOORS:
            e = errors(part, floor)
            print(f"  {floor:>4} | {e['coverage']:8.1%} {e['coverage_48']:8.1%} | {share(e['bare_as_masked'])} | "
                  f"{share(e['masked_as_bare'])}")
    print("masked people on the shared clips: faces labelled without_mask (of faces), per floor")
    for name in MASKED_CLIPS:
        capture = cv2.VideoCapture(str(args.clips / name))
        faces = []
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            faces += [f for f in detector(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)) if f.side >= 16]
        counts = [sum(f.state == "without_mask" and (f.frontal or 0) >= floor for f in faces) for floor in FLOORS]
        print(f"  {name:<24} {len(faces):>4} faces: " + ", ".join(f"F={fl}: {n}" for fl, n in
                                                                    zip(FLOORS, counts, strict=True)))


if __name__ == "__main__":
    main()
