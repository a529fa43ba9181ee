"""YuNet: OpenCV's ``FaceDetectorYN``, for users who bring their own YuNet ``.onnx`` file."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from maskwatch.core.faces import Face
from maskwatch.vision.passes import Sizes, check_rgb, resize, shifted, to_faces


class YuNet:
    """OpenCV's YuNet from a user-supplied ``.onnx`` file (nothing is shipped or downloaded for it)."""

    def __init__(self, model_path: str | Path, threshold: float = 0.6, scale: float = 1.0) -> None:
        path = Path(model_path)
        if not path.is_file():
            raise FileNotFoundError(f"YuNet model not found: {path}")
        self.scale, self.path = scale, path
        self._net = cv2.FaceDetectorYN.create(str(path), "", (320, 320), threshold)

    def __str__(self) -> str:
        return f"YuNet ({self.path})"

    def detect(self, image: np.ndarray, rows: tuple[int, int] | None = None, sizes: Sizes | None = None
               ) -> list[Face]:
        check_rgb(image)
        if rows is not None:  # its scale does not depend on the image's size: a band is detected as it is
            top, bottom = max(0, rows[0]), min(image.shape[0], rows[1])
            return [shifted(face, 0, top) for face in self.detect(image[top:bottom])] if bottom > top else []
        resized, fx, fy = resize(image, self.scale)
        self._net.setInputSize((resized.shape[1], resized.shape[0]))
        _, rows = self._net.detect(cv2.cvtColor(resized, cv2.COLOR_RGB2BGR))  # OpenCV models want BGR
        if rows is None:
            return []
        boxes = rows[:, :4].copy()  # x, y, w, h, then 5 landmarks, then score
        boxes[:, 2:] += boxes[:, :2]
        return to_faces(boxes, rows[:, -1], fx, fy, image.shape)
