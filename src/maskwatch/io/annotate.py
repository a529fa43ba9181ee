"""Boxes and label tags drawn onto a frame, sized to the image so they read the same on 320 px and on 4K."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from maskwatch.vision.results import Face

# RGB, since frames are RGB; None is a face the classifier has not labelled (yet).
COLOURS: dict[str | None, tuple[int, int, int]] = {
    "with_mask": (0, 170, 0),
    "without_mask": (220, 30, 30),
    "mask_weared_incorrect": (240, 130, 0),
    None: (128, 128, 128),
}
FONT = cv2.FONT_HERSHEY_SIMPLEX
WHITE = (255, 255, 255)


def draw(image: np.ndarray, faces: Sequence[Face], fps: float | None = None) -> np.ndarray:
    """A copy of the RGB `image` with a coloured box and a "label 97%" tag per face, and the fps top left."""
    out = image.copy()
    height, width = out.shape[:2]
    unit = max(height, width) / 640  # 1 on a 640 px frame
    scale, thickness = max(0.4, 0.6 * unit), max(1, round(2 * unit))
    text_thickness = max(1, round(unit))
    for face in faces:
        colour = COLOURS.get(face.label, COLOURS["mask_weared_incorrect"])
        x1, y1, x2, y2 = np.clip(np.round(face.box), 0, [width - 1, height - 1] * 2).astype(int).tolist()
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness, cv2.LINE_AA)
        share = face.score if face.confidence is None else face.confidence
        _tag(out, f"{face.label or 'face'} {share:.0%}", x1, y1, colour, scale, text_thickness)
    if fps is not None:
        _tag(out, f"{fps:.1f} fps", 0, 0, (0, 0, 0), scale, text_thickness)
    return out


def _tag(out: np.ndarray, text: str, x: int, y: int, colour: tuple, scale: float, thickness: int) -> None:
    """White text on a filled box whose bottom-left is (x, y), moved down/left to stay inside the image."""
    (tw, th), baseline = cv2.getTextSize(text, FONT, scale, thickness)
    pad = max(2, th // 4)
    box_h, box_w = th + baseline + 2 * pad, tw + 2 * pad
    x = max(0, min(x, out.shape[1] - box_w))
    top = y - box_h if y >= box_h else y  # no room above: put it just inside the box
    cv2.rectangle(out, (x, top), (x + box_w, top + box_h), colour, cv2.FILLED)
    cv2.putText(out, text, (x + pad, top + pad + th), FONT, scale, WHITE, thickness, cv2.LINE_AA)
