"""Cutting face crops: one function, used by training and by detection, so both see faces framed alike."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

CROP_MARGIN = 0.15  # share of the face box's long side added on every side: keeps chin, mask and forehead
IMAGE_SIZE = 224


def square_box(box: Sequence[float], margin: float = CROP_MARGIN) -> tuple[int, int, int, int]:
    """The square around a face box, grown by `margin` of its long side on every side."""
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1) * (1 + 2 * margin)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left, top = round(cx - side / 2), round(cy - side / 2)
    size = max(1, round(side))
    return left, top, left + size, top + size


def face_crop(image: np.ndarray, box: Sequence[float], size: int = IMAGE_SIZE,
              margin: float = CROP_MARGIN) -> np.ndarray:
    """A `size` x `size` crop around `box`; parts outside the image repeat its edge pixels."""
    x1, y1, x2, y2 = square_box(box, margin)
    h, w = image.shape[:2]
    pad = max(0, -x1, -y1, x2 - w, y2 - h)
    if pad:
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    crop = image[y1 + pad:y2 + pad, x1 + pad:x2 + pad]
    return resize(crop, size)


def resize(image: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """Resize to size x size: area averaging when shrinking (no aliasing), bilinear when enlarging."""
    shrink = image.shape[0] > size or image.shape[1] > size
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
