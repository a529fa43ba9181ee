"""`maskwatch train`: dataset -> leakage-safe split -> tf.data -> MobileNetV2 -> fit -> report -> export.

Two stages, as in Keras' transfer-learning guide: the new head on a frozen ImageNet base, then the upper
blocks at a low learning rate. The best epoch (lowest validation loss) is kept on disk as it goes, so an
interrupted run still leaves a usable model; every output file is written atomically.
"""

from __future__ import annotations

import csv
import io
import logging
import platform
import resource
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from maskwatch.core.classes import NOT_A_FACE
from maskwatch.data.dataset import (
    DatasetError,
    LoadedData,
    folder_classes,
    folder_samples,
    load_samples,
    named_groups,
    read_group_tables,
    scene_samples,
)
from maskwatch.data.dedup import NEAR_DUPLICATE_BITS, group_duplicates
from maskwatch.data.split import Split, group_split
from maskwatch.evaluation.classification import classification_metrics, format_metrics
from maskwatch.io.atomic import atomic_save, atomic_write_bytes, atomic_write_json
from maskwatch.io.interrupt import deferred_interrupt
from maskwatch.io.progress import progress
from maskwatch.training.weights import weights_path
from maskwatch.vision.judge import DEFAULT_RULE

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    data_dirs: Sequence[Path]  # folders of CLASS/*.jpg; with several, each is split on its own (see group_split)
    out: Path
    scenes: Sequence[Path] = ()
    mapping: Mapping[str, str] = field(default_factory=dict)
    skip: Sequence[str] = ()
    epochs: int = 1
    fine_tune_epochs: int = 6
    batch_size: int = 32
    image_size: int = 224
    seed: int = 0
    imagenet: bool = True
    blocks: int = 18  # MobileNetV2 feature blocks kept (18: the whole network)
    groups: Sequence[tuple[Path, str]] = ()  # CSV tables naming a group per image (e.g. a person id)
    balance_sources: bool = False  # within each class, every source (the folder, each scenes folder) weighs alike


def load_data(config: TrainConfig) -> tuple[LoadedData, dict]:
    """Every sample of the folders and the scenes, decoded once; and where each came from. Several folders
    may each hold some of the classes (a synthetic set of masks worn wrong has no bare faces)."""
    minimum = 2 if len(config.data_dirs) == 1 else 1
    folders = {data_dir: folder_classes(data_dir, minimum) for data_dir in config.data_dirs}
    classes = sorted({c for found in folders.values() for c in found})
    if len(classes) < 2:
        raise DatasetError(f"the data folders hold only the class(es) {classes}: at least 2 are needed")
    samples, sources = [], {}
    for data_dir, found in folders.items():
        mine = folder_samples(data_dir, found)
        samples += mine
        sources[str(data_dir)] = dict(Counter(s.label for s in mine))
        log.info("data %s: %s", data_dir, sources[str(data_dir)])
    for voc_dir in config.scenes:
        found, left_out = scene_samples(voc_dir, classes, config.mapping, config.skip)
        samples += found
        sources[str(voc_dir)] = {**Counter(s.label for s in found), "left out": dict(left_out)}
        log.info("scenes %s: %d face crops, left out %s", voc_dir, len(found), dict(left_out))
    return load_samples(samples, classes, config.image_size), sources


