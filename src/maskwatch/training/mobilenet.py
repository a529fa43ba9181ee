"""MobileNetV2 in Keras with torchvision's exact layout, so torchvision's ImageNet weights load faithfully.

It differs from `keras.applications.MobileNetV2` where it matters for the weights: stride-2 convolutions
pad one pixel on every side (Keras pads asymmetrically), BatchNorm uses eps 1e-5, and layer names follow
the torch state dict (`features.3.conv.1.0` becomes `features_3_conv_1_0`) so that loading is a lookup.
Input: RGB normalised with ImageNet mean/std (see `IMAGENET_MEAN`, `IMAGENET_STD`).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from maskwatch.training.weights import load_state_dict

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# (expansion t, output channels c, repeats n, first stride s), as in the MobileNetV2 paper and torchvision.
_BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
           (6, 320, 1, 1))
LAST_FEATURE = 18  # index of the final 1x1 conv in torchvision's `features`


def _conv_bn(x, filters: int, kernel: int, stride: int, name: str, depthwise: bool = False, relu: bool = True):
    if stride == 2:
        x = layers.ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x)
    padding = "valid" if stride == 2 else "same"
    if depthwise:
        x = layers.DepthwiseConv2D(kernel, stride, padding, use_bias=False, name=f"{name}_0")(x)
    else:
        x = layers.Conv2D(filters, kernel, stride, padding, use_bias=False, name=f"{name}_0")(x)
    x = layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=f"{name}_1")(x)
    return layers.ReLU(6.0, name=f"{name}_relu6")(x) if relu else x


def _inverted_residual(x, index: int, expansion: int, filters: int, stride: int):
    name = f"features_{index}_conv"
    channels_in = x.shape[-1]
    y, part = x, 0
    if expansion != 1:
        y = _conv_bn(y, channels_in * expansion, 1, 1, f"{name}_{part}")
        part += 1
    y = _conv_bn(y, 0, 3, stride, f"{name}_{part}", depthwise=True)
    y = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_{part + 1}")(y)
    y = layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=f"{name}_{part + 2}")(y)
    if stride == 1 and channels_in == filters:
        y = layers.Add(name=f"features_{index}_add")([x, y])
    return y


def mobilenet_v2(input_shape=(224, 224, 3), include_top: bool = False, blocks: int = LAST_FEATURE,
                 name: str = "mobilenet_v2") -> keras.Model:
    """Torchvision's MobileNetV2 (width 1.0) up to feature block `blocks` (1-18; 18 is the whole network,
    whose final 1x1 conv makes 1280 features); with `include_top`, the 1000-class ImageNet softmax."""
    if not 1 <= blocks <= LAST_FEATURE:
        raise ValueError(f"blocks must be 1-{LAST_FEATURE}, got {blocks}")
    if include_top and blocks != LAST_FEATURE:
        raise ValueError("the ImageNet classifier needs the whole network (blocks=18)")
    inputs = keras.Input(input_shape, name="image")
    x = _conv_bn(inputs, 32, 3, 2, "features_0")
    settings = [(expansion, filters, stride if i == 0 else 1)
                for expansion, filters, repeats, stride in _BLOCKS for i in range(repeats)]
    for index, (expansion, filters, stride) in enumerate(settings[:blocks], start=1):
        x = _inverted_residual(x, index, expansion, filters, stride)
    if blocks == LAST_FEATURE:
        x = _conv_bn(x, 1280, 1, 1, f"features_{LAST_FEATURE}")
    if include_top:
        x = layers.GlobalAveragePooling2D(name="pool")(x)
        x = layers.Dense(1000, activation="softmax", name="classifier_1")(x)
    return keras.Model(inputs, x, name=name)


def _keras_weights(layer, state: dict[str, np.ndarray]) -> list[np.ndarray]:
    prefix = layer.name.replace("_", ".")
    if isinstance(layer, layers.BatchNormalization):
        return [state[f"{prefix}.{p}"] for p in ("weight", "bias", "running_mean", "running_var")]
    if isinstance(layer, layers.DepthwiseConv2D):
        return [state[f"{prefix}.weight"].transpose(2, 3, 0, 1)]
    if isinstance(layer, layers.Conv2D):
        return [state[f"{prefix}.weight"].transpose(2, 3, 1, 0)]
    if isinstance(layer, layers.Dense):
        return [state[f"{prefix}.weight"].T, state[f"{prefix}.bias"]]
    raise TypeError(f"no weight mapping for layer {layer.name}")


def load_imagenet_weights(model: keras.Model, state: dict[str, np.ndarray] | None = None) -> int:
    """Copy torchvision's ImageNet weights into `model`; returns how many parameters were loaded."""
    state = state if state is not None else load_state_dict()
    loaded = 0
    for layer in model.layers:
        if not layer.weights:
            continue
        arrays = _keras_weights(layer, state)
        layer.set_weights(arrays)
        loaded += sum(a.size for a in arrays)
    return loaded


def imagenet_preprocess(images: np.ndarray) -> np.ndarray:
    """RGB uint8 (or 0-255 float) images to the normalised input torchvision's weights expect."""
    x = np.asarray(images, np.float32) / 255.0
    return (x - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)
