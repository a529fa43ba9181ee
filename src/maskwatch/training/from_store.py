"""`maskwatch train --from-store`: the shipped fast classifier (the one `watch`'s cameras run) fine-tuned on
a site's own corrected faces, mixed with base training data so that it does not forget what it knew.

The faces are the crops `[learning]` keeps (each event's face and those sampled before it), labelled by
their corrections (and, with `confirmed`, reviewed verdicts left uncorrected). A person's faces all go to
one side: persons held back are the site's own test, never trained on. The report scores the shipped model
and the new one side by side on those held-back faces and on the base data's test split (a drop of more
than MAX_BASE_DROP there is a failed check: the model is written, and the report and log say not to use it).
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
SITE_SHARE = 0.25  # site faces are repeated to about this share of an epoch: 30 of them against 3000 photos
MAX_BASE_DROP = 0.003  # accuracy on the base test split may drop by 0.3 points at most
LEARNING_RATE = 1e-4
EPOCHS = 3
# Only the head learns (Dense 128 and the output): of the settings measured on the hallway clips (learning.md),
# it lost the least on the base test split while still turning the held-back masked person right.


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


@dataclass(frozen=True)
class SiteFaces:
    images: np.ndarray  # N x size x size x 3 uint8, as the classifier sees them
    labels: np.ndarray  # class indices; -1 for a face nobody corrected or confirmed
    persons: list[str]  # camera/run/person of each


def classifier_view(kept: np.ndarray, size: int) -> np.ndarray:
    """The classifier's crop (the face box and CROP_MARGIN around it) out of a kept face (SNAPSHOT_MARGIN)."""
    side = kept.shape[0]
    inner = round(side * (1 + 2 * CROP_MARGIN) / (1 + 2 * SNAPSHOT_MARGIN))
    start = (side - inner) // 2
    return resize(kept[start:start + inner, start:start + inner], size)


def site_faces(store_path: Path, rows: Sequence[dict], classes: Sequence[str], size: int,
               confirmed: bool) -> SiteFaces:
    """The faces of the store's `rows` as the classifier sees them; refuses too few labelled ones, or one
    class only, in one line."""
    images, labels, persons, missing = [], [], [], 0
    for row in rows:
        if row["label"] is None and row["model"] != "unknown":
            continue  # a verdict nobody looked at is no evidence: only what the model rejected is kept as it was
        try:
            image = read_image(row["file"])
        except (UnreadableImage, OSError):
            missing += 1  # deleted by retention since, or damaged
            continue
        images.append(classifier_view(image, size))
        labels.append(-1 if row["label"] is None else classes.index(row["label"]))
        persons.append(f"{row['source']}/run{row['run']}/p{row['person']}")
    if missing:
        log.warning("%d kept face(s) of corrected events are gone from the disk; left out", missing)
    how = "corrected or confirmed" if confirmed else "corrected"
    labelled = sum(label >= 0 for label in labels)
    if labelled < MIN_FACES:
        raise DatasetError(f"{store_path}: {labelled} {how} face(s) kept for learning; at least {MIN_FACES} are "
                           "needed (switch [learning] on, correct verdicts on the review page, or add --confirmed)")
    named = sorted({classes[i] for i in labels if i >= 0})
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


