"""Training samples for the face detector: annotated scenes, changed as cameras change faces, and the
CenterNet targets CenterFace learns from.

Cameras show faces of 10-40 px, blurred, dim and JPEG-compressed; photos and selfies show faces of hundreds.
Each sample is a random crop of a scene, most of them around one of its faces resized to a random size
between a few pixels and most of the crop (zoomed out and in: a detector taught one collection's sizes
loses the others), maybe flipped, blurred, darkened and re-encoded. Faces too small or too cut to be fair
to ask for are "ignored": neither a face to find nor background to suppress.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from maskwatch.core.errors import InvalidInput
from maskwatch.data.voc import Scene, holdout, scan_scenes
from maskwatch.io.images import UnreadableImage, read_image

log = logging.getLogger(__name__)

STRIDE = 4  # CenterFace's output maps are at 1/4 of the input
MAX_FACES = 160  # per sample, for fixed tensor shapes; more are ignored (the busiest scene has 115)


class DetectorDataError(InvalidInput):
    """Annotated scenes that cannot train a detector; the message is one line."""


@dataclass(frozen=True)
class Augment:
    """How samples differ from the scene photos."""

    crop: int = 448  # square crop side in pixels (a multiple of 32)
    # the long side a crop's chosen face is resized to, log-uniform: from specks to the largest size the
    # detector's passes hand it (vision.passes.GOOD_FACES), and a little beyond
    # (at most 85% of the crop); None: every crop resized by `scale`
    face_sizes: tuple[float, float] | None = (6.0, 380.0)
    scale: tuple[float, float] = (0.5, 3.0)  # resize factor, log-uniform, of crops not chosen around a face
    flip: float = 0.5
    blur: float = 0.3  # share of samples blurred (Gaussian, sigma 0.5-1.5 px)
    dark: float = 0.25  # share darkened (gain 0.25-0.7, gamma, sensor noise)
    jpeg: float = 0.4  # share re-encoded at JPEG quality 25-80
    min_face: float = 5.0  # px: smaller faces are ignored
    min_visible: float = 0.6  # a face cut by the crop to less of its area is ignored


@dataclass
class SceneImages:
    """Decoded scenes with their face boxes (float32 Nx4), and what was left out."""

    images: list[np.ndarray]
    boxes: list[np.ndarray]
    names: list[str]
    collections: list[str] = field(default_factory=list)  # the VOC folder each scene came from
    skipped: list[str] = field(default_factory=list)
    without_faces: int = 0
    outside: int = 0  # boxes that lie wholly outside their image: annotations that teach nothing

    @property
    def faces(self) -> int:
        return int(sum(len(b) for b in self.boxes))


def development_scenes(voc_dirs: Sequence[Path]) -> list[Scene]:
    """Every scene of the folders except the fixed hold-out of `evaluate --scenes --held-out`, in folder order."""
    scenes = []
    for voc_dir in voc_dirs:
        try:
            found = scan_scenes(voc_dir)
        except ValueError as error:
            raise DetectorDataError(str(error)) from None
        scenes += [s for s in found if not holdout(s.image.name)]
    if not scenes:
        raise DetectorDataError(f"no annotated development scenes in {', '.join(map(str, voc_dirs))}")
    return scenes


def load_scenes(scenes: Sequence[Scene]) -> SceneImages:
    """Decode every scene once; every box is a face, whatever its class. An image that does not decode is
    skipped with a warning; a scene without faces is kept (it teaches what is not a face)."""
    loaded = SceneImages([], [], [])
    for scene in scenes:
        try:
            image = read_image(scene.image)
        except (UnreadableImage, OSError) as error:
            log.warning("skipped %s", error)
            loaded.skipped.append(str(error))
            continue
        boxes = np.array([b.box for b in scene.boxes], np.float32).reshape(-1, 4)
        height, width = image.shape[:2]
        inside = ((np.minimum(boxes[:, 2], width) - np.maximum(boxes[:, 0], 0) >= 1)
                  & (np.minimum(boxes[:, 3], height) - np.maximum(boxes[:, 1], 0) >= 1))
        loaded.outside += int((~inside).sum())
        loaded.images.append(image)
        loaded.boxes.append(boxes[inside])
        loaded.names.append(scene.image.name)
        loaded.collections.append(scene.image.parent.parent.name)
        loaded.without_faces += not scene.boxes
    if loaded.outside:
        log.warning("left out %d face box(es) that lie wholly outside their image", loaded.outside)
    if loaded.faces == 0:
        outside = f" ({loaded.outside} box(es) lie wholly outside their image)" if loaded.outside else ""
        raise DetectorDataError(f"none of the {len(scenes)} scenes has a readable image with an annotated face"
                                f"{outside}")
    return loaded


def faces_by_class(scenes: Sequence[Scene]) -> dict[str, int]:
    return dict(Counter(b.name for s in scenes for b in s.boxes))


def _resize(image: np.ndarray, factor: float) -> np.ndarray:
    h, w = image.shape[:2]
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)


def camera_look(crop: np.ndarray, rng: np.random.Generator, augment: Augment) -> np.ndarray:
    """Blur, low light and JPEG artefacts, each with its own chance."""
    if rng.random() < augment.blur:
        crop = cv2.GaussianBlur(crop, (0, 0), rng.uniform(0.5, 1.5))
    if rng.random() < augment.dark:
        light = (crop.astype(np.float32) / 255) ** rng.uniform(1.0, 1.6) * rng.uniform(0.25, 0.7)
        light += rng.normal(0, rng.uniform(0.005, 0.03), light.shape).astype(np.float32)
        crop = np.clip(light * 255, 0, 255).astype(np.uint8)
    if rng.random() < augment.jpeg:
        ok, data = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(25, 81))])
        crop = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if ok else crop
    return crop


def sample(image: np.ndarray, boxes: np.ndarray, rng: np.random.Generator,
           augment: Augment) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One training crop of a scene: (crop RGB uint8, face boxes, ignored boxes), boxes in crop pixels."""
    size = augment.crop
    around = len(boxes) > 0 and rng.random() < 0.8  # most crops hold a face, at a chosen size and place
    if around:
        chosen = boxes[rng.integers(len(boxes))]
    if around and augment.face_sizes:
        side = float(max(chosen[2] - chosen[0], chosen[3] - chosen[1], 1.0))
        low, high = augment.face_sizes[0], min(augment.face_sizes[1], 0.85 * size)
        factor = float(np.exp(rng.uniform(np.log(low), np.log(high)))) / side
    else:
        factor = float(np.exp(rng.uniform(*np.log(augment.scale))))
    scaled = _resize(image, factor)
    boxes = boxes * factor
    h, w = scaled.shape[:2]
    if around:
        x1, y1, x2, y2 = chosen * factor
        left = int((x1 + x2) / 2 - rng.uniform(0.1, 0.9) * size)
        top = int((y1 + y2) / 2 - rng.uniform(0.1, 0.9) * size)
    else:
        left = int(rng.integers(min(0, w - size), max(0, w - size) + 1))
        top = int(rng.integers(min(0, h - size), max(0, h - size) + 1))
    crop = np.zeros((size, size, 3), np.uint8)
    sx1, sy1, sx2, sy2 = max(left, 0), max(top, 0), min(left + size, w), min(top + size, h)
    if sx2 > sx1 and sy2 > sy1:
        crop[sy1 - top:sy2 - top, sx1 - left:sx2 - left] = scaled[sy1:sy2, sx1:sx2]
    boxes = boxes - [left, top, left, top]
    if rng.random() < augment.flip:
        crop = np.ascontiguousarray(crop[:, ::-1])
        boxes = np.stack([size - boxes[:, 2], boxes[:, 1], size - boxes[:, 0], boxes[:, 3]], 1)
    crop = camera_look(crop, rng, augment)
    clipped = np.clip(boxes, 0, size)
    area = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    visible = np.prod(np.clip(clipped[:, 2:] - clipped[:, :2], 0, None), axis=1)
    inside = visible > 0
    long_side = np.max(boxes[:, 2:] - boxes[:, :2], axis=1) if len(boxes) else np.zeros(0)
    fair = inside & (visible >= augment.min_visible * area) & (long_side >= augment.min_face)
    return crop, clipped[fair], clipped[inside & ~fair]


