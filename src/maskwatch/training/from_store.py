"""`maskwatch train --from-store`: the shipped fast classifier (the one `watch`'s cameras run) with its head
retrained on a site's own corrected faces, mixed with base training data so that it does not forget what it
knew.

The faces are the crops `[learning]` keeps (each event's face and those sampled before it), labelled by
their corrections (and, with `confirmed`, reviewed verdicts left uncorrected). A person's faces all go to
one side: persons held back are the site's own test, never trained on. Each camera weighs the same, however
long its people were seen. The report scores the shipped model and the new one side by side on those
held-back faces, on the base data's test split (a drop of more than MAX_BASE_DROP is a failed check: the
model is written, and the report and log say not to use it) and on the base's not_a_face crops (the reject
class: MAX_REJECT_DROP).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from maskwatch.data.dataset import DatasetError, LoadedData, folder_classes, folder_samples, load_samples
from maskwatch.data.dedup import group_duplicates
from maskwatch.data.split import group_split
from maskwatch.evaluation.classification import classification_metrics
from maskwatch.io.atomic import atomic_write_json
from maskwatch.io.images import UnreadableImage, read_image
from maskwatch.vision.classifier import MaskClassifier, default_model_path, read_labels
from maskwatch.vision.crops import CROP_MARGIN, resize

log = logging.getLogger(__name__)

BASE_MODEL = "mask_classifier_fast.tflite"
BASE_WEIGHTS = "mask_classifier_fast.weights.npz"  # the same model's Keras weights, to fine-tune from
BASE_BLOCKS = 13  # its MobileNetV2 feature blocks (MODEL_CARD.md, "The fast model")
SNAPSHOT_MARGIN = 0.3  # kept faces are cut as snapshots are: the face box and this share of it on each side
MIN_FACES = 10
HELD_BACK = 0.25  # share of the site's persons kept out of training, to score on
SITE_SHARE = 0.25  # the site's faces weigh this share of an epoch, each camera alike: 30 faces against 3000 photos
MAX_BASE_DROP = 0.003  # accuracy on the base test split's faces may drop by 0.3 points at most
MAX_REJECT_DROP = 0.05  # the share of the base's not_a_face test crops rejected, by 5 points (about 100 crops)
REJECT = "not_a_face"
AS_THE_MODEL_WAS_TRAINED = {"mask_weared_incorrect": "without_mask"}  # a correction the model has no class for
LEARNING_RATE = 1e-3
EPOCHS = 8
HEADS = 3  # heads trained from the shipped one, a seed each, and averaged ("model soup"): one head's errors on
# the base test split vary by 2-3 photos from seed to seed, more than the 0.3-point check allows; the average's
# stayed under the shipped model's on the stores of three benchmark runs
# Only the head learns (Dense 128 and the output), on features the frozen blocks compute once; the base data
# by its own labels, not by what the shipped model says of it; the site's faces by what a reviewer said, and
# no others. Of the settings measured (docs/decisions/2026-12-learning-from-corrections.md), this one kept
# the base photos and the reject class on the stores of three runs and turned held-back people right: learning the
# uncorrected faces the shipped model rejected as it saw them taught it its own mistakes back.


@dataclass(frozen=True)
class StoreTrainConfig:
    store: Path  # named in the report and labels.json
    faces: Sequence[dict]  # its `EventStore.learning_faces`: id, run, source, person, model, label, file
    out: Path
    base_dirs: Sequence[Path]  # class folders of the base training data (mask-classify's)
    confirmed: bool = False  # also reviewed verdicts left uncorrected
    epochs: int = EPOCHS
    batch_size: int = 32
    seed: int = 0
    cameras: tuple[str, ...] = ()  # the cameras `faces` were chosen from (named in the report); () for all


@dataclass(frozen=True)
class SiteFaces:
    images: np.ndarray  # N x size x size x 3 uint8, as the classifier sees them
    labels: np.ndarray  # class indices: what a reviewer said
    persons: list[str]  # camera/run/person of each


def classifier_view(kept: np.ndarray, size: int) -> np.ndarray:
    """The classifier's crop (the face box and CROP_MARGIN around it) out of a kept face (SNAPSHOT_MARGIN)."""
    side = kept.shape[0]
    inner = round(side * (1 + 2 * CROP_MARGIN) / (1 + 2 * SNAPSHOT_MARGIN))
    start = (side - inner) // 2
    return resize(kept[start:start + inner, start:start + inner], size)


