"""`maskwatch evaluate`: a model scored on labelled folders, photos, annotated scenes or clips with truth files."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from maskwatch.commands.options import DETECTOR_HELP, INCORRECT_HELP, positive
from maskwatch.core.errors import InvalidInput
from maskwatch.vision.detector import DEFAULT_DETECTOR
from maskwatch.vision.presets import PRESETS

log = logging.getLogger(__name__)


def add_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="score a model on a folder-per-class set, or end to end on annotated scenes",
                       description="Classification metrics of a .tflite or .keras model on DATA_DIR/CLASS/*.jpg; "
                       "with --scenes, detection + classification scored against Pascal VOC boxes "
                       "(face recall, AP50 per class, mAP50).")
    p.add_argument("data_dir", type=Path, nargs="?", help="folder with one subfolder of images per class")
    p.add_argument("--scenes", type=Path, metavar="VOC_DIR", help="Pascal VOC scenes (images/, annotations/)")
    p.add_argument("--photos", action="store_true", help="with DATA_DIR: photos of one person each (selfies, "
                   "portraits): detect faces, and score whether one is found and the largest face's verdict")
    p.add_argument("--min-side", type=positive(int, zero=True), default=0, metavar="PX",
                   help="with --photos: only photos at least this long on their long side")
    p.add_argument("--clips", type=Path, metavar="DIR", help="videos to score as a site manager sees them: people "
                   "found, people called masked who were not (and the reverse), events on time, with_mask on bare "
                   "faces and things that are not faces, against a truth file per video (docs/evaluate-clips.md)")
    p.add_argument("--truth", type=Path, metavar="PATH", help="with --clips: a folder of *.truth.toml files, or one "
                   "(default: those in the --clips folder)")
    p.add_argument("--detect-every", type=positive(int), metavar="N", help="with --clips: detection on every Nth "
                   "frame (default: as `detect` runs files)")
    p.add_argument("--held-out", action="store_true", help="with --scenes: only the 20%% of scenes that "
                   "`train --scenes` keeps out of training (by file-name hash)")
    p.add_argument("--model", type=Path, help="a .tflite or .keras model with labels.json beside it "
                   "(default: the shipped model of --preset); " + INCORRECT_HELP)
    p.add_argument("--gt-crops", action="store_true", help="with --scenes: score the classifier alone on the "
                   "annotated face boxes (no detector)")
    p.add_argument("--preset", choices=sorted(PRESETS), default="accurate",
                   help="the detection settings with --scenes, and the shipped model scored unless --model is "
                   "given (default accurate; fast for the live-video model)")
    p.add_argument("--face-threshold", type=float, help="with --scenes: minimum face score")
    p.add_argument("--iou", type=float, default=0.5, help="with --scenes: the overlap at which a face found matches "
                   "an annotated box (default 0.5; 0.3 for collections whose boxes are loose or varied, heads "
                   "rather than faces)")
    p.add_argument("--scale", type=float, help="with --scenes: detector input scale")
    p.add_argument("--detector", default=DEFAULT_DETECTOR, help=DETECTOR_HELP)
    p.add_argument("--errors", type=Path, metavar="SHEET.jpg", help="with DATA_DIR or --gt-crops: draw the "
                   "misclassified faces on one contact sheet (true > predicted, probability), and list them in "
                   "--json")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def run(args: argparse.Namespace) -> int:
    from maskwatch.evaluation import evaluate
    from maskwatch.vision.presets import classifier_path

    if sum(x is not None for x in (args.data_dir, args.scenes, args.clips)) != 1:
        raise InvalidInput("give one of DATA_DIR (classification), --scenes VOC_DIR (end to end on "
                                         "photos) or --clips DIR (persons and events on videos)")
    if (args.truth or args.detect_every) and not args.clips:
        raise InvalidInput("--truth and --detect-every go with --clips")
    if (args.photos or args.min_side) and args.data_dir is None:
        raise InvalidInput("--photos and --min-side go with DATA_DIR")
    if args.errors is not None and args.scenes and not args.gt_crops:
        raise InvalidInput("--errors needs DATA_DIR or --scenes with --gt-crops: end to end, a "
                                         "mistake may be a missed face rather than a crop")
    if args.errors is not None and args.errors.suffix.lower() not in (".jpg", ".jpeg", ".png"):
        raise InvalidInput(f"--errors {args.errors}: give a .jpg or .png file")
    model = classifier_path(args.model, args.preset)
    if args.scenes and args.gt_crops:
        from maskwatch.evaluation.classification import format_metrics

        result = evaluate.evaluate_gt_crops(args.scenes, model, args.held_out, args.errors)
        text = format_metrics(result)
    elif args.clips:
        from maskwatch.data.truth import find_truths
        from maskwatch.evaluation.clips import evaluate_clips, format_clips
        from maskwatch.vision.pipeline import MaskDetector

        truths = find_truths(args.truth or args.clips, args.clips)
        detector = MaskDetector(args.preset, model, args.face_threshold, args.scale, args.detector)
        log.info("faces by %s", detector.detector)
        result = evaluate_clips(truths, detector, args.detect_every)
        text = format_clips(result)
    elif args.scenes:
        from maskwatch.vision.pipeline import MaskDetector

        detector = MaskDetector(args.preset, model, args.face_threshold, args.scale, args.detector)
        log.info("faces by %s", detector.detector)
        result = evaluate.evaluate_scene_dir(args.scenes, detector, args.held_out, args.iou)
        text = evaluate.format_scene_metrics(result)
    elif args.photos:
        from maskwatch.vision.pipeline import MaskDetector

        detector = MaskDetector(args.preset, model, args.face_threshold, args.scale, args.detector)
        log.info("faces by %s", detector.detector)
        result = evaluate.evaluate_photos(args.data_dir, detector, args.min_side)
        text = evaluate.format_photo_metrics(result)
    else:
        from maskwatch.evaluation.classification import format_metrics

        result = evaluate.evaluate_folder(args.data_dir, model, args.errors)
        text = format_metrics(result)
    print(json.dumps(result) if args.json else text)
    return 0
