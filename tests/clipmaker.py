"""Scripted test clips: real face photos moving over a still background, with the truth of every frame.

A "person" is a face cut from a photo of `mask-classify` (its folder says with or without mask), scaled so
that its face box is always FACE_W x FACE_H, blended in with a soft oval edge, and moved along a path over a
blurred scikit-image photo that holds no face. Only crops that the detector finds and labels as their folder
says (confidence >= 0.9) on a still frame are used, so that what a test measures is the video logic (tracking,
hysteresis, events) and not the classifier's misses. Everything is deterministic: files are tried in sorted
order, at most MAX_CHECKED per folder, and the first ones that pass are taken.

Scripts (all 640x480 at 25 fps, written with OpenCV's mp4v):
- `walk`: one person without a mask walks left to right; in view from frame 3 to 56 of 60.
- `mask_on`: one person stands, drifting slowly to the right; the without-mask crop is swapped for a
  with-mask crop (same box) at frame 33 of 66.
- `crossing`: two people cross at different heights (face boxes overlap by 24 of 124 px vertically): the
  masked one walks right along the upper path, the unmasked one walks left along the lower path, in front.
- `empty`: 30 frames of background only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from skimage import data

FPS = 25.0
SIZE = (640, 480)  # width, height of every clip
FACE_W, FACE_H = 96, 124  # the face box of every person, in pixels
MARGIN = 0.12  # of the face box, kept around it in a crop
PATCH_W, PATCH_H = round(FACE_W * (1 + 2 * MARGIN)), round(FACE_H * (1 + 2 * MARGIN))
MIN_CONFIDENCE = 0.9
MIN_IOU = 0.5  # between the box the detector finds on a still frame and the box the crop was cut for
# A face the detector finds only near its threshold comes and goes as it moves: the scripts test persons and
# events, not the detector's edge, so their faces must be found clearly
MIN_SCORE = 0.5
MAX_CHECKED = 50  # files tried per folder at most
SEARCH_SIDE, SEARCH_CANVAS = 256, 384  # faces are looked for in photos scaled to this long side, on this square
LABELS = ("with_mask", "without_mask")

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Crop:
    """A face ready to paste: RGB patch of PATCH_H x PATCH_W, its alpha, and the face box in it."""

    file: str  # path relative to the dataset folder
    label: str  # with_mask or without_mask, from the folder
    image: np.ndarray = field(repr=False)
    alpha: np.ndarray = field(repr=False)  # float32 in [0, 1], PATCH_H x PATCH_W
    face: Box  # where the detector found the face in the patch, on a still frame
    confidence: float  # the classifier's confidence for `label` on that still frame


@dataclass(frozen=True)
class Truth:
    """One scripted person in one frame."""

    key: str
    box: Box  # the face box in the frame
    state: str  # with_mask or without_mask


@dataclass
class Clip:
    name: str
    path: Path
    frames: list[list[Truth]]  # per frame, the persons in view
    switches: dict[str, int]  # person key -> first frame of its new crop (the true state changes there)
    persons: int  # how many distinct persons the clip shows
    crops: dict[str, list[str]]  # person key -> files of its crops, in order of use
    fps: float = FPS

    def people(self) -> list[str]:
        return sorted({t.key for truths in self.frames for t in truths})

    def in_view(self, key: str) -> list[int]:
        """The frames where the person is in view."""
        return [i for i, truths in enumerate(self.frames) if any(t.key == key for t in truths)]

    def truth(self, key: str, frame: int) -> Truth | None:
        return next((t for t in self.frames[frame] if t.key == key), None)

    def label(self, key: str) -> str:
        """The person's true state at its last frame in view."""
        return self.truth(key, self.in_view(key)[-1]).state