def site_faces(store_path: Path, rows: Sequence[dict], classes: Sequence[str], size: int,
               confirmed: bool) -> SiteFaces:
    """The faces of the store's `rows` a reviewer labelled, as the classifier sees them; refuses too few, or
    one class only, in one line."""
    images, labels, persons, missing = [], [], [], 0
    for row in rows:
        if row["label"] is None:
            continue  # a verdict nobody looked at is no evidence, and a face the model rejected may be a miss
        try:
            image = read_image(row["file"])
        except (UnreadableImage, OSError):
            missing += 1  # deleted by retention since, or damaged
            continue
        images.append(classifier_view(image, size))
        label = row["label"] if row["label"] in classes else AS_THE_MODEL_WAS_TRAINED.get(row["label"])
        labels.append(classes.index(label))
        persons.append(f"{row['source']}/run{row['run']}/p{row['person']}")
    if missing:
        log.warning("%d kept face(s) of corrected events are gone from the disk; left out", missing)
    how = "corrected or confirmed" if confirmed else "corrected"
    if len(labels) < MIN_FACES:
        raise DatasetError(f"{store_path}: {len(labels)} {how} face(s) kept for learning; at least {MIN_FACES} are "
                           "needed (switch [learning] on, correct verdicts on the review page, or add --confirmed)")
    named = sorted({classes[i] for i in labels})
    if len(named) < 2:
        raise DatasetError(f"{store_path}: every {how} face is {named[0]}: a model cannot learn one class "
                           "alone (confirm some right verdicts on the review page and add --confirmed)")
    return SiteFaces(np.stack(images), np.array(labels, np.int64), persons)


