"""CenterFace-format detectors in 8 bits: onnxruntime's static quantization (QDQ, weights int8 per
channel, activations uint8), which runs about 1.35x faster on CPUs with VNNI (docs/results-2026-12-05.md, "Speed").

Calibration uses development scenes, upscaled as the `accurate` preset does. The first six convolutions
and the output heads stay in float32: quantizing them cost small, dim faces and face recall.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import version_converter

from maskwatch.vision.centerface import STRIDE
from maskwatch.vision.passes import resize

SCALE, MAX_SIDE, CALIBRATION_SCENES = 2.5, 2048, 60
# Quantizing the first convolutions lost dim, small faces: with only the first one in float, the 8-bit
# CenterFace found 165 faces on frames of two hallway clips where the float one found 214; with six, 238.
FLOAT_CONVS = 6


def dynamic_model(model: onnx.ModelProto) -> onnx.ModelProto:
    """The float model with a free input size, opset 13 (per-channel quantization needs it), named nodes."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for value in [copy.graph.input[0], *copy.graph.output]:
        dims = value.type.tensor_type.shape.dim
        dims[0].dim_value, dims[2].dim_param, dims[3].dim_param = 1, "height", "width"
    copy = version_converter.convert_version(copy, 13)
    for i, node in enumerate(copy.graph.node):
        node.name = f"{node.op_type}_{i}"
    return copy


def kept_in_float(model: onnx.ModelProto) -> list[str]:
    """The first FLOAT_CONVS convolutions and every node that makes an output (or feeds the heatmap's
    sigmoid)."""
    outputs = {o.name for o in model.graph.output}
    heads = {n.input[0] for n in model.graph.node if n.op_type == "Sigmoid"} | outputs
    first = [n.name for n in model.graph.node if n.op_type == "Conv"][:FLOAT_CONVS]
    return first + [n.name for n in model.graph.node if set(n.output) & heads]


def _blob(image: np.ndarray) -> np.ndarray:
    resized, _, _ = resize(image, min(SCALE, MAX_SIDE / max(image.shape[:2])))
    h, w = resized.shape[:2]
    blob = np.zeros((1, 3, -(-h // STRIDE) * STRIDE, -(-w // STRIDE) * STRIDE), np.float32)
    blob[0, :, :h, :w] = resized.transpose(2, 0, 1)
    return blob


def quantize_centerface(model: Path | onnx.ModelProto, images: Sequence[np.ndarray], out: Path, seed: int = 0,
                        count: int = CALIBRATION_SCENES) -> Path:
    """Write the 8-bit copy of a float CenterFace-format model to `out`, calibrated on `count` of the
    RGB `images` chosen with `seed`."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    from maskwatch.io.atomic import atomic_save

    source = onnx.load(str(model)) if isinstance(model, Path) else model
    chosen = [images[i] for i in np.random.default_rng(seed).choice(len(images), min(count, len(images)),
                                                                     replace=False)]
    prepared = dynamic_model(source)
    name = prepared.graph.input[0].name

    class Calibration(CalibrationDataReader):
        def __init__(self) -> None:
            self._images = iter(chosen)

        def get_next(self) -> dict | None:
            image = next(self._images, None)
            return None if image is None else {name: _blob(image)}

    with tempfile.TemporaryDirectory() as tmp:
        float_path = Path(tmp) / "float.onnx"
        onnx.save(prepared, float_path)
        atomic_save(out, lambda target: quantize_static(
            float_path, target, Calibration(), quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, nodes_to_exclude=kept_in_float(prepared)))
    return out