def gaussian_radius(height: float, width: float, min_overlap: float = 0.7) -> float:
    """CenterNet's radius: how far a centre may move with the box still overlapping the truth by
    `min_overlap` IoU (the smallest of its three cases)."""
    b1, c1 = height + width, width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + np.sqrt(b1 ** 2 - 4 * c1)) / 2
    b2, c2 = 2 * (height + width), (1 - min_overlap) * width * height
    r2 = (b2 + np.sqrt(b2 ** 2 - 16 * c2)) / 2
    a3, b3, c3 = 4 * min_overlap, -2 * min_overlap * (height + width), (min_overlap - 1) * width * height
    r3 = (b3 + np.sqrt(b3 ** 2 - 4 * a3 * c3)) / 2
    return float(min(r1, r2, r3))


@dataclass(frozen=True)
class Targets:
    """What CenterFace's heads should output for one sample, at stride 4 (H, W = crop / 4)."""

    heatmap: np.ndarray  # (H, W) float32: 1 at face centres, Gaussian around them
    ignore: np.ndarray  # (H, W) float32: 1 where no loss applies (ignored faces)
    index: np.ndarray  # (MAX_FACES,) int32: flat cell index of each face centre
    size: np.ndarray  # (MAX_FACES, 2) float32: log(h / 4), log(w / 4), as the size head predicts
    offset: np.ndarray  # (MAX_FACES, 2) float32: (y, x) of the centre within its cell, minus 0.5
    mask: np.ndarray  # (MAX_FACES,) float32: 1 for a real face


