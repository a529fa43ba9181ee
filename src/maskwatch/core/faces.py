"""The one result type every stage passes along: a face, its box and (once classified) its label."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import supervision as sv


@dataclass(frozen=True)
class Face:
    """A face found in an image: box in pixels of the original image as (x1, y1, x2, y2).

    `label`, `confidence` and `probs` are the classifier's verdict on this image alone. `state` is what
    maskwatch reports: on a single image the label, or "unknown" where the face is too small or the
    classifier too unsure to judge; in a video, the state of the `person` the face belongs to.
    """

    box: tuple[float, float, float, float]
    score: float
    label: str | None = None
    confidence: float | None = None
    probs: dict[str, float] = field(default_factory=dict)
    state: str | None = None
    person: int | None = None
    frontal: float | None = None  # eye distance / box width from the detector's landmarks: low = turned away
    # (x, y) in image pixels of the eyes, the nose tip and the mouth corners (CenterFace), for drawing
    # synthetic masks; not part of the JSON records
    landmarks: tuple[tuple[float, float], ...] | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict:
        return {
            "box": [round(float(v), 1) for v in self.box],
            "score": round(float(self.score), 4),
            "label": self.label,
            "confidence": None if self.confidence is None else round(float(self.confidence), 4),
            "probs": {k: round(float(v), 4) for k, v in self.probs.items()},
            "person": self.person,
            "state": self.state,
        }

    @property
    def side(self) -> float:
        """The long side of the box in pixels."""
        x1, y1, x2, y2 = self.box
        return max(x2 - x1, y2 - y1)


def to_detections(faces: Sequence[Face]) -> sv.Detections:
    """The faces as `supervision.Detections`, to draw or filter with supervision's tools: `xyxy`, `confidence`
    (the face score), `class_id` (the index of the state in `maskwatch.core.classes.STATES`, `unknown` = 0),
    `tracker_id` (the person, -1 for none) and, in `data`, each face's `state`, `label` and `confidence` of
    the label."""
    import numpy as np
    import supervision as sv

    from maskwatch.core.classes import STATES, UNKNOWN

    states = [face.state or UNKNOWN for face in faces]  # none: empty arrays, with the same fields to filter on
    return sv.Detections(
        xyxy=np.array([face.box for face in faces], np.float32).reshape(-1, 4),
        confidence=np.array([face.score for face in faces], np.float32),
        class_id=np.array([STATES.index(state) if state in STATES else 0 for state in states], int),
        tracker_id=np.array([-1 if face.person is None else face.person for face in faces], int),
        data={"state": np.array(states, dtype=str), "label": np.array([face.label or "" for face in faces], dtype=str),
              "label_confidence": np.array([np.nan if face.confidence is None else face.confidence for face in faces],
                                           np.float64)},
    )
