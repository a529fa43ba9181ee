"""How a three-class run does on the real faces of its test split, and on mask-classify merged to two classes.

`maskwatch train` writes `test_predictions.csv` (every test item, its folder, truth and probabilities).
This reads it and prints, for the test items from mask-real3 (real face crops, split by `source_image`):
recall per class with counts, per source collection (ilc, yy), and the precision / recall of
`mask_weared_incorrect` at thresholds on p(worn wrong); and, on the mask-classify test items, accuracy
with worn wrong merged into without_mask, as a two-class model is scored. It also links the real test
faces into RUN/real_test/CLASS/, so that `maskwatch evaluate RUN/real_test --model ... --errors` scores
any model (the shipped one too) on the same faces and draws its mistakes.

    python benchmarks/real_faces.py runs/r3_all128 [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import Counter
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
INCORRECT = "mask_weared_incorrect"
THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def read_predictions(run: Path) -> list[dict]:
    with (run / "test_predictions.csv").open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def recall_table(rows: list[dict]) -> dict:
    """Per class: n, found (predicted as the truth), recall; and the confusion as truth -> predicted counts."""
    out = {}
    for truth in sorted({r["truth"] for r in rows}):
        mine = [r for r in rows if r["truth"] == truth]
        found = sum(r["predicted"] == truth for r in mine)
        out[truth] = {"n": len(mine), "found": found, "recall": round(found / len(mine), 4),
                      "predicted": dict(Counter(r["predicted"] for r in mine))}
    return out


def tradeoff(rows: list[dict]) -> list[dict]:
    """Precision and recall of worn wrong when a face is called so at p(worn wrong) >= t, and at the argmax."""
    wrong = [r["truth"] == INCORRECT for r in rows]
    points = []
    for name, called in [("argmax", [r["predicted"] == INCORRECT for r in rows])] + [
            (f"p >= {t}", [float(r[f"p_{INCORRECT}"]) >= t for r in rows]) for t in THRESHOLDS]:
        hits = sum(c and w for c, w in zip(called, wrong, strict=True))
        points.append({"rule": name, "called": sum(called), "hits": hits,
                       "precision": round(hits / sum(called), 4) if any(called) else None,
                       "recall": round(hits / sum(wrong), 4)})
    return points


def merged_accuracy(rows: list[dict]) -> dict:
    """Accuracy with worn wrong counted as without_mask (the two-class question)."""
    def merge(label: str) -> str:
        return "without_mask" if label == INCORRECT else label

    right = sum(merge(r["predicted"]) == merge(r["truth"]) for r in rows)
    return {"n": len(rows), "right": right, "accuracy": round(right / len(rows), 4) if rows else None}


def link_test_faces(rows: list[dict], folder: Path) -> int:
    for row in rows:
        target = folder / row["truth"] / Path(row["file"]).name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.symlink_to(Path(row["file"]).resolve())
    return len(rows)


def collection_of(manifest: Path) -> dict[Path, str]:
    with manifest.open(newline="", encoding="utf-8") as file:
        return {(manifest.parent / r["file"]).resolve(): r["source"] for r in csv.DictReader(file)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a `maskwatch train --out` folder")
    parser.add_argument("--real", default="mask-real3", help="name of the folder of real faces (default mask-real3)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = read_predictions(args.run)
    real = [r for r in rows if Path(r["source"]).name == args.real]
    classify = [r for r in rows if Path(r["source"]).name == "mask-classify"]
    collections = collection_of(SHARED / args.real / "manifest.csv")
    by_collection = {c: recall_table([r for r in real if collections.get(Path(r["file"]).resolve()) == c])
                     for c in sorted(set(collections.values()))}
    result = {"run": str(args.run), "real": recall_table(real), "real_by_collection": by_collection,
              "worn_wrong_tradeoff": tradeoff(real), "mask_classify_merged": merged_accuracy(classify),
              "linked": link_test_faces(real, args.run / "real_test")}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{args.run}: {len(real)} real test faces ({args.real}); linked in {args.run / 'real_test'}")
    for name, table in [("all", result["real"]), *by_collection.items()]:
        print(f"  {name}: " + ", ".join(f"{c} {v['found']}/{v['n']} ({v['recall']:.3f})" for c, v in table.items()))
    for point in result["worn_wrong_tradeoff"]:
        precision = "-" if point["precision"] is None else f"{point['precision']:.3f}"
        print(f"  worn wrong, {point['rule']}: precision {precision} ({point['hits']}/{point['called']}), "
              f"recall {point['recall']:.3f}")
    merged = result["mask_classify_merged"]
    print(f"  mask-classify test, worn wrong merged into without_mask: {merged['right']}/{merged['n']} "
          f"({merged['accuracy']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