def person_split(persons: Sequence[str], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the faces to train on and to hold back: whole persons, about HELD_BACK of them (none
    when there is only one)."""
    names = sorted(set(persons))
    order = np.random.default_rng(seed).permutation(len(names))
    held = {names[i] for i in order[:round(len(names) * HELD_BACK)]} if len(names) > 1 else set()
    test = np.array([i for i, p in enumerate(persons) if p in held], np.int64)
    return np.array([i for i, p in enumerate(persons) if p not in held], np.int64), test


def base_data(dirs: Sequence[Path], classes: Sequence[str], size: int, seed: int) -> tuple[LoadedData, object]:
    """The base folders' images (each folder's classes, which must be the model's) and their split as `train`
    makes it: copies and near-copies on one side, each folder dealt out on its own by its name, so that the
    test split of a folder the shipped model was trained on is the one it never saw."""
    samples = []
    for folder in dirs:
        found = folder_classes(folder, minimum=1)
        unknown = [c for c in found if c not in classes]
        if unknown:
            raise DatasetError(f"{folder}: class folder(s) {unknown} are not classes of the model {list(classes)}")
        samples += folder_samples(folder, found)
    data = load_samples(samples, classes, size, every_class=False)
    strata = [next(d.name for d in dirs if s.path.is_relative_to(d)) for s in data.samples]
    groups, _, _ = group_duplicates(data.keys, data.hashes)
    return data, group_split(data.labels, groups, seed=seed, strata=strata)


def _scores(labels: np.ndarray, probs: np.ndarray, classes: Sequence[str]) -> dict:
    metrics = classification_metrics(labels, probs.argmax(axis=1), list(classes))
    return {"n": len(labels), "accuracy": metrics["accuracy"],
            "per_class": {name: metrics["per_class"][name] for name in classes if name in metrics["per_class"]}}


def camera_of(person: str) -> str:
    """The camera of a site person named as `site_faces` names them (camera/runR/pP)."""
    return person.rsplit("/run", 1)[0]


def camera_weights(persons: Sequence[str], total: float) -> np.ndarray:
    """Sample weights summing to `total`, each camera's faces sharing an equal part: a camera whose people
    were seen longer (or a looped one) does not outweigh the others."""
    cameras = [camera_of(person) for person in persons]
    counts = Counter(cameras)
    return np.array([total / (len(counts) * counts[camera]) for camera in cameras], np.float32)


def train_head(model, features: np.ndarray, targets: np.ndarray, weights: np.ndarray, config: StoreTrainConfig) -> None:
    """Train `model`'s head (Dense 128, dropout, output) on pooled features of its frozen blocks, in place:
    HEADS times from its weights, with a seed each, and set to their average."""
    import keras

    from maskwatch.training.train import epoch_progress

    head_layers = [model.get_layer(name) for name in ("head_dense", "head_dropout", "probs")]
    start = [layer.get_weights() for layer in head_layers]
    trained = []
    for k in range(HEADS):
        log.info("head %d of %d", k + 1, HEADS)
        for layer, weights_of in zip(head_layers, start, strict=True):
            layer.set_weights(weights_of)
        keras.utils.set_random_seed(config.seed * HEADS + k)
        head = keras.Sequential([keras.Input(features.shape[1:]), *head_layers])  # the same layers: trained in place
        head.compile(keras.optimizers.Adam(LEARNING_RATE), "categorical_crossentropy")
        head.fit(features, targets, sample_weight=weights, batch_size=config.batch_size, epochs=config.epochs,
                 shuffle=True, callbacks=[epoch_progress(config.epochs)], verbose=0)
        trained.append([layer.get_weights() for layer in head_layers])
    for i, layer in enumerate(head_layers):
        layer.set_weights([np.mean(arrays, axis=0) for arrays in zip(*(each[i] for each in trained), strict=True)])


def train_from_store(config: StoreTrainConfig) -> dict:
    """Retrain the head, export `out/model.tflite` with its labels.json, and write `out/report.json`; the
    report."""
    import keras

    from maskwatch.training.model import build_classifier
    from maskwatch.training.train import export_litert

    started = time.time()
    shipped_path = default_model_path(BASE_MODEL)
    shipped = MaskClassifier(shipped_path, runtime="litert")
    classes, size = shipped.labels, shipped.image_size
    site = site_faces(config.store, config.faces, classes, size, config.confirmed)
    train_site, test_site = person_split(site.persons, config.seed)
    named = lambda indices: dict(Counter(classes[i] for i in site.labels[indices]))  # noqa: E731
    log.info("site faces: %d of %d persons (%s); %d faces of %d persons held back to score on",
             len(train_site), len({site.persons[i] for i in train_site}),
             named(train_site), len(test_site),
             len({site.persons[i] for i in test_site}))
    base, split = base_data(config.base_dirs, classes, size, config.seed)
    log.info("base data %s: %d images, train %d / test %d", ", ".join(map(str, config.base_dirs)), len(base.labels),
             len(split.train), len(split.test))
    reject = classes.index(REJECT) if REJECT in classes else -1
    if not np.any(base.labels != reject):
        raise DatasetError(f"{', '.join(map(str, config.base_dirs))}: no face photos in the base data, only "
                           f"{REJECT} crops: give class folders of faces too (e.g. mask-classify), or the tuned "
                           "model may forget them unchecked")
    if not np.any(base.labels == reject):
        log.warning("the base data has no %s crops: the tuned model may lose its reject class and call backs of "
                    "heads and things that are not faces masked; add a folder of them (see `maskwatch mine`)", REJECT)

    model = build_classifier(len(classes), size, imagenet=False, blocks=BASE_BLOCKS)
    with np.load(default_model_path(BASE_WEIGHTS)) as weights:
        model.set_weights([weights[f"arr_{i}"] for i in range(len(weights.files))])
    pooled = keras.Model(model.input, model.get_layer("pool").output)
    features = lambda images: pooled.predict(images, batch_size=256, verbose=0)  # noqa: E731
    one_hot = np.eye(len(classes), dtype=np.float32)
    site_weight = SITE_SHARE * len(split.train) / (1 - SITE_SHARE)
    train_head(model, np.concatenate([features(base.images[split.train]), features(site.images[train_site])]),
               one_hot[np.concatenate([base.labels[split.train], site.labels[train_site]])],
               np.concatenate([np.ones(len(split.train), np.float32),
                               camera_weights([site.persons[i] for i in train_site], site_weight)]), config)

    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    export_litert(model, out / "model.tflite")
    trained = datetime.now().astimezone().isoformat(timespec="seconds")
    atomic_write_json(out / "labels.json", {"labels": list(classes), "thresholds": read_labels(shipped_path).thresholds,
                                            "trained": trained, "from_store": str(config.store)})
    tuned = MaskClassifier(out / "model.tflite", runtime="litert")  # scored as `detect` and `watch` will run it
    report = {"trained": trained, "store": str(config.store), "cameras": list(config.cameras) or None,
              "classes": list(classes), "image_size": size,
              "base_dirs": [str(d) for d in config.base_dirs],
              "site": {"faces": len(site.labels), "persons": len(set(site.persons)),
                       "trained_on": {"faces": len(train_site), "per_class": named(train_site),
                                      "cameras": len(set(map(camera_of, site.persons)))},
                       "held_back": {"faces": len(test_site),
                                     "persons": sorted({site.persons[i] for i in test_site})}},
              "config": {"epochs": config.epochs, "batch_size": config.batch_size, "seed": config.seed,
                         "confirmed": config.confirmed, "learning_rate": LEARNING_RATE, "site_share": SITE_SHARE,
                         "heads": HEADS}}
    faces = split.test[base.labels[split.test] != reject]
    not_faces = split.test[base.labels[split.test] == reject]
    for name, images, labels in (("held_back", site.images[test_site], site.labels[test_site]),
                                 ("base_test", base.images[faces], base.labels[faces]),
                                 ("not_faces", base.images[not_faces], base.labels[not_faces])):
        if len(labels):
            report[name] = {"shipped": _scores(labels, shipped.predict(images), classes),
                            "tuned": _scores(labels, tuned.predict(images), classes)}
    for check, part, allowed in (("base_check", "base_test", MAX_BASE_DROP),
                                 ("reject_check", "not_faces", MAX_REJECT_DROP)):
        if part in report:
            drop = report[part]["shipped"]["accuracy"] - report[part]["tuned"]["accuracy"]
            report[check] = {"drop": round(drop, 4), "allowed": allowed, "passed": drop <= allowed}
    report["training_seconds"] = round(time.time() - started, 1)
    atomic_write_json(out / "report.json", report)
    failed = [name for name in ("base_check", "reject_check") if not report.get(name, {"passed": True})["passed"]]
    if failed:
        log.warning("the tuned model failed the %s (report.json): do not use it; correct more faces or train with "
                    "more base data", " and ".join(name.replace("_", " ") for name in failed))
    return report


def format_report(report: dict) -> str:
    """Before and after, side by side: what `train --from-store` prints."""
    lines = [f"learnt from camera {', '.join(report['cameras'])} only"] if report.get("cameras") else []
    for name, title in (("held_back", "site faces held back"), ("base_test", "base test split"),
                        ("not_faces", f"base {REJECT} crops")):
        if name in report:
            shipped, tuned = report[name]["shipped"], report[name]["tuned"]
            lines.append(f"{title} ({shipped['n']}): shipped {100 * shipped['accuracy']:.1f}% -> "
                         f"tuned {100 * tuned['accuracy']:.1f}%")
    if "held_back" not in report:
        lines.append("site faces held back: none (one person only: correct faces of more people to score on)")
    for name, title in (("base_check", "base check"), ("reject_check", "reject check")):
        if name in report:
            check = report[name]
            lines.append(f"{title}: {'passed' if check['passed'] else 'FAILED'} (drop {100 * check['drop']:.2f} "
                         f"points, at most {100 * check['allowed']:.1f})")
    if "reject_check" not in report:
        lines.append(f"reject check: not made (no {REJECT} crops in the base data)")
    return "\n".join(lines)

