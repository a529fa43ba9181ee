"""Image in, labelled faces out: the face detector, then the mask classifier on all faces in one batch."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from maskwatch.io.sources import Frame
from maskwatch.video.tracker import LabelTracker
from maskwatch.vision.classifier import MaskClassifier, default_model_path
from maskwatch.vision.detector import load_detector
from maskwatch.vision.presets import PRESETS
from maskwatch.vision.results import Face


class MaskDetector:
    """Finds faces and classifies each; `detector` is "centerface" or a YuNet .onnx path."""

    def __init__(self, preset: str = "accurate", model: str | Path | None = None, face_threshold: float | None = None,
                 scale: float | None = None, detector: str = "centerface", threads: int | None = None):
        settings = PRESETS[preset]
        self.detector = load_detector(detector, threshold=settings.face_threshold if face_threshold is None
                                      else face_threshold, scale=settings.scale if scale is None else scale,
                                      **({"max_side": settings.max_side, "threads": threads}
                                         if detector == "centerface" else {}))
        self.classifier = MaskClassifier(model or default_model_path(settings.model), threads=threads)
        self.tracker = LabelTracker(self.classifier)

    def __call__(self, image: np.ndarray, track: bool = False) -> list[Face]:
        """Labelled faces of the image; with `track` (frames of one video or stream, in order) faces that
        stay in view keep their smoothed label and are re-classified only every few frames."""
        faces = self.detector.detect(image)
        return self.tracker(image, faces) if track else self.classifier.classify(image, faces)

    def frames(self, frames: Iterable[Frame], track: bool = True) -> Iterator[tuple[Frame, list[Face]]]:
        """Each frame with its labelled faces, in order; with `track`, labels are tracked within each video
        or stream, and forgotten when the next one starts.

        (Detecting a frame ahead in another thread was measured too: no gain over decoding ahead, which
        `detect` does, because onnxruntime and LiteRT already use both cores.)
        """
        previous = None
        for frame in frames:
            if frame.source != previous:
                self.new_video()
                previous = frame.source
            yield frame, self(frame.image, track and frame.is_video)

    def new_video(self) -> None:
        """Forget the faces of the previous video or stream."""
        self.tracker.reset()
