"""Does a second look at the nose find the masks worn wrong that the three-class model misses?

A small classifier sees only an aligned patch from the eye line down the nose (cut by CenterFace's
landmarks) and says whether the nose is `covered` or `bare`. It learns from thousands of real faces: masked
faces of mask-classify and mask-detect's development scenes are `covered`; bare faces and the real
worn-wrong scene boxes are `bare`; with `--synthetic`, also mask-incorrect's overlays (nose uncovered:
`bare`, worn right or only the chin bare: `covered`). A face is then called worn wrong when the shipped
three-class model says so, or when it says the face is masked and the nose check says the nose is bare.
Scored on the annotated boxes of the held-out scenes that have landmarks (detected in the scene, or in
the box alone enlarged to 256 px).

    python benchmarks/nose_check.py --out runs/nose_check
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from maskwatch.cli import main as maskwatch
from maskwatch.evaluation.scene_metrics import iou
from maskwatch.evaluation.voc import holdout, scan_scenes
from maskwatch.io.atomic import atomic_write_json
from maskwatch.io.images import read_image, write_image
from maskwatch.training.synth import face_frame
from maskwatch.vision.classes import INCORRECT
from maskwatch.vision.classifier import MaskClassifier
from maskwatch.vision.crops import face_crop
from maskwatch.vision.detector import CenterFace
from maskwatch.vision.presets import INCORRECT_MODEL, PRESETS, classifier_path
from maskwatch.vision.results import Face

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
PATCH = 64
SECOND_LOOK = 256  # px: a box without landmarks in its scene is enlarged to this and detected again
GEOMETRIES = {"to the nose tip": 1.0, "to just under the nose": 1.3}  # patch bottom, in eye-line-to-nose depths


def _scene_landmarks(detector: CenterFace) -> list[dict]:
    """Every annotated scene box with the landmarks of the face found on it."""
    rows = []
    for scene in tqdm(scan_scenes(SHARED / "mask-detect"), desc="Scenes", unit="img"):
        image = read_image(scene.image)
        found = [face for face in detector.detect(image) if face.landmarks]
        boxes = np.array([b.box for b in scene.boxes], float)
        overlap = iou(boxes, np.array([f.box for f in found])) if found else None
        for i, box in enumerate(scene.boxes):
            row = {"path": str(scene.image), "cls": box.name, "source": "scene", "held": holdout(scene.image.name),
                   "box": list(box.box)}
            if found and overlap[i].max() >= 0.5:
                row["landmarks"] = found[int(overlap[i].argmax())].landmarks
            else:
                row["landmarks"] = _second_look(detector, image, box.box)
            if row["landmarks"]:
                rows.append(row)
    return rows


def _second_look(detector: CenterFace, image: np.ndarray, box: tuple) -> tuple | None:
    """Landmarks from the box alone, padded by 40% and enlarged: small faces the scene pass missed."""
    x1, y1, x2, y2 = box
    pad = 0.4 * max(x2 - x1, y2 - y1)
    left, top = int(max(0, x1 - pad)), int(max(0, y1 - pad))
    crop = image[top:int(min(image.shape[0], y2 + pad)), left:int(min(image.shape[1], x2 + pad))]
    if crop.size == 0:
        return None
    k = SECOND_LOOK / max(crop.shape[:2])
    faces = [f for f in detector.detect(cv2.resize(crop, None, fx=k, fy=k, interpolation=cv2.INTER_CUBIC))
             if f.landmarks]
    if not faces:
        return None
    overlap = iou(np.array([[(x1 - left) * k, (y1 - top) * k, (x2 - left) * k, (y2 - top) * k]]),
                  np.array([f.box for f in faces]))[0]
    if overlap.max() < 0.3:
        return None
    return tuple((left + x / k, top + y / k) for x, y in faces[int(overlap.argmax())].landmarks)


def _photo_landmarks(detector: CenterFace) -> list[dict]:
    """The largest face of every photo of mask-classify and mask-incorrect."""
    folders = [("mask-incorrect", INCORRECT), ("mask-incorrect", "with_mask"), ("mask-classify", "with_mask"),
               ("mask-classify", "without_mask")]
    rows = []
    for source, cls in folders:
        for path in tqdm(sorted((SHARED / source / cls).iterdir()), desc=f"{source}/{cls}", unit="img"):
            faces = [f for f in detector.detect(read_image(path)) if f.landmarks]
            if faces:
                face = max(faces, key=lambda f: f.side)
                rows.append({"path": str(path), "cls": cls, "source": source, "held": False,
                             "box": list(face.box), "landmarks": face.landmarks})
    return rows


def nose_corners(landmarks: tuple, bottom: float) -> np.ndarray | None:
    """Three corners of the nose strip: from 10% of the way from the eye line to the nose tip down to
    `bottom` of that depth, 1.4 eye distances wide; None where the landmarks are too close for one."""
    origin, across, down, eye = face_frame(Face(box=(0, 0, 0, 0), score=1.0, landmarks=landmarks))
    depth = float((np.array(landmarks[2]) - origin) @ down)
    if eye < 5 or depth <= 0.1 * eye:
        return None
    half = 0.7 * eye
    return np.float32([origin - half * across + 0.1 * depth * down, origin + half * across + 0.1 * depth * down,
                       origin - half * across + bottom * depth * down])


def nose_patch(image: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """The strip turned upright and resized to PATCH x PATCH."""
    warp = cv2.getAffineTransform(corners, np.float32([[0, 0], [PATCH, 0], [0, PATCH]]))
    return cv2.warpAffine(image, warp, (PATCH, PATCH), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)


def nose_class(row: dict, synthetic: bool) -> str | None:
    """covered / bare for training, None to leave the face out."""
    if row["cls"] == "with_mask":
        return "covered"
    if row["source"] != "mask-incorrect":
        return "bare"  # bare faces, and real masks under the nose or on the chin
    name = Path(row["path"]).name
    if not synthetic or "Mask_" not in name:
        return None  # baskoroadiw's overlays do not say which part is uncovered
    return "covered" if "Mask_Nose_Mouth" in name else "bare"  # Mask_Nose_Mouth: only the chin is bare


def cut(rows: list[dict], folder: Path, bottom: float, synthetic: bool) -> None:
    """Writes the training boxes' nose strips to folder/covered and folder/bare."""
    shutil.rmtree(folder, ignore_errors=True)
    for k, row in enumerate(tqdm(rows, desc="Patches", unit="face")):
        label, corners = nose_class(row, synthetic), nose_corners(row["landmarks"], bottom)
        if label is not None and corners is not None:
            (folder / label).mkdir(parents=True, exist_ok=True)
            write_image(folder / label / f"{row['source']}_{k}.jpg", nose_patch(read_image(Path(row["path"])), corners))


