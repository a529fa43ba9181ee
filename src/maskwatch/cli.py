"""The `maskwatch` command: one entry point, a subcommand per job."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

log = logging.getLogger("maskwatch")

EXAMPLES = """examples:
  maskwatch detect                         live: camera 0, window with boxes (q quits)
  maskwatch detect photos/ --save out/ --json out/faces.jsonl
  maskwatch train dataset/ --out runs/mine  train a classifier on dataset/with_mask, dataset/without_mask
  maskwatch evaluate dataset/ --model runs/mine/model.tflite --json
"""


def _mapping(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        name, sep, target = pair.partition("=")
        if not sep or not name or not target:
            raise argparse.ArgumentTypeError(f"--map takes NAME=CLASS, got {pair!r}")
        mapping[name] = target
    return mapping


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train the mask classifier on a folder of labelled images",
                       description="Train MobileNetV2 (ImageNet weights) on DATA_DIR/CLASS/*.jpg. Writes model.keras, "
                       "model.tflite, labels.json, report.json, curves.png and confusion.png to --out.")
    p.add_argument("data_dir", type=Path, help="folder with one subfolder of images per class")
    p.add_argument("--out", type=Path, required=True, help="output folder, e.g. runs/mine")
    p.add_argument("--scenes", type=Path, action="append", default=[], metavar="VOC_DIR",
                   help="also train on face crops from Pascal VOC scenes (VOC_DIR/images, VOC_DIR/annotations); "
                   "repeatable. 20%% of scenes (by file-name hash) are held out for `evaluate --scenes`")
    p.add_argument("--map", action="append", default=[], metavar="NAME=CLASS",
                   help="treat scene boxes named NAME as CLASS, e.g. --map mask_weared_incorrect=without_mask")
    p.add_argument("--skip", action="append", default=[], metavar="NAME", help="leave out scene boxes named NAME")
    p.add_argument("--epochs", type=int, default=2, help="epochs of the head on the frozen base (default 2)")
    p.add_argument("--fine-tune-epochs", type=int, default=2,
                   help="epochs fine-tuning the upper blocks at a low learning rate (default 2)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--image-size", type=int, default=224, help="square input size in pixels (default 224)")
    p.add_argument("--seed", type=int, default=0, help="same seed, same split and same result")
    p.add_argument("--no-imagenet", action="store_true", help="start from random weights (for experiments)")


def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="score a model on a folder-per-class set (or on annotated scenes)",
                       description="Classification metrics of a .tflite or .keras model on DATA_DIR/CLASS/*.jpg.")
    p.add_argument("data_dir", type=Path, help="folder with one subfolder of images per class")
    p.add_argument("--model", type=Path, help="a .tflite or .keras model with labels.json beside it "
                   "(default: the shipped model)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def run_train(args) -> int:
    from maskwatch.train import TrainConfig, train

    config = TrainConfig(args.data_dir, args.out, args.scenes, _mapping(args.map), args.skip, args.epochs,
                         args.fine_tune_epochs, args.batch_size, args.image_size, args.seed, not args.no_imagenet)
    report = train(config)
    print(f"test accuracy {report['test']['accuracy']:.4f} on {report['test']['n']} images; "
          f"{report['training_seconds']:.0f} s; model in {args.out}")
    return 0


def run_evaluate(args) -> int:
    from maskwatch.evaluate import evaluate_folder
    from maskwatch.metrics import format_metrics

    metrics = evaluate_folder(args.data_dir, args.model)
    print(json.dumps(metrics) if args.json else format_metrics(metrics))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="maskwatch", description="Find faces and tell whether each wears a mask; train the classifier.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors on stderr")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging, with tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_train(sub)
    _add_evaluate(sub)
    return parser


COMMANDS = {"train": run_train, "evaluate": run_evaluate}


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(message)s",
                        stream=sys.stderr)
    from maskwatch.errors import USER_ERRORS

    try:
        return COMMANDS[args.command](args)
    except USER_ERRORS as error:
        log.debug("traceback", exc_info=True)
        print(f"maskwatch {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"maskwatch {args.command}: interrupted", file=sys.stderr)
        return 130
