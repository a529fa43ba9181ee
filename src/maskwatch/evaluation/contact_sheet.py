"""A contact sheet of a model's mistakes: seeing the faces it gets wrong says more than a confusion matrix.

Each tile is the crop the classifier saw, captioned with the true class, the predicted class and its
probability; tiles are grouped by true class, surest mistakes first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from maskwatch.core.classes import INCORRECT, WITH_MASK, WITHOUT_MASK
from maskwatch.core.errors import InvalidInput
from maskwatch.io.atomic import atomic_write_bytes

TILE = 128
CAPTION = 30
COLUMNS = 10
MAX_TILES = 300
SHORT = {WITH_MASK: "mask", WITHOUT_MASK: "bare", INCORRECT: "wrong"}


@dataclass(frozen=True)
class Mistake:
    image: np.ndarray  # the crop as the classifier saw it, RGB
    truth: str
    predicted: str
    probability: float  # of the predicted class
    name: str  # the file (and box) it came from


def mistakes(images: np.ndarray, truth: np.ndarray, probs: np.ndarray, labels: list[str],
             names: list[str], predicted: np.ndarray | None = None) -> list[Mistake]:
    """The misclassified samples (by `predicted`, default the most probable class), grouped by true class,
    surest first."""
    predicted = probs.argmax(1) if predicted is None else predicted
    wrong = np.flatnonzero(predicted != truth)
    found = [Mistake(images[i], labels[truth[i]], labels[predicted[i]], float(probs[i, predicted[i]]), names[i])
             for i in wrong]
    return sorted(found, key=lambda m: (m.truth, -m.probability))


def _tile(mistake: Mistake) -> np.ndarray:
    tile = np.full((TILE + CAPTION, TILE, 3), 255, np.uint8)
    tile[:TILE] = cv2.resize(mistake.image, (TILE, TILE), interpolation=cv2.INTER_AREA)
    text = (f"{SHORT.get(mistake.truth, mistake.truth[:6])}>{SHORT.get(mistake.predicted, mistake.predicted[:6])}"
            f" {mistake.probability:.2f}")
    cv2.putText(tile, text, (3, TILE + 20), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return tile


def write_contact_sheet(found: list[Mistake], path: Path) -> int:
    """Write the first MAX_TILES mistakes as one JPEG or PNG (by `path`'s suffix); the number drawn."""
    shown = found[:MAX_TILES]
    rows = max(1, -(-len(shown) // COLUMNS))
    sheet = np.full((rows * (TILE + CAPTION), COLUMNS * TILE, 3), 255, np.uint8)
    for k, mistake in enumerate(shown):
        r, c = divmod(k, COLUMNS)
        sheet[r * (TILE + CAPTION):(r + 1) * (TILE + CAPTION), c * TILE:(c + 1) * TILE] = _tile(mistake)
    ok, encoded = cv2.imencode(path.suffix, cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    if not ok:
        raise InvalidInput(f"{path}: cannot write a contact sheet as {path.suffix!r}; use .jpg or .png")
    atomic_write_bytes(path, encoded.tobytes())
    return len(shown)
