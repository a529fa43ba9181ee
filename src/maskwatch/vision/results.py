"""The one result type every stage passes along: a face, its box and (once classified) its label."""

from __future__ import annotations

from dataclasses import dataclass, field


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
