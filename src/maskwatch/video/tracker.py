"""Carrying labels from frame to frame of a video, so each face is not re-classified on every frame.

A face that overlaps a face of the previous frame (IoU >= `min_iou`) is the same person: it reuses that
classification, which is refreshed every `refresh` frames and averaged over time (an exponential moving
average of the probabilities), so labels do not flicker on a live view. New faces are classified at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from maskwatch.evaluation.scene_metrics import iou
from maskwatch.vision.classifier import MaskClassifier
from maskwatch.vision.results import Face


@dataclass
class _Track:
    face: Face
    probs: np.ndarray
    age: int  # frames since it was last classified


class LabelTracker:
    """Classify faces of consecutive frames, re-using and smoothing labels of faces that stay in view."""

    def __init__(self, classifier: MaskClassifier, refresh: int = 5, min_iou: float = 0.3, smoothing: float = 0.5):
        self.classifier, self.refresh, self.min_iou, self.smoothing = classifier, refresh, min_iou, smoothing
        self.tracks: list[_Track] = []

    def reset(self) -> None:
        """Forget every face (a new video or stream starts)."""
        self.tracks = []

    def __call__(self, image: np.ndarray, faces: list[Face]) -> list[Face]:
        matches: list[_Track | None] = [None] * len(faces)
        if self.tracks and faces:
            overlap = iou(np.array([f.box for f in faces]), np.array([t.face.box for t in self.tracks]))
            for i, j in sorted(np.argwhere(overlap >= self.min_iou), key=lambda ij: -overlap[ij[0], ij[1]]):
                if matches[i] is None and all(m is not self.tracks[j] for m in matches):
                    matches[i] = self.tracks[j]
        stale = [i for i, m in enumerate(matches) if m is None or m.age + 1 >= self.refresh]
        fresh = self.classifier.classify(image, [faces[i] for i in stale])
        probs = {i: np.array(list(f.probs.values())) for i, f in zip(stale, fresh, strict=True)}
        tracks = []
        for i, (face, match) in enumerate(zip(faces, matches, strict=True)):
            if match is None:
                p, age = probs[i], 0
            elif i in probs:
                p, age = self.smoothing * match.probs + (1 - self.smoothing) * probs[i], 0
            else:
                p, age = match.probs, match.age + 1
            tracks.append(_Track(self.classifier.labelled(face, p), p, age))
        self.tracks = tracks
        return [t.face for t in tracks]
