"""The mask classifier: ImageNet MobileNetV2 (torchvision's weights) with the origin project's head.

The model takes RGB pixels in 0-255 and normalises them itself, so every runtime (Keras, LiteRT)
feeds it the same raw crop and preprocessing cannot drift between training and detection.
"""

from __future__ import annotations

import keras
from keras import layers

from maskwatch.training.mobilenet import IMAGENET_MEAN, IMAGENET_STD, LAST_FEATURE, load_imagenet_weights, mobilenet_v2

FINE_TUNE_BLOCKS = 9  # the upper blocks that fine-tuning unfreezes: of the whole network (18), blocks 10-18


@keras.saving.register_keras_serializable(package="maskwatch")
class RandomLowResolution(layers.Layer):
    """Shrinks a random share of a batch's images to 12-40 px and back up: faces in real scenes are
    often 15-30 px wide, and a classifier that only saw sharp photos fails on them."""

    def __init__(self, min_size: int = 12, max_size: int = 40, rate: float = 0.4, seed: int | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.min_size, self.max_size, self.rate, self.seed = min_size, max_size, rate, seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=True):
        import tensorflow as tf  # runs inside the tf.data pipeline; the size is a tensor, so TF ops

        if not training:
            return images
        size = tf.shape(images)[1:3]
        small = keras.random.randint((), self.min_size, self.max_size + 1, seed=self.generator)
        shrunk = tf.image.resize(images, tf.stack([small, small]), method="area")
        blurred = tf.image.resize(shrunk, size, method="bilinear")
        chosen = keras.random.uniform((tf.shape(images)[0], 1, 1, 1), seed=self.generator) < self.rate
        return tf.where(chosen, blurred, images)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "min_size": self.min_size, "max_size": self.max_size,
                "rate": self.rate, "seed": self.seed}


def augmentation(seed: int | None = None) -> keras.Sequential:
    """Random changes a face crop may show at detection time; applied to training batches only."""
    return keras.Sequential([
        layers.RandomFlip("horizontal", seed=seed),
        layers.RandomRotation(0.05, fill_mode="nearest", seed=seed),
        layers.RandomZoom((-0.15, 0.1), fill_mode="nearest", seed=seed),
        layers.RandomTranslation(0.06, 0.06, fill_mode="nearest", seed=seed),
        layers.RandomBrightness(0.2, value_range=(0, 255), seed=seed),
        layers.RandomContrast(0.25, seed=seed),
        RandomLowResolution(seed=seed),
    ], name="augmentation")


def build_classifier(num_classes: int, image_size: int = 224, imagenet: bool = True,
                     blocks: int = LAST_FEATURE) -> keras.Model:
    """MobileNetV2 base (its first `blocks` feature blocks) -> global average pooling -> Dense 128 ReLU
    -> Dropout 0.5 -> softmax."""
    inputs = keras.Input((image_size, image_size, 3), name="image")
    x = layers.Rescaling(1 / 255, name="to_unit")(inputs)
    x = layers.Normalization(mean=IMAGENET_MEAN, variance=[s * s for s in IMAGENET_STD], name="imagenet_norm")(x)
    base = mobilenet_v2((image_size, image_size, 3), blocks=blocks)
    if imagenet:
        load_imagenet_weights(base)
    x = base(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dense(128, activation="relu", name="head_dense")(x)
    x = layers.Dropout(0.5, name="head_dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="mask_classifier")


def base_of(model: keras.Model) -> keras.Model:
    return model.get_layer("mobilenet_v2")


def freeze_base(model: keras.Model) -> None:
    """Stage 1: only the head learns."""
    base_of(model).trainable = False


def unfreeze_top(model: keras.Model, count: int = FINE_TUNE_BLOCKS) -> None:
    """Stage 2: the upper `count` feature blocks learn too; BatchNorm stays frozen (in inference mode), so
    small batches cannot wreck its ImageNet statistics."""
    base = base_of(model)
    base.trainable = True
    blocks = [int(layer.name.split("_")[1]) for layer in base.layers if layer.name.startswith("features_")]
    first = max(blocks) - count + 1
    for layer in base.layers:
        parts = layer.name.split("_")
        block = int(parts[1]) if parts[0] == "features" else -1
        layer.trainable = block >= first and not isinstance(layer, layers.BatchNormalization)