def train_from_store(config: StoreTrainConfig) -> dict:
    """Fine-tune, export `out/model.tflite` with its labels.json, and write `out/report.json`; the report."""
    import keras

    from maskwatch.training.model import augmentation, build_classifier, freeze_base
    from maskwatch.training.train import epoch_progress, export_litert, make_dataset

    started = time.time()
    keras.utils.set_random_seed(config.seed)
    shipped_path = default_model_path(BASE_MODEL)
    shipped = MaskClassifier(shipped_path, runtime="litert")
    classes, size = shipped.labels, shipped.image_size
    site = site_faces(config.store, config.faces, classes, size, config.confirmed)
    train_site, test_site = person_split(site.persons, config.seed)
    test_site = test_site[site.labels[test_site] >= 0]  # scored on what a reviewer said
    named = lambda indices: dict(Counter(classes[i] for i in site.labels[indices] if i >= 0))  # noqa: E731
    log.info("site faces: %d of %d persons (%s); %d faces of %d persons held back to score on",
             len(train_site), len({site.persons[i] for i in train_site}),
             named(train_site), len(test_site),
             len({site.persons[i] for i in test_site}))
    base, split = base_data(config.base_dirs, classes, size, config.seed)
    log.info("base data %s: %d images, train %d / test %d", ", ".join(map(str, config.base_dirs)), len(base.labels),
             len(split.train), len(split.test))

    # The base photos are learnt as the shipped model sees them (its probabilities, distillation), and so are
    # the site's faces it rejected that nobody corrected (what it knew stays, its reject class too, which no
    # base photo shows); the corrected and confirmed faces by what the reviewer said.
    repeat = max(1, round(SITE_SHARE * len(split.train) / ((1 - SITE_SHARE) * max(1, len(train_site)))))
    known = shipped.predict(base.images[split.train])
    said = site.labels[train_site]
    taught = np.where((said >= 0)[:, None], np.eye(len(classes), dtype=np.float32)[np.maximum(said, 0)],
                      shipped.predict(site.images[train_site]))
    mixed = LoadedData(np.concatenate([base.images[split.train], *[site.images[train_site]] * repeat]),
                       np.concatenate([known, *[taught] * repeat]), list(classes), [], [], [])
    model = build_classifier(len(classes), size, imagenet=False, blocks=BASE_BLOCKS)
    with np.load(default_model_path(BASE_WEIGHTS)) as weights:
        model.set_weights([weights[f"arr_{i}"] for i in range(len(weights.files))])
    freeze_base(model)
    model.compile(keras.optimizers.Adam(LEARNING_RATE), "categorical_crossentropy", metrics=["accuracy"])
    everything = np.arange(len(mixed.labels))
    model.fit(make_dataset(mixed, everything, config.batch_size, augmentation(config.seed), config.seed),
              epochs=config.epochs, callbacks=[epoch_progress(config.epochs)], verbose=0)

    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    export_litert(model, out / "model.tflite")
    trained = datetime.now().astimezone().isoformat(timespec="seconds")
    atomic_write_json(out / "labels.json", {"labels": list(classes), "thresholds": read_labels(shipped_path).thresholds,
                                            "trained": trained, "from_store": str(config.store)})
    tuned = MaskClassifier(out / "model.tflite", runtime="litert")  # scored as `detect` and `watch` will run it
    report = {"trained": trained, "store": str(config.store), "classes": list(classes), "image_size": size,
              "base_dirs": [str(d) for d in config.base_dirs],
              "site": {"faces": len(site.labels), "persons": len(set(site.persons)),
                       "trained_on": {"faces": len(train_site), "repeated": repeat, "per_class": named(train_site),
                                      "as_the_shipped_model_saw_them": int(np.sum(said < 0))},
                       "held_back": {"faces": len(test_site),
                                     "persons": sorted({site.persons[i] for i in test_site})}},
              "config": {"epochs": config.epochs, "batch_size": config.batch_size, "seed": config.seed,
                         "confirmed": config.confirmed, "learning_rate": LEARNING_RATE}}
    for name, images, labels in (("held_back", site.images[test_site], site.labels[test_site]),
                                 ("base_test", base.images[split.test], base.labels[split.test])):
        if len(labels):
            report[name] = {"shipped": _scores(labels, shipped.predict(images), classes),
                            "tuned": _scores(labels, tuned.predict(images), classes)}
    drop = (report["base_test"]["shipped"]["accuracy"] - report["base_test"]["tuned"]["accuracy"]
            if "base_test" in report else 0.0)
    report["base_check"] = {"drop": round(drop, 4), "allowed": MAX_BASE_DROP, "passed": drop <= MAX_BASE_DROP}
    report["training_seconds"] = round(time.time() - started, 1)
    atomic_write_json(out / "report.json", report)
    if not report["base_check"]["passed"]:
        log.warning("the tuned model lost %.1f points on the base test split (at most %.1f allowed): do not use "
                    "it; correct more faces or train with more --base data", 100 * drop, 100 * MAX_BASE_DROP)
    return report


def format_report(report: dict) -> str:
    """Before and after, side by side: what `train --from-store` prints."""
    lines = []
    for name, title in (("held_back", "site faces held back"), ("base_test", "base test split")):
        if name in report:
            shipped, tuned = report[name]["shipped"], report[name]["tuned"]
            lines.append(f"{title} ({shipped['n']} faces): shipped {100 * shipped['accuracy']:.1f}% -> "
                         f"tuned {100 * tuned['accuracy']:.1f}%")
    if "held_back" not in report:
        lines.append("site faces held back: none (one person only: correct faces of more people to score on)")
    check = report["base_check"]
    lines.append(f"base check: {'passed' if check['passed'] else 'FAILED'} (drop {100 * check['drop']:.2f} points, "
                 f"at most {100 * check['allowed']:.1f})")
    return "\n".join(lines)

