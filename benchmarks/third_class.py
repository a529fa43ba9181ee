"""Which training data helps a three-class model (mask worn wrong) on real faces it never saw?

Builds a training folder of symlinks per variant into ../shared/datasets (and a `maskwatch synth` set drawn on
mask-classify's bare faces), trains each with the same settings, and scores each on the real scene boxes
of mask-detect that `train --scenes` held out (the classifier on the annotated boxes, and end to end):

  A  mask-incorrect (+ its correctly worn) + mask-classify + synth worn right and wrong
  B  mask-incorrect (+ its correctly worn) + mask-classify             (no synthetic masks of our own)
  C  as B, plus synth worn wrong only
  D  as B, plus a copy of each mask-incorrect face with its mask recoloured (`synth --recolour`)
  E  as B, trained with --balance-sources (the 58 real worn-wrong scene faces weigh as much as the 886
     synthetic ones)
  F  as B, plus real masked faces of mask-classify given another person's nose above the mask
     (`nose_out.py`): real masks, worn under the nose

    python benchmarks/third_class.py --out runs/third_class [--variants A B C]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from maskwatch.cli import main as maskwatch

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
INCORRECT = "mask_weared_incorrect"


def link_all(sources: list[Path], folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for source in sources:
        for path in sorted(source.iterdir()):
            target = folder / path.name
            if path.is_file() and not target.exists():
                target.symlink_to(path.resolve())
                count += 1
    return count


def build(out: Path, variant: str, synth: Path, recoloured: Path, noses: Path) -> Path:
    data = out / f"data{'B' if variant == 'E' else variant}"
    with_mask = [SHARED / "mask-classify" / "with_mask", SHARED / "mask-incorrect" / "with_mask"]
    wrong = [SHARED / "mask-incorrect" / INCORRECT]
    if variant == "A":
        with_mask.append(synth / "with_mask")
    if variant in ("A", "C"):
        wrong.append(synth / INCORRECT)
    if variant == "D":
        with_mask.append(recoloured / "with_mask")
        wrong.append(recoloured / INCORRECT)
    if variant == "F":
        wrong.append(noses / INCORRECT)
    link_all(with_mask, data / "with_mask")
    link_all([SHARED / "mask-classify" / "without_mask"], data / "without_mask")
    link_all(wrong, data / INCORRECT)
    return data


def score(model: Path) -> dict:
    scenes = str(SHARED / "mask-detect")
    crops = out_json(["evaluate", "--scenes", scenes, "--held-out", "--gt-crops", "--model", str(model), "--json"])
    end = out_json(["evaluate", "--scenes", scenes, "--held-out", "--model", str(model), "--json"])
    return {"incorrect_recall_real": crops["per_class"][INCORRECT]["recall"],
            "incorrect_n_real": crops["per_class"][INCORRECT]["support"],
            "with_mask_recall_real": crops["per_class"]["with_mask"]["recall"],
            "without_mask_recall_real": crops["per_class"]["without_mask"]["recall"],
            "incorrect_ap50": end["three_classes"]["per_class"][INCORRECT]["ap50"],
            "two_class_map50": end["incorrect_ignored"]["map50"]}


def out_json(argv: list[str]) -> dict:
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        if maskwatch(["-q", *argv]) != 0:
            raise SystemExit(f"maskwatch {' '.join(argv)} failed")
    return json.loads(buffer.getvalue())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--variants", nargs="+", default=["A", "B", "C", "D", "E", "F"],
                        choices=["A", "B", "C", "D", "E", "F"])
    parser.add_argument("--fine-tune-epochs", default="4")
    args = parser.parse_args()
    if not SHARED.is_dir():
        raise SystemExit(f"shared datasets not found at {SHARED}")
    synth = args.out / "synth"
    if not (synth / "manifest.csv").exists():
        maskwatch(["-q", "synth", str(SHARED / "mask-classify" / "without_mask"), "--out", str(synth), "--seed", "1"])
    recoloured = args.out / "recoloured"
    if not (recoloured / "manifest.csv").exists():
        maskwatch(["-q", "synth", "--recolour", str(SHARED / "mask-incorrect" / INCORRECT),
                   str(SHARED / "mask-incorrect" / "with_mask"), "--out", str(recoloured)])
    noses = args.out / "nose_out"
    if "F" in args.variants and not (noses / "manifest.csv").exists():
        classify = SHARED / "mask-classify"
        subprocess.run([sys.executable, str(Path(__file__).with_name("nose_out.py")), "--masked",
                        str(classify / "with_mask"), "--bare", str(classify / "without_mask"), "--out", str(noses)],
                       check=True)
    results = {}
    for variant in args.variants:
        data, model = build(args.out, variant, synth, recoloured, noses), args.out / f"model{variant}"
        if not (model / "model.tflite").exists():
            maskwatch(["-q", "train", str(data), "--scenes", str(SHARED / "mask-detect"), "--groups",
                       f"{SHARED / 'mask-incorrect' / 'manifest.csv'}:ffhq_id", "--groups",
                       f"{synth / 'manifest.csv'}:source", "--groups", f"{recoloured / 'manifest.csv'}:source",
                       *(["--groups", f"{noses / 'manifest.csv'}:source"] if variant == "F" else []),
                       "--image-size", "128", "--fine-tune-epochs", args.fine_tune_epochs, "--out", str(model),
                       *(["--balance-sources"] if variant == "E" else [])])
        results[variant] = score(model / "model.tflite")
        r = results[variant]
        print(f"{variant}: worn wrong, real held-out boxes: recall {r['incorrect_recall_real']:.3f} "
              f"(n={r['incorrect_n_real']}), end-to-end AP50 {r['incorrect_ap50']:.3f}; with_mask recall "
              f"{r['with_mask_recall_real']:.3f}, without_mask recall {r['without_mask_recall_real']:.3f}; "
              f"two-class mAP50 {r['two_class_map50']:.3f}", flush=True)
    (args.out / "third_class.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