def make_dataset(data: LoadedData, indices: np.ndarray, batch_size: int, augment=None, seed: int = 0,
                 weights: np.ndarray | None = None):
    """A tf.data pipeline over the in-memory uint8 cache: shuffle and augment for training only; with
    `weights` (one per index), batches carry sample weights."""
    import tensorflow as tf

    columns = (data.images[indices], data.labels[indices]) + (() if weights is None else (weights,))
    ds = tf.data.Dataset.from_tensor_slices(columns)
    if augment is not None:
        ds = ds.shuffle(len(indices), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(lambda x, *rest: (tf.cast(x, tf.float32), *rest), num_parallel_calls=tf.data.AUTOTUNE)
    if augment is not None:
        ds = ds.map(lambda x, *rest: (augment(x, training=True), *rest), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def class_weights(labels: np.ndarray, num_classes: int) -> dict[int, float]:
    """Inverse-frequency weights, so a rare class counts as much as a common one."""
    counts = np.bincount(labels, minlength=num_classes)
    return {i: float(len(labels) / (num_classes * c)) if c else 0.0 for i, c in enumerate(counts)}


def source_balanced_weights(labels: np.ndarray, origins: np.ndarray, num_classes: int) -> np.ndarray:
    """Per-sample weights: classes weigh alike (as `class_weights`), and within a class each source does,
    so 58 real faces of a class are not drowned by 886 synthetic ones of the same class."""
    per_class = class_weights(labels, num_classes)
    weights = np.empty(len(labels), np.float32)
    for c in np.unique(labels):
        mine = labels == c
        sources, counts = np.unique(origins[mine], return_counts=True)
        share = dict(zip(sources, mine.sum() / (len(sources) * counts), strict=True))
        weights[mine] = [per_class[int(c)] * share[o] for o in origins[mine]]
    return weights


def _origins(config: TrainConfig, data: LoadedData) -> np.ndarray:
    """Where each sample came from: its data folder, or the scenes folder of its face crop."""
    def folder(path: Path) -> str:
        return str(next(d for d in config.data_dirs if path.is_relative_to(d)))

    return np.array([folder(s.path) if s.box is None else str(s.path.parent.parent) for s in data.samples])


def write_predictions(path: Path, data: LoadedData, indices: np.ndarray, origins: np.ndarray,
                      probs: np.ndarray) -> None:
    """Every item of a split with its source, truth and probabilities, so a part of it (the real faces of
    one folder, say) can be scored at any threshold without training again: a threshold is chosen on the
    validation items and scored on the test items."""
    classes = data.classes
    lines = io.StringIO()
    writer = csv.writer(lines)
    writer.writerow(["file", "box", "source", "truth", "predicted", *(f"p_{c}" for c in classes)])
    for index, p in zip(indices, probs, strict=True):
        sample = data.samples[index]
        writer.writerow([sample.path, "" if sample.box is None else " ".join(map(str, sample.box)), origins[index],
                         classes[data.labels[index]], classes[int(p.argmax())], *(f"{v:.5f}" for v in p)])
    atomic_write_bytes(path, lines.getvalue().encode())


def _best_checkpoint(path: Path):
    import keras

    class BestCheckpoint(keras.callbacks.Callback):
        """Saves the model (atomically) whenever validation loss improves."""

        def __init__(self):
            super().__init__()
            self.best = np.inf
            self.best_epoch = 0

        def on_epoch_end(self, epoch, logs=None):
            loss = (logs or {}).get("val_loss", np.inf)
            if loss < self.best:
                self.best, self.best_epoch = loss, epoch + 1
                atomic_save(path, lambda tmp: self.model.save(tmp))

    return BestCheckpoint()


def epoch_progress(epochs: int):
    import keras

    class EpochProgress(keras.callbacks.Callback):
        """A bar per epoch on stderr headed "Epoch E/N" (off under -q), then a line of its numbers: Keras's own
        bar writes ANSI codes to stdout, where the command's result goes."""

        def on_epoch_begin(self, epoch, logs=None):
            self.bar = progress(total=self.params.get("steps"), desc=f"Epoch {epoch + 1}/{epochs}", unit="step",
                                leave=False)

        def on_train_batch_end(self, batch, logs=None):
            self.bar.update(1)

        def on_epoch_end(self, epoch, logs=None):
            self.bar.close()
            log.info("epoch %d/%d: %s", epoch + 1, epochs,
                     ", ".join(f"{name.replace('_', ' ')} {value:.4f}" for name, value in (logs or {}).items()))

    return EpochProgress()


def reject_effect(data: LoadedData, classes: list[str], split: Split, origins: np.ndarray, probs: dict[str, np.ndarray]
                  ) -> dict:
    """What a reject class (not_a_face) does on the validation and test items: the share of each source's faces
    big enough to judge that it calls not a face (they become unknown), and of the examples of what is not a
    face that it catches."""
    if NOT_A_FACE not in classes:
        return {}
    reject = classes.index(NOT_A_FACE)
    effect = {}
    for part, indices in (("validation", split.val), ("test", split.test)):
        said = probs[part].argmax(1) == reject
        sides = np.array([max(b[2] - b[0], b[3] - b[1]) if (b := data.samples[i].box) else np.inf for i in indices])
        faces = (data.labels[indices] != reject) & (sides >= DEFAULT_RULE.min_side)
        wanted = data.labels[indices] == reject
        effect[part] = {"faces_rejected": {Path(origin).name: round(float(said[faces & (origins[indices] == origin)]
                                                                          .mean()), 4)
                                           for origin in sorted(set(origins[indices][faces]))},
                        "not_faces_caught": round(float(said[wanted].mean()), 4) if wanted.any() else None,
                        "faces": int(faces.sum()), "not_faces": int(wanted.sum())}
    log.info("%s on test items: %s", NOT_A_FACE, effect["test"])
    return {NOT_A_FACE: effect}


def export_litert(model, path: Path) -> None:
    """The LiteRT flatbuffer `detect` runs (float32 RGB 0-255 in, probabilities out)."""
    atomic_save(path, lambda tmp: model.export(str(tmp), format="litert", verbose=False))


def train(config: TrainConfig) -> dict:
    """Run the whole training; returns the report that is also written to `out/report.json`."""
    import keras
    import tensorflow as tf

    from maskwatch.training.model import augmentation, build_classifier, freeze_base, unfreeze_top
    from maskwatch.training.plots import plot_confusion, plot_curves

    started = time.time()
    keras.utils.set_random_seed(config.seed)
    out = config.out
    names = read_group_tables(config.groups)
    data, sources = load_data(config)
    keys, named = named_groups(data.samples, data.keys, names)
    if config.groups:
        log.info("groups tables named the group of %d of %d images", named, len(keys))
    groups, same_key, near = group_duplicates(keys, data.hashes)
    origins = _origins(config, data)
    strata = [Path(o).name for o in origins] if len(config.data_dirs) > 1 else None
    split: Split = group_split(data.labels, groups, seed=config.seed, strata=strata)
    classes = data.classes
    unseen = [name for index, name in enumerate(classes) if not np.any(data.labels[split.train] == index)]
    if unseen:  # a class with too few images (or groups) to reach the training split would never be learnt
        counts = ", ".join(f"{name} {int(np.sum(data.labels == classes.index(name)))}" for name in unseen)
        raise DatasetError(f"no training image of {', '.join(unseen)} (images: {counts}): give each class at "
                           "least 3 images of different people or groups (a third or more goes to validation "
                           "and test)")
    out.mkdir(parents=True, exist_ok=True)
    log.info("%d images in %d groups (%d joined as exact copies or crops of one scene, %d as near-duplicates); "
             "split train %d / val %d / test %d", len(data.labels), groups.max() + 1, same_key, near,
             len(split.train), len(split.val), len(split.test))
    if config.imagenet:
        log.info("ImageNet MobileNetV2 weights from %s", weights_path())
    model = build_classifier(len(classes), config.image_size, imagenet=config.imagenet, blocks=config.blocks)
    sample_weights = (source_balanced_weights(data.labels[split.train], origins[split.train], len(classes))
                      if config.balance_sources else None)
    train_ds = make_dataset(data, split.train, config.batch_size, augmentation(config.seed), config.seed,
                            sample_weights)
    val_ds = make_dataset(data, split.val, config.batch_size)
    checkpoint = _best_checkpoint(out / "model.keras")
    progress_bars = epoch_progress(config.epochs + config.fine_tune_epochs)
    weights = None if config.balance_sources else class_weights(data.labels[split.train], len(classes))
    history: dict[str, list[float]] = {}
    stages = ((config.epochs, freeze_base, 1e-3), (config.fine_tune_epochs, unfreeze_top, 1e-4))
    epoch = 0
    try:
        with deferred_interrupt() as interrupt:
            for stage_epochs, prepare, learning_rate in stages:
                if stage_epochs <= 0:
                    continue
                prepare(model)
                model.compile(keras.optimizers.Adam(learning_rate), "sparse_categorical_crossentropy",
                              metrics=["accuracy"])
                interrupt.check()
                fit = model.fit(train_ds, validation_data=val_ds, epochs=epoch + stage_epochs, initial_epoch=epoch,
                                class_weight=weights, callbacks=[checkpoint, interrupt.callback(), progress_bars],
                                shuffle=False, verbose=0)
                for key, values in fit.history.items():
                    history.setdefault(key, []).extend(float(v) for v in values)
                epoch += stage_epochs
                interrupt.check()
    except KeyboardInterrupt:
        log.warning("interrupted: the best model so far is kept at %s (epoch %d)", out / "model.keras",
                    checkpoint.best_epoch)
        raise
    if checkpoint.best_epoch:
        model = keras.models.load_model(out / "model.keras")
    test_probs = model.predict(make_dataset(data, split.test, config.batch_size), verbose=0)
    val_probs = model.predict(make_dataset(data, split.val, config.batch_size), verbose=0)
    predicted = test_probs.argmax(1)
    test = classification_metrics(data.labels[split.test], predicted, classes)
    log.info("test set:\n%s", format_metrics(test))
    test_by_source = {}
    test_origins = origins[split.test]
    for origin in sorted(set(test_origins)):
        mine = test_origins == origin
        test_by_source[origin] = classification_metrics(data.labels[split.test][mine], predicted[mine], classes)
        log.info("test images from %s: accuracy %.4f on %d", origin, test_by_source[origin]["accuracy"], mine.sum())
    write_predictions(out / "test_predictions.csv", data, split.test, origins, test_probs)
    write_predictions(out / "val_predictions.csv", data, split.val, origins, val_probs)
    export_litert(model, out / "model.tflite")
    atomic_write_json(out / "labels.json", classes)
    report = {
        "classes": classes,
        "image_size": config.image_size,
        "blocks": config.blocks,
        "sources": sources,
        "skipped": {"count": len(data.skipped), "first": data.skipped[:10]},
        "duplicates": {"near_duplicate_bits": NEAR_DUPLICATE_BITS, "groups": int(groups.max() + 1),
                       "named_by_tables": named, "tables": [f"{t}:{c}" for t, c in config.groups],
                       "joined_exact_or_same_scene": int(same_key), "joined_near_duplicate": int(near)},
        "split": {"seed": config.seed, "train": len(split.train), "val": len(split.val), "test": len(split.test),
                  "per_source": strata is not None,
                  "test_per_class": dict(Counter(classes[i] for i in data.labels[split.test]))},
        "config": {"epochs": config.epochs, "fine_tune_epochs": config.fine_tune_epochs,
                   "batch_size": config.batch_size, "mapping": dict(config.mapping), "skip": list(config.skip),
                   "imagenet": config.imagenet, "balance_sources": config.balance_sources},
        "best_epoch": checkpoint.best_epoch,
        "history": history,
        "reject": reject_effect(data, classes, split, origins, {"validation": val_probs, "test": test_probs}),
        "test": test,
        "test_by_source": test_by_source,
        "training_seconds": round(time.time() - started, 1),
        "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "versions": {"python": platform.python_version(), "tensorflow": tf.__version__,
                     "keras": keras.__version__, "numpy": np.__version__},
    }
    atomic_write_json(out / "report.json", report)
    plot_curves(history, out / "curves.png", fine_tune_from=config.epochs if config.fine_tune_epochs else None)
    plot_confusion(test["confusion"], classes, out / "confusion.png", "test set")
    log.info("wrote %s", ", ".join(str(out / f) for f in ("model.keras", "model.tflite", "labels.json",
                                                          "report.json", "test_predictions.csv",
                                                          "val_predictions.csv", "curves.png",
                                                          "confusion.png")))
    return report