def targets(boxes: np.ndarray, ignored: np.ndarray, crop: int) -> Targets:
    cells = crop // STRIDE
    heat = np.zeros((cells, cells), np.float32)
    ignore = np.zeros((cells, cells), np.float32)
    for x1, y1, x2, y2 in ignored / STRIDE:
        ignore[int(y1):int(np.ceil(y2)), int(x1):int(np.ceil(x2))] = 1
    index = np.zeros(MAX_FACES, np.int32)
    size = np.zeros((MAX_FACES, 2), np.float32)
    offset = np.zeros((MAX_FACES, 2), np.float32)
    mask = np.zeros(MAX_FACES, np.float32)
    yy, xx = np.mgrid[:cells, :cells]
    for k, (x1, y1, x2, y2) in enumerate(boxes[:MAX_FACES]):
        h, w = (y2 - y1) / STRIDE, (x2 - x1) / STRIDE
        cy, cx = (y1 + y2) / 2 / STRIDE, (x1 + x2) / 2 / STRIDE
        iy, ix = min(int(cy), cells - 1), min(int(cx), cells - 1)
        sigma = (2 * max(0, int(gaussian_radius(h, w))) + 1) / 6
        blob = np.exp(-((yy - iy) ** 2 + (xx - ix) ** 2) / (2 * sigma * sigma))
        np.maximum(heat, blob, out=heat)
        heat[iy, ix] = 1.0
        index[k] = iy * cells + ix
        size[k] = np.log(max(h, 0.25)), np.log(max(w, 0.25))
        offset[k] = cy - iy - 0.5, cx - ix - 0.5
        mask[k] = 1
    ignore[heat > 0.5] = 0  # a face's own centre is never ignored, even inside another's ignored box
    return Targets(heat, ignore, index, size, offset, mask)
