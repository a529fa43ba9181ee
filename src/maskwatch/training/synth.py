"""`maskwatch synth`: masks of varied shape, colour and texture drawn onto bare faces, worn right (nose to
chin) and wrong (under the nose, or on the chin), placed by the detector's 5 landmarks.

The public sets of masks worn wrong are one blue surgical template warped onto faces; a model trained on
them alone can learn the template instead of the nose. These masks differ in colour (surgical blue, white,
black, grey, navy, pink, patterned), shape (pleated surgical, rounded cloth, pointed N95-like), shading and
texture, and follow the face's roll. The same face is drawn in each position, so the only thing that
tells the classes apart is where the mask sits; `manifest.csv` names each output's source face (and lists
each source face itself), for `train --groups OUT/manifest.csv:source` to keep a face's masked versions
and its bare original in one split.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from maskwatch.core.classes import INCORRECT, WITH_MASK
from maskwatch.core.faces import Face
from maskwatch.io.atomic import atomic_path
from maskwatch.io.images import IMAGE_SUFFIXES, UnreadableImage, iter_files, read_image, write_image
from maskwatch.io.progress import progress
from maskwatch.vision.centerface import CenterFace
from maskwatch.vision.crops import face_crop

log = logging.getLogger(__name__)

COLOURS = [(170, 205, 230), (120, 170, 220), (245, 245, 245), (30, 30, 35), (120, 120, 125), (40, 50, 90),
           (235, 170, 190), (90, 140, 100), (200, 190, 160)]  # RGB
SHAPES = ("surgical", "cloth", "n95")
POSITIONS = {WITH_MASK: ("right",), INCORRECT: ("under_nose", "on_chin")}
CROP_SIZE = 256
MIN_FACE = 48  # px: smaller faces have landmarks too rough to place a mask by


@dataclass(frozen=True)
class Style:
    colour: tuple[int, int, int]
    shape: str
    pattern: str  # plain, stripes, dots, noise
    shade: float  # 0..0.4: darker towards the edges


def random_style(rng: np.random.Generator) -> Style:
    return Style(COLOURS[rng.integers(len(COLOURS))], SHAPES[rng.integers(len(SHAPES))],
                 ("plain", "plain", "stripes", "dots", "noise")[rng.integers(5)], float(rng.uniform(0, 0.4)))


def face_frame(face: Face) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Origin (between the eyes), unit vectors across and down the face, and the eye distance."""
    eyes = np.array(face.landmarks[:2])
    left, right = eyes[eyes[:, 0].argmin()], eyes[eyes[:, 0].argmax()]
    across = right - left
    distance = float(np.linalg.norm(across))
    across = across / max(distance, 1e-6)
    down = np.array([-across[1], across[0]])
    return (left + right) / 2, across, down, distance


def mask_polygon(face: Face, position: str, shape: str) -> np.ndarray:
    """The outline of a mask in image pixels: its top edge over the nose bridge (right), just under the
    nose tip (under_nose) or under the mouth (on_chin), its bottom under the chin."""
    origin, across, down, eye = face_frame(face)
    nose = np.array(face.landmarks[2])
    mouth = (np.array(face.landmarks[3]) + np.array(face.landmarks[4])) / 2
    nose_depth, mouth_depth = float((nose - origin) @ down), float((mouth - origin) @ down)
    chin_depth = mouth_depth + 0.75 * (mouth_depth - nose_depth) + 0.25 * eye
    top = {"right": 0.3 * nose_depth, "under_nose": nose_depth + 0.3 * (mouth_depth - nose_depth),
           "on_chin": mouth_depth + 0.35 * (chin_depth - mouth_depth)}[position]
    bottom = chin_depth + (0.12 if position == "on_chin" else 0.05) * eye
    half_top, half = 0.55 * eye, 1.0 * eye
    if shape == "n95":  # a pointed cone: narrow top, wide middle, round bottom
        outline = [(-0.3 * half, top), (0.0, top - 0.08 * eye), (0.3 * half, top), (half, (top + bottom) / 2),
                   (0.5 * half, bottom), (0.0, bottom + 0.05 * eye), (-0.5 * half, bottom), (-half, (top + bottom) / 2)]
    else:
        curve = 0.18 if shape == "cloth" else 0.06
        bottom_arc = [(half * np.cos(a), bottom - (bottom - top) * 0.35 + (bottom - top) * (0.35 + curve)
                       * np.sin(a)) for a in np.linspace(0.15, np.pi - 0.15, 9)]
        outline = [(-half_top, top), (half_top, top), (half, top + 0.35 * (bottom - top)), *bottom_arc,
                   (-half, top + 0.35 * (bottom - top))]
    return np.array([origin + x * across + y * down for x, y in outline], np.float32)