def three_class_verdicts(held: list[dict], three: MaskClassifier) -> tuple[np.ndarray, np.ndarray]:
    """Per held-out box: called worn wrong by the three-class model, and called masked (either way)."""
    probs = three.predict(np.stack([face_crop(read_image(Path(row["path"])), row["box"], three.image_size)
                                    for row in held]))
    return probs.argmax(1) == three.labels.index(INCORRECT), probs[:, three.labels.index("without_mask")] < 0.5


def score(held: list[dict], verdicts: tuple[np.ndarray, np.ndarray], bottom: float, nose_model: Path) -> list[dict]:
    """For thresholds on p(bare): worn-wrong boxes found, and masked / bare boxes called worn wrong."""
    nose = MaskClassifier(nose_model)
    patches = np.stack([nose_patch(read_image(Path(row["path"])), nose_corners(row["landmarks"], bottom))
                        for row in held])
    bare = nose.predict(patches)[:, nose.labels.index("bare")]
    truth = np.array([row["cls"] for row in held])
    said_wrong, masked = verdicts
    results = [_counts("three-class model alone", said_wrong, truth)]
    for threshold in (0.3, 0.5, 0.7):
        results.append(_counts(f"... or masked and p(bare) > {threshold}", said_wrong | (masked & (bare > threshold)),
                               truth))
    return results


def _counts(rule: str, wrong: np.ndarray, truth: np.ndarray) -> dict:
    return {"rule": rule, **{f"{cls} called worn wrong": f"{int(wrong[truth == cls].sum())}/{int((truth == cls).sum())}"
                             for cls in (INCORRECT, "with_mask", "without_mask")}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if not (SHARED / "mask-detect").is_dir():
        sys.exit(f"error: {SHARED} not found (the shared datasets)")
    args.out.mkdir(parents=True, exist_ok=True)
    cache = args.out / "landmarks.json"
    if not cache.is_file():
        settings = PRESETS["accurate"]
        detector = CenterFace(threshold=settings.face_threshold, scale=settings.scale, max_side=settings.max_side)
        atomic_write_json(cache, _scene_landmarks(detector) + _photo_landmarks(detector), indent=None)
    rows = json.loads(cache.read_text())
    # the held-out boxes whose landmarks give a nose strip (its bottom does not matter for that)
    held = [row for row in rows if row["held"] and nose_corners(row["landmarks"], 1.0) is not None]
    verdicts = three_class_verdicts(held, MaskClassifier(classifier_path(INCORRECT_MODEL, "accurate")))
    report = {}
    for name, bottom in GEOMETRIES.items():
        for synthetic in (False, True):
            variant = f"patch {name}, {'with' if synthetic else 'without'} mask-incorrect"
            folder = args.out / f"{bottom}{'_synthetic' if synthetic else ''}"
            cut([row for row in rows if not row["held"]], folder / "patches", bottom, synthetic)
            if maskwatch(["train", str(folder / "patches"), "--image-size", str(PATCH), "--fine-tune-epochs", "4",
                       "--out", str(folder / "model")]):
                return 1
            report[variant] = score(held, verdicts, bottom, folder / "model" / "model.tflite")
            print(f"\n{variant}:")
            for line in report[variant]:
                print("  " + " | ".join(str(v) for v in line.values()))
    (args.out / "report.json").write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
