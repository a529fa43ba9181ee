"""Image in, labelled faces out: the face detector, then the mask classifier on all faces in one batch,
then the rule that says "unknown" where a face cannot be judged. Per image only: videos are `video/`'s."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from maskwatch.core.classes import NOT_A_FACE
from maskwatch.core.errors import InvalidInput
from maskwatch.core.faces import Face
from maskwatch.io.images import read_image
from maskwatch.vision.classifier import MaskClassifier
from maskwatch.vision.detector import DEFAULT_DETECTOR, load_detector, own_threshold
from maskwatch.vision.judge import DEFAULT_RULE, UnknownRule
from maskwatch.vision.presets import PRESETS, classifier_path


class MaskDetector:
    """Finds faces and classifies each; `detector` is "maskwatch" (the default), "centerface" or the path of a
    CenterFace-format (from `maskwatch train-detector`) or YuNet .onnx file."""

    def __init__(self, preset: str = "accurate", model: str | Path | None = None, face_threshold: float | None = None,
                 scale: float | None = None, detector: str = DEFAULT_DETECTOR, threads: int | None = None,
                 rule: UnknownRule = DEFAULT_RULE):
        if preset not in PRESETS:
            raise InvalidInput(f"preset {preset!r}: use one of {', '.join(sorted(PRESETS))}")
        settings = self.settings = PRESETS[preset]
        self.classifier = MaskClassifier(classifier_path(model, preset), threads=threads)
        if face_threshold is None:  # a trained detector's own, else the preset's (chosen for CenterFace)
            face_threshold = own_threshold(detector) or settings.face_threshold
            if NOT_A_FACE in self.classifier.labels and settings.reject_face_threshold:
                face_threshold = min(face_threshold, settings.reject_face_threshold)
        self.detector = load_detector(detector, threshold=face_threshold,
                                      scale=settings.scale if scale is None else scale,
                                      max_side=settings.max_side, threads=threads, coarse_side=settings.coarse_side)
        self.rule = rule

    def __call__(self, image: np.ndarray | str | Path) -> list[Face]:
        """Every face of the image with its label, confidence, probabilities and state (`unknown` where the
        classifier says it is not a face: a face it wrongly rejects stays found, with no verdict). `image`: RGB
        pixels (as `read_image` gives; OpenCV's `cv2.imread` gives BGR: convert with `cv2.cvtColor(image,
        cv2.COLOR_BGR2RGB)` first, or the answers differ), or the path of an image file."""
        if isinstance(image, str | Path):
            image = read_image(image)
        return self.classify(image, self.detector.detect(image))

    def classify(self, image: np.ndarray, faces: Sequence[Face]) -> list[Face]:
        """The given face boxes of the image, labelled and judged (in one classifier batch)."""
        return self.rule.judged(self.classifier.classify(image, faces))
