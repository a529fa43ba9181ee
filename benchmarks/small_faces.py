"""How often a small bare face is called `with_mask`, by face size: the costliest error, measured where
cameras make it (faces of 12-48 px), and the rule that keeps it at or under 3%.

Real face crops the shipped classifiers never saw (mask-real3: bare and masked faces) are shrunk so
that the face is S px on its long side, set in a frame, blurred and JPEG-compressed as a camera would;
then found by the detector (its box, score and landmarks, as `detect` gets them) and classified and
judged as `detect` does. Faces are split in two halves by
their source photo: rules are chosen on the "tune" half and reported on the "check" half as well, so a
number in the README is not the one a rule was fitted to.

For each size: coverage (the share of faces that get a label rather than `unknown`) and the share of
labelled bare faces called `with_mask`; for masked faces, coverage and the share called bare. Each rule
is the unknown rule with a different with_mask threshold by size.

    python benchmarks/small_faces.py [--preset accurate|fast] [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import zlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from maskwatch.evaluation.scene_metrics import iou
from maskwatch.vision.classes import WITH_MASK, WITHOUT_MASK
from maskwatch.vision.detector import DEFAULT_DETECTOR
from maskwatch.vision.judge import DEFAULT_RULE
from maskwatch.vision.pipeline import MaskDetector
from maskwatch.vision.results import Face

REAL = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mask-real3"
SIZES = (12, 16, 20, 24, 32, 48, 64)
MARGIN = 0.2  # mask-real3's crops are the face box grown by 20% of its width / height on every side


def camera_copy(crop: np.ndarray, side: int, seed: int,
                harsh: bool = False) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The crop shrunk so its face is `side` px long, in the middle of a frame three times its size (its
    edges repeated), then blurred a little and JPEG-compressed; and the face's box in that frame. `harsh`:
    as a cheap CCTV camera at dusk: dim, noisy, more blur, JPEG quality 15-35."""
    h, w = crop.shape[:2]
    face_w, face_h = w / (1 + 2 * MARGIN), h / (1 + 2 * MARGIN)
    factor = side / max(face_w, face_h)
    small = cv2.resize(crop, (max(1, round(w * factor)), max(1, round(h * factor))), interpolation=cv2.INTER_AREA)
    sh, sw = small.shape[:2]
    frame = cv2.copyMakeBorder(small, sh, sh, sw, sw, cv2.BORDER_REPLICATE)
    rng = np.random.default_rng(seed)
    frame = cv2.GaussianBlur(frame, (0, 0), rng.uniform(0.6, 1.2) if harsh else rng.uniform(0.3, 0.8))
    if harsh:
        dim = frame.astype(np.float32) * rng.uniform(0.35, 0.7) + rng.normal(0, rng.uniform(3, 8), frame.shape)
        frame = np.clip(dim, 0, 255).astype(np.uint8)
    quality = int(rng.integers(15, 36)) if harsh else int(rng.integers(40, 81))
    _, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    frame = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    cx, cy, fw, fh = sw * 1.5, sh * 1.5, face_w * factor, face_h * factor
    return frame, (cx - fw / 2, cy - fh / 2, cx + fw / 2, cy + fh / 2)


def faces(classes: tuple[str, ...], per_class: int) -> list[tuple[Path, str, str]]:
    """(file, class, half) of up to `per_class` of mask-real3's faces of each class (a fixed sample), the
    half by a hash of the source photo."""
    with (REAL / "manifest.csv").open(newline="", encoding="utf-8") as file:
        rows = [r for r in csv.DictReader(file) if r["class"] in classes]
    rng = np.random.default_rng(0)
    chosen = [r for c in classes for r in rng.permutation([r for r in rows if r["class"] == c])[:per_class]]
    return [(REAL / r["file"], r["class"], "tune" if zlib.crc32(r["source_image"].encode()) % 2 else "check")
            for r in chosen]


