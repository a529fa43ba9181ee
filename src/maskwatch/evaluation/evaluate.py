"""`maskwatch evaluate`: score a model on a folder-per-class set."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from maskwatch.core.classes import INCORRECT, UNKNOWN, WITHOUT_MASK
from maskwatch.core.faces import Face
from maskwatch.data.dataset import DatasetError, folder_classes, folder_samples, load_samples
from maskwatch.evaluation.classification import classification_metrics
from maskwatch.evaluation.contact_sheet import mistakes, write_contact_sheet
from maskwatch.io.progress import progress


def predict_fn(model_path: Path | None):
    """(predict(images) -> probabilities, labels and operating points, image size) for a `.tflite` (LiteRT)
    or `.keras` model."""
    if model_path is not None and model_path.suffix == ".keras":
        import keras

        from maskwatch.vision.classifier import read_labels

        model = keras.models.load_model(model_path)
        return (lambda x: model.predict(x.astype(np.float32), batch_size=32, verbose=0),
                read_labels(model_path), int(model.input_shape[1]))
    from maskwatch.vision.classifier import MaskClassifier

    classifier = MaskClassifier(model_path)
    return classifier.predict, classifier.operating, classifier.image_size


def _score(samples, model_path: Path | None, errors: Path | None = None, batch_size: int = 64) -> dict:
    predict, operating, size = predict_fn(model_path)
    labels = operating.names
    data = load_samples(samples, labels, size, every_class=False)
    probs = np.concatenate([predict(data.images[i:i + batch_size]) for i in range(0, len(data.labels), batch_size)])
    decided = operating.decide(probs)
    metrics = classification_metrics(data.labels, decided, labels)
    if INCORRECT in labels and WITHOUT_MASK in labels:
        metrics["incorrect_as_without_mask"] = _merged_accuracy(data.labels, decided, labels)
    metrics["skipped"] = {"count": len(data.skipped), "first": data.skipped[:10]}
    metrics["model"] = str(model_path) if model_path else "default"
    if errors is not None:
        names = [s.path.name if s.box is None else f"{s.path.name} {list(s.box)}" for s in data.samples]
        found = mistakes(data.images, data.labels, probs, labels, names, decided)
        shown = write_contact_sheet(found, errors)
        metrics["errors"] = {"sheet": str(errors), "mistakes": len(found), "shown": shown,
                             "listed": [{"name": m.name, "truth": m.truth, "predicted": m.predicted,
                                         "probability": round(m.probability, 4)} for m in found]}
    return metrics


def _merged_accuracy(truth: np.ndarray, predicted: np.ndarray, labels: list[str]) -> dict:
    """Accuracy with mask_weared_incorrect counted as without_mask, truth and prediction alike: the
    two-class question (mask or not), so a three-class model compares with a two-class one on any set."""
    merge = np.arange(len(labels))
    merge[labels.index(INCORRECT)] = labels.index(WITHOUT_MASK)
    right = int(np.sum(merge[truth] == merge[predicted]))
    return {"accuracy": round(right / len(truth), 4) if len(truth) else 0.0, "n": len(truth), "right": right}


def evaluate_folder(data_dir: Path, model_path: Path | None = None, errors: Path | None = None) -> dict:
    """Classification metrics of the model on every readable image under data_dir/CLASS/."""
    from maskwatch.vision.classifier import default_model_path, read_labels

    labels = read_labels(model_path or default_model_path()).names
    classes = folder_classes(data_dir)
    unknown = sorted(set(classes) - set(labels))
    if unknown:
        raise DatasetError(f"{data_dir}: classes {unknown} are not among the model's labels {labels}")
    return _score(folder_samples(data_dir, classes), model_path, errors)


def evaluate_photos(data_dir: Path, detector, min_side: int = 0) -> dict:
    """End to end on photos of one person each, labelled by folder (selfies, portraits, product photos):
    is a face found, is the largest face's verdict (its state, as `detect` reports it) the folder's label,
    and are there boxes inside that face (a mask's print taken for faces). Photos whose long side is under
    `min_side` are left out."""

    from maskwatch.io.images import UnreadableImage, read_image
    from maskwatch.vision.passes import part_of

    classes = folder_classes(data_dir, minimum=1)
    per_class: dict[str, dict] = {c: {"photos": 0, "found": 0, "right": 0, "unknown": 0} for c in classes}
    missed, wrong, inside, skipped = [], [], [], []
    for sample in progress(folder_samples(data_dir, classes), desc="Photos", unit="img"):
        try:
            image = read_image(sample.path)
        except UnreadableImage as error:
            skipped.append(str(error))
            continue
        if max(image.shape[:2]) < min_side:
            continue
        counts = per_class[sample.label]
        counts["photos"] += 1
        faces = detector(image)
        name = str(sample.path.relative_to(data_dir))
        if not faces:
            missed.append(name)
            continue
        counts["found"] += 1
        largest = max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
        counts["right"] += largest.state == sample.label
        counts["unknown"] += largest.state == UNKNOWN
        if largest.state not in (sample.label, UNKNOWN):
            wrong.append(f"{name} ({largest.state}, p {largest.confidence:.2f})")
        if any(face is not largest and part_of(face, largest) for face in faces):
            inside.append(name)
    photos = sum(c["photos"] for c in per_class.values())

    def share(key: str) -> float | None:
        return round(sum(c[key] for c in per_class.values()) / photos, 4) if photos else None

    return {"photos": photos, "min_side": min_side, "face_found": share("found"), "largest_right": share("right"),
            "largest_unknown": share("unknown"), "largest_wrong": round(len(wrong) / photos, 4) if photos else None,
            "photos_with_boxes_inside_the_face": len(inside), "per_class": per_class,
            "no_face": missed[:20], "wrong": wrong[:20], "boxes_inside": inside[:20],
            "skipped": {"count": len(skipped), "first": skipped[:10]}}


def format_photo_metrics(result: dict) -> str:
    if not result["photos"]:
        return f"no photos of {result['min_side']} px or more"
    lines = [f"{result['photos']} photos" + (f" of {result['min_side']} px or more" if result["min_side"] else ""),
             f"a face found: {result['face_found']:.1%}; the largest face's verdict right: "
             f"{result['largest_right']:.1%}, unknown: {result['largest_unknown']:.1%}, "
             f"wrong: {result['largest_wrong']:.1%}",
             f"photos with boxes inside the face: {result['photos_with_boxes_inside_the_face']}"]
    for label, counts in result["per_class"].items():
        if counts["photos"]:
            lines.append(f"  {label}: {counts['photos']} photos, found {counts['found'] / counts['photos']:.1%}, "
                         f"right {counts['right'] / counts['photos']:.1%}")
    for key, title in (("no_face", "no face"), ("wrong", "wrong"), ("boxes_inside", "boxes inside the face")):
        if result[key]:
            lines.append(f"{title} (first {len(result[key])}): " + ", ".join(result[key]))
    return "\n".join(lines)


def evaluate_gt_crops(voc_dir: Path, model_path: Path | None = None, held_out: bool = False,
                      errors: Path | None = None) -> dict:
    """Classification metrics on the annotated face boxes of VOC scenes, cut as `detect` cuts faces
    (boxes named mask_weared_incorrect are left out, unless the model has that class): the classifier alone,
    with perfect face boxes."""
    from maskwatch.data.dataset import scene_samples
    from maskwatch.data.voc import holdout
    from maskwatch.vision.classifier import default_model_path, read_labels

    labels = read_labels(model_path or default_model_path()).names
    skip = [] if INCORRECT in labels else [INCORRECT]
    samples, _ = scene_samples(voc_dir, labels, skip=skip, include_holdout=True)
    return _score([s for s in samples if holdout(s.path.name) or not held_out], model_path, errors)


def evaluate_scene_dir(voc_dir: Path, detector, held_out: bool = False, iou: float = 0.5) -> dict:
    """End to end on Pascal VOC scenes: the detector+classifier's faces against every annotated box, a face
    found where a box overlaps it by `iou` (0.5 as VOC; collections whose annotators draw looser or varied
    boxes, heads rather than faces, may be matched at 0.3).

    `mask_weared_incorrect` boxes are scored twice: ignored (VOC "difficult"), and counted as no mask.
    Per-class AP ranks a face labelled c by face score x p(c)."""

    from maskwatch.data.voc import holdout, scan_scenes
    from maskwatch.evaluation.detection import evaluate_scenes, recall_by_size
    from maskwatch.io.images import UnreadableImage, read_image

    scenes = [s for s in scan_scenes(voc_dir) if holdout(s.image.name) or not held_out]
    if not scenes:
        raise DatasetError(f"{voc_dir}: no annotated scenes to evaluate")
    truth, predictions, skipped = [], [], []
    for scene in progress(scenes, desc="Scenes", unit="img"):
        try:
            image = read_image(scene.image)
        except UnreadableImage as error:
            skipped.append(str(error))
            continue
        truth.append(scene.boxes)
        predictions.append(detector(image))
    labels = detector.classifier.labels
    without = next((c for c in labels if c.startswith("without")), labels[-1])

    def score(face) -> float:
        return face.score * face.confidence

    faces = [face for found in predictions for face in found]
    large = [face for face in faces if face.side >= 48]
    # The two-class scores as they have always been computed: a three-class model's "worn wrong" faces count
    # as without a mask, with the two probabilities added, so its numbers compare with a two-class model's.
    two = [label for label in labels if label != INCORRECT]
    merged = [[_merged(face, without) for face in found] for found in predictions]
    result = {
        "scenes": len(truth), "held_out_only": held_out, "skipped": {"count": len(skipped), "first": skipped[:10]},
        # AP ranks the classifier's probabilities as before; how often `detect` would say "unknown" instead:
        "unknown_rate": _unknown_share(faces), "unknown_rate_48px_and_up": _unknown_share(large),
        "iou": iou, "face_recall_by_size": recall_by_size(truth, predictions, iou),
        "incorrect_ignored": evaluate_scenes(truth, merged, two, iou, ignore=(INCORRECT,), class_score=score),
        "incorrect_as_no_mask": evaluate_scenes(truth, merged, two, iou, relabel={INCORRECT: without},
                                                class_score=score),
    }
    if INCORRECT in labels:  # worn wrong scored as a class of its own
        result["three_classes"] = evaluate_scenes(truth, predictions, labels, iou, class_score=score)
    return result


def _merged(face: Face, without: str) -> Face:
    """The face as a two-class model would label it: mask_weared_incorrect joins without_mask (a two-class
    model's faces come back unchanged)."""
    if face.label != INCORRECT:
        return face
    p = face.probs.get(without, 0.0) + face.probs.get(INCORRECT, 0.0)
    return replace(face, label=without, confidence=p)


def _unknown_share(faces: list) -> float | None:
    return round(sum(face.state == "unknown" for face in faces) / len(faces), 4) if faces else None


def format_scene_metrics(result: dict) -> str:
    lines = [f"{result['scenes']} scenes" + (" (held out of training)" if result["held_out_only"] else "")
             + ("" if result["iou"] == 0.5 else f", a face found at IoU {result['iou']}")]
    if result["unknown_rate"] is not None:
        large = result["unknown_rate_48px_and_up"]
        lines.append(f"faces judged unknown: {result['unknown_rate']:.1%}"
                     + ("" if large is None else f" ({large:.1%} of faces 48 px and wider)"))
    bands = result["face_recall_by_size"].items()
    lines.append("face recall by size: " + ", ".join(f"{band} {v['recall']:.3f} (n={v['faces']})"
                                                     for band, v in bands if v["faces"]))
    at = round(100 * result["iou"])
    for mode in ("incorrect_ignored", "incorrect_as_no_mask", "three_classes"):
        if mode not in result:
            continue
        m = result[mode]
        per_class = ", ".join(f"{c} AP{at} {v['ap50']:.3f} (n={v['n_gt']})" for c, v in m["per_class"].items()
                              if v["ap50"] is not None)
        lines.append(f"{mode.replace('_', ' ')}: mAP{at} {m['map50']:.3f} | face recall {m['face_recall']:.3f}, "
                     f"face AP{at} {m['face_ap50']:.3f} | {per_class}")
    return "\n".join(lines)