def draw_mask(image: np.ndarray, face: Face, position: str, style: Style, rng: np.random.Generator) -> np.ndarray:
    """A copy of the RGB image with a mask on the face."""
    polygon = mask_polygon(face, position, style.shape)
    h, w = image.shape[:2]
    region = np.zeros((h, w), np.uint8)
    cv2.fillPoly(region, [np.round(polygon).astype(np.int32)], 255)
    cloth = np.empty_like(image)
    cloth[:] = style.colour
    cloth = _texture(cloth, region, style, rng)
    # shade: darker away from the centre line, as a curved surface catches less light
    distance = cv2.distanceTransform((region > 0).astype(np.uint8), cv2.DIST_L2, 5)
    light = 1 - style.shade * (1 - np.clip(distance / max(distance.max(), 1), 0, 1))
    cloth = np.clip(cloth * light[..., None], 0, 255)
    alpha = cv2.GaussianBlur(region.astype(np.float32) / 255, (0, 0), max(1.0, 0.01 * max(h, w)))[..., None]
    out = image * (1 - alpha) + cloth * alpha
    _, across, _, eye = face_frame(face)
    sides = (polygon - polygon.mean(0)) @ across
    for end in (polygon[sides.argmin()], polygon[sides.argmax()]):  # ear loops, from the mask's sides outwards
        target = end + np.sign((end - polygon.mean(0)) @ across) * across * 0.35 * eye
        cv2.line(out, tuple(np.round(end).astype(int)), tuple(np.round(target).astype(int)),
                 tuple(int(c * 0.8) for c in style.colour), max(1, round(0.04 * eye)), cv2.LINE_AA)
    return out.astype(np.uint8)


