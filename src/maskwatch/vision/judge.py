"""When to say "unknown" instead of a guess: a face too small, too turned away, or a classification too
unsure, to judge.

Calling a bare face masked is the costliest error (a missed violation), so a `with_mask` label needs more
confidence than a `without_mask` one. The thresholds were chosen by measurement on the development scenes
of mask-detect (docs/decisions/2026-11-unknown-rule.md and 2026-11-turned-away-floor.md).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from maskwatch.core.classes import JUDGED, UNKNOWN, WITH_MASK
from maskwatch.core.faces import Face


@dataclass(frozen=True)
class UnknownRule:
    min_side: float = 16.0  # px, long side of the face box in the original image
    min_confidence: float = 0.5  # for any label
    min_confidence_masked: float = 0.9  # for with_mask (the compliant label needs the most evidence)
    # Eye distance over box width, from the detector's landmarks: a face turned away (profile, from behind,
    # head down) shows too little to judge; under 0.1 nearly half the masked faces were called bare.
    min_frontal: float = 0.15
    # A face the detector itself is unsure of (score under this: dim, blurred, seen from above) needs the
    # with_mask confidence for any label: head-down masked faces of dim hallway cameras were called bare
    # at p 0.6-0.9 on such detections; on development scenes this costs 0.4 points of coverage.
    weak_score: float = 0.6

    def state(self, face: Face) -> str:
        """The face's own label where it can be judged, else "unknown"."""
        if face.label not in JUDGED or face.confidence is None or face.side < self.min_side:
            return UNKNOWN  # unlabelled, or the classifier's reject class (not a face)
        if face.frontal is not None and face.frontal < self.min_frontal:
            return UNKNOWN
        strict = face.label == WITH_MASK or face.score < self.weak_score
        needed = self.min_confidence_masked if strict else self.min_confidence
        return face.label if face.confidence >= needed else UNKNOWN

    def judged(self, faces: list[Face]) -> list[Face]:
        return [replace(face, state=self.state(face)) for face in faces]


DEFAULT_RULE = UnknownRule()