def iou(a: Box, b: Box) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def background() -> np.ndarray:
    """skimage's coffee cup, scaled to the clip size and blurred: texture, colour, and no face."""
    image = cv2.resize(data.coffee(), SIZE, interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(image, (0, 0), 5)


def paste(frame: np.ndarray, crop: Crop, x: int, y: int) -> None:
    """Blend the crop into the frame (in place) with its top-left corner at (x, y); it must fit."""
    region = frame[y:y + PATCH_H, x:x + PATCH_W].astype(np.float32)
    alpha = crop.alpha[..., None]
    frame[y:y + PATCH_H, x:x + PATCH_W] = np.round(alpha * crop.image + (1 - alpha) * region).astype(np.uint8)


def _cut(path: Path, dataset: Path, label: str, detector) -> Crop | None:
    """The most confident face of the photo, scaled to the standard patch; None if no face is found.

    The face is looked for on a small copy centred on a grey square (many photos are tight crops where the
    face touches the border, and one canvas size keeps detection fast), then cut from the full photo; what
    lies outside the photo is left out of the alpha so it never shows. `face` and `confidence` are filled in
    by `_check`.
    """
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        return None
    image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    h, w = image.shape[:2]
    factor = SEARCH_SIDE / max(h, w)
    small = cv2.resize(image, (max(1, round(w * factor)), max(1, round(h * factor))), interpolation=cv2.INTER_AREA)
    canvas = np.full((SEARCH_CANVAS, SEARCH_CANVAS, 3), 128, np.uint8)
    top, left = (SEARCH_CANVAS - small.shape[0]) // 2, (SEARCH_CANVAS - small.shape[1]) // 2
    canvas[top:top + small.shape[0], left:left + small.shape[1]] = small
    faces = detector.detector.detect(canvas)
    if not faces:
        return None
    x1, y1, x2, y2 = max(faces, key=lambda f: f.score).box
    x1, x2 = (x1 - left) / factor, (x2 - left) / factor
    y1, y2 = (y1 - top) / factor, (y2 - top) / factor
    fw, fh = x2 - x1, y2 - y1
    if min(fw, fh) < 40:
        return None
    # The region around the face, mapped onto the patch (scaled a little differently along x and y when the
    # face box is not FACE_W:FACE_H, so that every person's box has the same size).
    src = np.float32([[x1 - MARGIN * fw, y1 - MARGIN * fh], [x2 + MARGIN * fw, y1 - MARGIN * fh],
                      [x1 - MARGIN * fw, y2 + MARGIN * fh]])
    dst = np.float32([[0, 0], [PATCH_W, 0], [0, PATCH_H]])
    warp = cv2.getAffineTransform(src, dst)
    shrink = fh / FACE_H > 1.5  # area averaging only helps when shrinking a lot
    patch = cv2.warpAffine(image, warp, (PATCH_W, PATCH_H), flags=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR,
                           borderValue=(128, 128, 128))
    inside = cv2.warpAffine(np.ones((h, w), np.float32), warp, (PATCH_W, PATCH_H), flags=cv2.INTER_LINEAR,
                            borderValue=0)
    oval = np.zeros((PATCH_H, PATCH_W), np.float32)
    centre = (PATCH_W // 2, PATCH_H // 2)
    cv2.ellipse(oval, centre, (round(FACE_W * 0.58), round(FACE_H * 0.6)), 0, 0, 360, 1.0, -1)
    alpha = cv2.GaussianBlur(np.minimum(oval, (inside > 0.99).astype(np.float32)), (0, 0), 3)
    return Crop(str(path.relative_to(dataset)), label, patch, alpha, (0.0, 0.0, 0.0, 0.0), 0.0)


def _intended(x: int, y: int) -> Box:
    """The face box a crop pasted at (x, y) was cut for."""
    left, top = x + (PATCH_W - FACE_W) / 2, y + (PATCH_H - FACE_H) / 2
    return (left, top, left + FACE_W, top + FACE_H)


def _check(crop: Crop, detector, still: np.ndarray) -> Crop | None:
    """The crop with its detected face box, if on a still frame the detector finds exactly it, labels it as
    its folder says with confidence >= MIN_CONFIDENCE, and judges it so too, scoring MIN_SCORE or more; else None."""
    x, y = (SIZE[0] - PATCH_W) // 2, (SIZE[1] - PATCH_H) // 2
    frame = still.copy()
    paste(frame, crop, x, y)
    faces = detector(frame)
    if len(faces) != 1:
        return None
    [face] = faces
    if (face.label != crop.label or face.state != crop.label or face.confidence < MIN_CONFIDENCE
            or face.score < MIN_SCORE or iou(face.box, _intended(x, y)) < MIN_IOU):
        return None
    x1, y1, x2, y2 = face.box
    return Crop(crop.file, crop.label, crop.image, crop.alpha, (x1 - x, y1 - y, x2 - x, y2 - y),
                float(face.confidence))


def pick_crops(dataset: Path, label: str, count: int, detector, still: np.ndarray | None = None) -> list[Crop]:
    """The first `count` photos of `dataset/label` (sorted by name) whose face passes `_check`."""
    still = background() if still is None else still
    chosen = []
    files = sorted(p for p in (dataset / label).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    for path in files[:MAX_CHECKED]:
        crop = _cut(path, dataset, label, detector)
        crop = crop and _check(crop, detector, still)
        if crop is not None:
            chosen.append(crop)
            if len(chosen) == count:
                return chosen
    raise RuntimeError(f"only {len(chosen)} of the first {MAX_CHECKED} {label} photos pass; {count} needed")


# A script says, for a frame, which person shows which crop where: (key, crop, x, y) of each patch's top-left
# corner, in drawing order (the later is in front).
Placement = tuple[str, Crop, int, int]


@dataclass
class Script:
    name: str
    length: int
    place: Callable[[int], list[Placement]]
    switches: dict[str, int]
    persons: int


def _along(start: tuple[float, float], end: tuple[float, float], t: float, bob: float = 0.0) -> tuple[int, int]:
    """Position at fraction t of a straight walk, with a small up-and-down step of `bob` pixels."""
    x = start[0] + (end[0] - start[0]) * t
    y = start[1] + (end[1] - start[1]) * t + bob * math.sin(2 * math.pi * t * 5)
    return round(x), round(y)


def scripts(with_mask: list[Crop], without_mask: list[Crop]) -> list[Script]:
    """The four scripts, from 2 crops with a mask and 3 without."""
    bare_walker, bare_stander, bare_crosser = without_mask[:3]
    masked_stander, masked_crosser = with_mask[:2]

    def walk(i: int) -> list[Placement]:
        if not 3 <= i <= 56:
            return []
        return [("walker", bare_walker, *_along((30, 160), (490, 170), (i - 3) / 53, bob=4))]

    switch = 33

    def mask_on(i: int) -> list[Placement]:
        crop = bare_stander if i < switch else masked_stander
        return [("stander", crop, *_along((220, 150), (300, 150), i / 65))]

    def crossing(i: int) -> list[Placement]:
        t = i / 79
        return [("masked", masked_crosser, *_along((20, 70), (500, 70), t, bob=3)),
                ("bare", bare_crosser, *_along((500, 170), (20, 170), t, bob=3))]

    return [Script("walk", 60, walk, {}, 1), Script("mask_on", 66, mask_on, {"stander": switch}, 1),
            Script("crossing", 80, crossing, {}, 2), Script("empty", 30, lambda i: [], {}, 0)]


def render(script: Script, path: Path, still: np.ndarray | None = None) -> Clip:
    """Write the script's clip as mp4 and return it with its truth."""
    still = background() if still is None else still
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path}")
    frames: list[list[Truth]] = []
    crops: dict[str, list[str]] = {}
    try:
        for i in range(script.length):
            frame = still.copy()
            truths = []
            for key, crop, x, y in script.place(i):
                if not (0 <= x <= SIZE[0] - PATCH_W and 0 <= y <= SIZE[1] - PATCH_H):
                    raise ValueError(f"{script.name}: {key} out of the frame at frame {i}")
                paste(frame, crop, x, y)
                fx1, fy1, fx2, fy2 = crop.face
                truths.append(Truth(key, (x + fx1, y + fy1, x + fx2, y + fy2), crop.label))
                if crop.file not in crops.setdefault(key, []):
                    crops[key].append(crop.file)
            frames.append(truths)
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return Clip(script.name, path, frames, dict(script.switches), script.persons, crops)


def make_clips(dataset: Path, out: Path, detector=None) -> dict[str, Clip]:
    """All scripted clips under `out`, by name; `detector` is a `MaskDetector("accurate")` (made if None)."""
    if detector is None:
        from maskwatch.vision.pipeline import MaskDetector

        detector = MaskDetector("accurate")
    still = background()
    with_mask = pick_crops(dataset, "with_mask", 2, detector, still)
    without_mask = pick_crops(dataset, "without_mask", 3, detector, still)
    out.mkdir(parents=True, exist_ok=True)
    return {s.name: render(s, out / f"{s.name}.mp4", still) for s in scripts(with_mask, without_mask)}