def classify_all(detector: MaskDetector, found: list[tuple[Path, str, str]]) -> list[dict]:
    """Per face and size: what `detect` makes of the camera copy: the detected face that overlaps the true
    box best (IoU >= 0.3; its box, score and landmarks), classified; or None where it was not found."""
    out = []
    for index, (path, truth, half) in enumerate(tqdm(found, desc="Faces", unit="face")):
        crop = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        for side, harsh in ((side, harsh) for side in SIZES for harsh in (False, True)):
            image, box = camera_copy(crop, side, index * 100 + side, harsh)
            detected = detector.detector.detect(image)
            overlaps = [float(iou(f.box, box)[0, 0]) for f in detected]
            best = int(np.argmax(overlaps)) if overlaps else -1
            face = detector.classifier.classify(image, [detected[best]])[0] if best >= 0 and overlaps[best] >= 0.3 \
                else None
            out.append({"truth": truth, "half": half, "size": side, "harsh": harsh, "face": face})
    return out


def masked_threshold_rule(thresholds: dict[int, float]) -> Callable[[Face], str]:
    """The default rule, with the with_mask threshold of the largest listed size not above the face's."""
    def state(face: Face) -> str:
        needed = max((t for s, t in thresholds.items() if face.side >= s), default=1.01)
        return replace(DEFAULT_RULE, min_confidence_masked=needed).state(face)

    return state


RULES = {
    "today (with_mask p >= 0.9, 16 px floor)": DEFAULT_RULE.state,
    "floor 24 px": replace(DEFAULT_RULE, min_side=24).state,
    "with_mask p >= 0.97 under 32 px": masked_threshold_rule({16: 0.97, 32: 0.9}),
    "with_mask p >= 0.99 under 32 px": masked_threshold_rule({16: 0.99, 32: 0.9}),
    "with_mask p >= 0.99 under 48 px": masked_threshold_rule({16: 0.99, 48: 0.9}),
}


def table(results: list[dict], rule, half: str, harsh: bool) -> list[dict]:
    rows = []
    for side in SIZES:
        mine = [r for r in results if r["size"] == side and r["half"] == half and r["harsh"] == harsh]
        row: dict = {"size": side}
        for truth, wrong in ((WITHOUT_MASK, WITH_MASK), (WITH_MASK, WITHOUT_MASK)):
            found = [r["face"] for r in mine if r["truth"] == truth and r["face"] is not None]
            states = [rule(face) for face in found]
            labelled = [s for s in states if s != "unknown"]
            row[truth] = {"n": sum(r["truth"] == truth for r in mine), "found": len(found),
                          "coverage": round(len(labelled) / len(states), 4) if states else None,
                          "wrong": sum(s == wrong for s in labelled),
                          "wrong_share": round(sum(s == wrong for s in labelled) / len(labelled), 4) if labelled
                          else None}
        rows.append(row)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="accurate", choices=("accurate", "fast"))
    parser.add_argument("--model", type=Path, help="a two-class .tflite (default: the preset's shipped model)")
    parser.add_argument("--detector", default=DEFAULT_DETECTOR, help="maskwatch, centerface or a .onnx file")
    parser.add_argument("--faces", type=int, default=500, help="bare and masked faces sampled (each; default 500)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not REAL.is_dir():
        raise SystemExit(f"needs {REAL}")
    detector = MaskDetector(args.preset, args.model, detector=args.detector)
    results = classify_all(detector, faces((WITHOUT_MASK, WITH_MASK), args.faces))
    report = {name: {f"{half} {'harsh' if harsh else 'mild'}": table(results, rule, half, harsh)
                     for half in ("tune", "check") for harsh in (False, True)} for name, rule in RULES.items()}
    if args.json:
        print(json.dumps({"preset": args.preset, "rules": report}))
        return 0
    print(f"{args.preset} preset ({detector.detector}, {detector.classifier.image_size} px classifier) on "
          "mask-real3 faces shrunk to S px; coverage and errors are of the faces found")
    for name, halves in report.items():
        print(f"\n{name}")
        print("half, camera  size | bare: n, found, labelled, called with_mask | masked: n, found, labelled, "
              "called bare")
        for half, rows in halves.items():
            for row in rows:
                cells = []
                for truth in (WITHOUT_MASK, WITH_MASK):
                    c = row[truth]
                    cells.append(f"{c['n']:4} {c['found'] / max(c['n'], 1):6.1%} {c['coverage'] or 0:6.1%} "
                                 f"{c['wrong']:4} ({c['wrong_share'] or 0:6.1%})")
                print(f"{half:12} {row['size']:3} px | {cells[0]} | {cells[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