def _texture(cloth: np.ndarray, region: np.ndarray, style: Style, rng: np.random.Generator) -> np.ndarray:
    ys, xs = np.nonzero(region)
    if len(ys) == 0:
        return cloth
    out = cloth.astype(np.float32)
    span = max(ys.max() - ys.min(), 1)
    if style.shape == "surgical":  # pleats
        for k in (0.3, 0.5, 0.7):
            y = int(ys.min() + k * span)
            out[max(0, y - 1):y + 1] *= 0.82
    if style.pattern == "stripes":
        period = max(3, span // 6)
        out[(np.arange(out.shape[0]) // period) % 2 == 1] *= 0.75
    elif style.pattern == "dots":
        for _ in range(40):
            y, x = ys[rng.integers(len(ys))], xs[rng.integers(len(xs))]
            cv2.circle(out, (int(x), int(y)), max(1, span // 25), tuple(float(c) for c in rng.integers(0, 255, 3)), -1)
    elif style.pattern == "noise":
        out += rng.normal(0, 14, out.shape)
    return np.clip(out, 0, 255)


def faces_with_landmarks(image: np.ndarray, detector: CenterFace) -> Face | None:
    """The largest face of the image if it is big and turned enough to place a mask on."""
    faces = [f for f in detector.detect(image) if f.landmarks and f.side >= MIN_FACE and (f.frontal or 0) >= 0.3]
    return max(faces, key=lambda f: f.side, default=None)


def synthesise(sources: list[Path], out: Path, per_face: int, seed: int) -> dict[str, int]:
    """Masked versions of every usable bare face below `sources`: `per_face` worn right and as many worn
    wrong (half under the nose, half on the chin), as face crops in OUT/CLASS/, with OUT/manifest.csv."""
    rng = np.random.default_rng(seed)
    detector = CenterFace(threshold=0.5, scale=1.0)
    files = [path for source in sources for path in iter_files(source, IMAGE_SUFFIXES)]
    counts = {WITH_MASK: 0, INCORRECT: 0, "no usable face": 0, "unreadable": 0}
    for label in POSITIONS:
        (out / label).mkdir(parents=True, exist_ok=True)
    with _manifest(out) as writer:
        for index, (path, image) in enumerate(_readable(files, counts, "Drawing masks")):
            face = faces_with_landmarks(image, detector)
            if face is None:
                counts["no usable face"] += 1
                continue
            writer.writerow([str(path.absolute()), "", "", "", "", "", str(path)])  # the bare original: same group
            for label, position, style in _plan(per_face, rng):
                drawn = draw_mask(image, face, position, style, rng)
                crop = face_crop(drawn, face.box, CROP_SIZE)
                name = f"{label}/{index:05d}-{position}-{style.shape}-{counts[label]:05d}.jpg"
                write_image(out / name, crop)
                writer.writerow([name, label, position, style.shape, "#{:02x}{:02x}{:02x}".format(*style.colour),
                                 style.pattern,
                                 str(path)])
                counts[label] += 1
    return counts


@contextmanager
def _manifest(out: Path) -> Iterator[Any]:
    """A csv writer of OUT/manifest.csv, with its header; the file appears whole when the block ends."""
    with atomic_path(out / "manifest.csv") as tmp, tmp.open("w", newline="", encoding="utf-8") as table:
        writer = csv.writer(table)
        writer.writerow(["file", "class", "position", "shape", "colour", "pattern", "source"])
        yield writer


def _readable(files: list[Path], counts: dict[str, int], desc: str) -> Iterator[tuple[Path, np.ndarray]]:
    """(path, RGB image) of each file that decodes, with a progress bar; the others are counted."""
    for path in progress(files, desc=desc, unit="face"):
        try:
            image = read_image(path)
        except UnreadableImage:
            counts["unreadable"] += 1
            continue
        yield path, image


def _plan(per_face: int, rng: np.random.Generator) -> Iterator[tuple[str, str, Style]]:
    for i in range(per_face):
        yield WITH_MASK, "right", random_style(rng)
        yield INCORRECT, POSITIONS[INCORRECT][i % 2], random_style(rng)


BLUE_HUE = (88, 125)  # OpenCV hue (0-180) of the light-blue surgical template of MaskedFace-Net


def mask_region(image: np.ndarray) -> np.ndarray:
    """Where a light-blue surgical mask is: the largest saturated blue area (0..1, soft edged)."""
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
    blue = ((hsv[..., 0] >= BLUE_HUE[0]) & (hsv[..., 0] <= BLUE_HUE[1]) & (hsv[..., 1] >= 40)).astype(np.uint8)
    blue = cv2.morphologyEx(blue, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(blue)
    if count < 2:
        return np.zeros(image.shape[:2], np.float32)
    largest = 1 + int(stats[1:, cv2.CC_STAT_AREA].argmax())
    region = (labels == largest).astype(np.float32)
    return cv2.GaussianBlur(region, (0, 0), 1.0)


def recolour(image: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """The image with its blue surgical mask in another colour, shade and texture (None: no mask found).
    Augmentation against a model that learns "light blue" instead of "where the mask sits"."""
    region = mask_region(image)
    if region.mean() < 0.02:
        return None
    style = random_style(rng)
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    # keep the folds and shading of the original (its brightness), in the new colour
    light = grey / max(float(np.percentile(grey[region > 0.5], 90)), 1.0)
    cloth = np.clip(np.asarray(style.colour, np.float32) * light[..., None], 0, 255)
    cloth = _texture(cloth, (region > 0.5).astype(np.uint8), style, rng)
    alpha = region[..., None]
    return (image * (1 - alpha) + cloth * alpha).astype(np.uint8)


def recolour_folders(sources: list[Path], out: Path, seed: int) -> dict[str, int]:
    """A recoloured copy of every image with a blue surgical mask in the class folders `sources`, into
    OUT/<folder name>/, with OUT/manifest.csv naming each copy's source (and each source) for --groups."""
    rng = np.random.default_rng(seed)
    counts = {"recoloured": 0, "no mask found": 0, "unreadable": 0}
    with _manifest(out) as writer:
        for source in sources:
            (out / source.name).mkdir(parents=True, exist_ok=True)
            files = list(iter_files(source, IMAGE_SUFFIXES))
            for path, image in _readable(files, counts, f"Recolouring {source.name}"):
                copy = recolour(image, rng)
                if copy is None:
                    counts["no mask found"] += 1
                    continue
                name = f"{source.name}/{path.stem}-recoloured.jpg"
                write_image(out / name, copy)
                writer.writerow([name, source.name, "", "", "", "", str(path)])
                writer.writerow([str(path.absolute()), "", "", "", "", "", str(path)])
                counts["recoloured"] += 1
    return counts
