"""`maskwatch evaluate`: score a model on a folder-per-class set."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from maskwatch.dataset import DatasetError, folder_classes, folder_samples, load_samples
from maskwatch.metrics import classification_metrics

log = logging.getLogger(__name__)


def predict_fn(model_path: Path | None):
    """(predict(images) -> probabilities, labels, image size) for a `.tflite` (LiteRT) or `.keras` model."""
    if model_path is not None and model_path.suffix == ".keras":
        import keras

        from maskwatch.classifier import read_labels

        model = keras.models.load_model(model_path)
        return (lambda x: model.predict(x.astype(np.float32), batch_size=32, verbose=0),
                read_labels(model_path), int(model.input_shape[1]))
    from maskwatch.classifier import MaskClassifier

    classifier = MaskClassifier(model_path)
    return classifier.predict, classifier.labels, classifier.image_size


def evaluate_folder(data_dir: Path, model_path: Path | None = None, batch_size: int = 64) -> dict:
    """Classification metrics of the model on every readable image under data_dir/CLASS/."""
    predict, labels, size = predict_fn(model_path)
    classes = folder_classes(data_dir)
    unknown = sorted(set(classes) - set(labels))
    if unknown:
        raise DatasetError(f"{data_dir}: classes {unknown} are not among the model's labels {labels}")
    data = load_samples(folder_samples(data_dir, classes), labels, size)
    probs = np.concatenate([predict(data.images[i:i + batch_size]) for i in range(0, len(data.labels), batch_size)])
    metrics = classification_metrics(data.labels, probs.argmax(1), labels)
    metrics["skipped"] = {"count": len(data.skipped), "first": data.skipped[:10]}
    metrics["model"] = str(model_path) if model_path else "default"
    return metrics
