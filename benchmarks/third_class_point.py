"""The operating point of the third class (a mask worn wrong): where the opt-in three-class models call a face
`mask_weared_incorrect`, chosen on validation faces from several sources and reported per source.

The three-class models rank worn-wrong faces well but seldom put the class first on real faces unlike their
training set: precision high, recall low. A threshold on p(worn wrong) (the class is said wherever it reaches
it, `labels.json`'s "thresholds") trades them. This rebuilds the models' split exactly as `maskwatch train`
made it (the command in MODEL_CARD.md; nothing is trained), scores the shipped model on its validation and
test faces, and on the worn-wrong faces of mask-scenes-ilc's scenes whose crops it never trained on:
- the threshold with the most validation recall at a pooled validation precision of at least --precision
  (mask-real3's two collections and mask-detect's scene crops together);
- per source, on the test faces: precision and recall at that threshold, at the argmax, and the recall at the
  best threshold that keeps the source's own precision at --precision.

    python benchmarks/third_class_point.py [--precision 0.9] [--fast] [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from maskwatch.core.classes import INCORRECT
from maskwatch.data.dataset import named_groups, read_group_tables
from maskwatch.data.dedup import group_duplicates
from maskwatch.data.split import group_split
from maskwatch.data.voc import holdout, scan_scenes
from maskwatch.io.images import read_image
from maskwatch.training.train import TrainConfig, _origins, load_data
from maskwatch.vision.classifier import MaskClassifier, default_model_path
from maskwatch.vision.crops import face_crop, resize

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
THRESHOLDS = np.round(np.arange(0.05, 0.96, 0.05), 2)


def split_of_the_shipped_models() -> tuple:
    """The data, split and origins `maskwatch train` made for the three-class models (MODEL_CARD.md)."""
    real3, incorrect = SHARED / "mask-real3", SHARED / "mask-incorrect"
    config = TrainConfig([real3, SHARED / "mask-classify", incorrect], Path("unused"), [SHARED / "mask-detect"],
                         image_size=128, groups=[(real3 / "manifest.csv", "source_image"),
                                                 (incorrect / "manifest.csv", "ffhq_id")])
    data, _ = load_data(config)
    keys, _ = named_groups(data.samples, data.keys, read_group_tables(config.groups))
    groups, _, _ = group_duplicates(keys, data.hashes)
    origins = _origins(config, data)
    split = group_split(data.labels, groups, seed=config.seed, strata=[Path(o).name for o in origins])
    return data, split, origins


def sources_of(data, indices: np.ndarray, origins: np.ndarray) -> list[str]:
    """mask-real3's collection (ilc, yy) or the folder, per item."""
    with (SHARED / "mask-real3" / "manifest.csv").open(newline="", encoding="utf-8") as file:
        collection = {(SHARED / "mask-real3" / r["file"]).resolve(): r["source"] for r in csv.DictReader(file)}
    return [f"mask-real3 {collection[data.samples[i].path.resolve()]}" if Path(origins[i]).name == "mask-real3"
            else Path(origins[i]).name for i in indices]


def unseen_ilc_scene_faces(data, split, classifier: MaskClassifier) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and truth (worn wrong or not) of the faces of mask-scenes-ilc's held-out scenes whose
    crops were not among the three-class models' training faces (mask-real3's ilc crops come from them)."""
    trained = {data.samples[i].path.stem.split("_")[1] for i in split.train
               if data.samples[i].path.name.startswith("ilc_")}
    crops, truth = [], []
    for scene in scan_scenes(SHARED / "mask-scenes-ilc"):
        if not holdout(scene.image.name) or scene.image.stem in trained:
            continue
        image = read_image(scene.image)
        for box in scene.boxes:
            if max(box.box[2] - box.box[0], box.box[3] - box.box[1]) >= 16:
                crops.append(face_crop(image, box.box, classifier.image_size))
                truth.append(box.name == INCORRECT)
    probs = classifier.predict(np.stack(crops)) if crops else np.zeros((0, len(classifier.labels)))
    return probs, np.array(truth, bool)


def precision_recall(p: np.ndarray, wrong: np.ndarray, called: np.ndarray) -> dict:
    hits = int((called & wrong).sum())
    return {"called": int(called.sum()), "hits": hits, "worn_wrong": int(wrong.sum()),
            "precision": round(hits / called.sum(), 4) if called.any() else None,
            "recall": round(hits / wrong.sum(), 4) if wrong.any() else None}


def best_threshold(p: np.ndarray, wrong: np.ndarray, precision: float) -> float | None:
    """The lowest threshold (most recall) whose precision is at least `precision`."""
    for t in THRESHOLDS:
        called = p >= t
        if called.any() and (called & wrong).sum() / called.sum() >= precision:
            return float(t)
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", type=float, default=0.9, help="the precision to keep (default 0.9)")
    parser.add_argument("--fast", action="store_true", help="the 88 px model of the fast preset")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    name = "mask_classifier_incorrect_fast.tflite" if args.fast else "mask_classifier_incorrect.tflite"
    classifier = MaskClassifier(default_model_path(name))
    column = classifier.labels.index(INCORRECT)
    data, split, origins = split_of_the_shipped_models()
    wanted = {"mask-real3 ilc", "mask-real3 yy", "mask-detect"}
    parts = {}
    for part, indices in (("validation", split.val), ("test", split.test)):
        sources = np.array(sources_of(data, indices, origins))
        keep = np.isin(sources, list(wanted))
        images = np.stack([resize(data.images[i], classifier.image_size) for i in indices[keep]])
        probs = np.concatenate([classifier.predict(images[k:k + 64]) for k in range(0, len(images), 64)])
        wrong = data.labels[indices[keep]] == data.classes.index(INCORRECT)
        parts[part] = (probs, wrong, sources[keep])
    probs, wrong, _ = parts["validation"]
    chosen = best_threshold(probs[:, column], wrong, args.precision)
    ilc_probs, ilc_wrong = unseen_ilc_scene_faces(data, split, classifier)
    probs, wrong, sources = parts["test"]
    by_source = {source: (probs[sources == source], wrong[sources == source]) for source in sorted(set(sources))}
    by_source["mask-scenes-ilc held-out faces not trained on"] = (ilc_probs, ilc_wrong)
    report = {"model": name, "precision_kept": args.precision, "threshold": chosen, "test": {}}
    for source, (p, w) in by_source.items():
        own = best_threshold(p[:, column], w, args.precision)
        report["test"][source] = {
            "argmax": precision_recall(p, w, p.argmax(1) == column),
            "at_threshold": precision_recall(p, w, p[:, column] >= chosen) if chosen is not None else None,
            "own_threshold": own,
            "recall_at_precision": precision_recall(p, w, p[:, column] >= own)["recall"] if own is not None else None}
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{name}: worn wrong from p >= {chosen} (most validation recall at precision >= {args.precision})")
    for source, row in report["test"].items():
        at, top = row["at_threshold"], row["argmax"]
        print(f"  {source}: {at['worn_wrong']} worn wrong; at the threshold precision {at['precision']} recall "
              f"{at['recall']}; at the argmax {top['precision']} / {top['recall']}; recall at precision "
              f">= {args.precision}: {row['recall_at_precision']} (p >= {row['own_threshold']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
