"""Boxes and label tags drawn onto a frame, sized to the image so they read the same on 320 px and on 4K."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import cv2
import numpy as np

from maskwatch.core.classes import UNKNOWN
from maskwatch.core.faces import Face
from maskwatch.core.zones import Zone

SMALL_FACE = 40  # px wide on a 640 px frame: a face narrower gets a short, smaller tag
SHORT_NAMES = {"with_mask": "mask", "without_mask": "no mask", "mask_weared_incorrect": "worn wrong", "unknown": "?"}
# RGB, since frames are RGB; grey: a face that cannot be judged ("unknown") or is not labelled.
COLOURS: dict[str | None, tuple[int, int, int]] = {
    "with_mask": (0, 170, 0),
    "without_mask": (220, 30, 30),
    "mask_weared_incorrect": (240, 130, 0),
    "unknown": (128, 128, 128),
    None: (128, 128, 128),
}
FONT = cv2.FONT_HERSHEY_SIMPLEX
WHITE = (255, 255, 255)
ZONE_COLOUR = (0, 150, 255)  # zones in light blue, apart from the states' green, red, amber and grey


def draw(image: np.ndarray, faces: Sequence[Face], fps: float | None = None, zones: Sequence[Zone] = ()) -> np.ndarray:
    """A copy of the RGB `image` with a coloured box and a tag per face, the fps top left, and each zone's
    outline with its name.

    The tag says the state (the person's, in a video) and this frame's evidence for it: "#3 with_mask 97%";
    an unknown face says just "#3 unknown"."""
    out = image.copy()
    height, width = out.shape[:2]
    unit = max(height, width) / 640  # 1 on a 640 px frame
    scale, thickness = max(0.4, 0.6 * unit), max(1, round(2 * unit))
    text_thickness = max(1, round(unit))
    for zone in zones:
        corners = np.round(zone.polygon(width, height)).astype(np.int32)
        cv2.polylines(out, [corners], True, ZONE_COLOUR, thickness, cv2.LINE_AA)
        x, y = corners.min(axis=0).tolist()
        _tag(out, zone.name, max(0, x), max(0, y) + 1, ZONE_COLOUR, scale, text_thickness)
    for face in faces:
        state = drawn_state(face)
        colour = COLOURS.get(state, COLOURS["mask_weared_incorrect"])
        x1, y1, x2, y2 = np.clip(np.round(face.box), 0, [width - 1, height - 1] * 2).astype(int).tolist()
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness, cv2.LINE_AA)
        if x2 - x1 < SMALL_FACE * unit:  # a crowd's faces: short tags, which overlap less (as the serve page)
            _tag(out, tag_text(face, short=True), x1, y1, colour, 0.75 * scale, text_thickness)
        else:
            _tag(out, tag_text(face), x1, y1, colour, scale, text_thickness)
    if fps is not None:
        _tag(out, f"{fps:.1f} fps", 0, 0, (0, 0, 0), scale, text_thickness)
    return out


def drawn_state(face: Face) -> str | None:
    """The state a face is drawn in: its person's, else this frame's label (None: not labelled)."""
    return face.state or face.label


def drawn_counts(faces: Sequence[Face]) -> dict[str, int]:
    """The faces `draw` shows, by the state they are drawn in (unknown when not labelled): counts of the
    people in view that agree with the picture, tracked or not yet."""
    return dict(Counter(drawn_state(face) or UNKNOWN for face in faces))


def tag_text(face: Face, short: bool = False) -> str:
    """"#3 with_mask 97%": the person, the state, and this frame's evidence for that state; `short`: "mask
    97%", "no mask 91%", "?" for a small face."""
    state = drawn_state(face)
    evidence = face.score if state is None else face.probs.get(state, face.confidence if state == face.label
                                                             else None)
    person = "" if face.person is None or short else f"#{face.person}"
    share = "" if evidence is None or state == "unknown" else f"{evidence:.0%}"
    name = SHORT_NAMES.get(state or "", state or "face") if short else state or "face"
    return " ".join(part for part in (person, name, share) if part)


def _tag(out: np.ndarray, text: str, x: int, y: int, colour: tuple, scale: float, thickness: int) -> None:
    """White text on a filled box whose bottom-left is (x, y), moved down/left to stay inside the image."""
    (tw, th), baseline = cv2.getTextSize(text, FONT, scale, thickness)
    pad = max(2, th // 4)
    box_h, box_w = th + baseline + 2 * pad, tw + 2 * pad
    x = max(0, min(x, out.shape[1] - box_w))
    top = y - box_h if y >= box_h else y  # no room above: put it just inside the box
    cv2.rectangle(out, (x, top), (x + box_w, top + box_h), colour, cv2.FILLED)
    cv2.putText(out, text, (x + pad, top + pad + th), FONT, scale, WHITE, thickness, cv2.LINE_AA)
