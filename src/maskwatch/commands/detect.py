"""`maskwatch detect`: source -> frames -> faces -> labels -> sinks (window, files, JSON Lines, summary)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from maskwatch.commands.options import DETECTOR_HELP, INCORRECT_HELP, positive
from maskwatch.core.errors import InvalidInput
from maskwatch.core.frame import Frame
from maskwatch.io.annotate import draw
from maskwatch.io.atomic import atomic_write_json
from maskwatch.io.background import prefetch
from maskwatch.io.interrupt import DeferredInterrupt, deferred_interrupt
from maskwatch.io.rate import RateMeter
from maskwatch.io.sinks import AnnotatedSaver, JsonLinesWriter, Summary, Window, display_available
from maskwatch.io.sources import open_source
from maskwatch.video.analysis import AnalysisSettings, Step, analyze
from maskwatch.vision.detector import DEFAULT_DETECTOR
from maskwatch.vision.presets import PRESETS, detection_schedule, preset_for

log = logging.getLogger(__name__)


def add_parser(sub) -> None:
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
    p.add_argument("--detect-every", type=positive(int), metavar="N",
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


def run(args: argparse.Namespace) -> int:
    if args.blur_snapshots and not args.snapshots:
        raise InvalidInput("--blur-snapshots and --no-snapshots contradict each other")
    if (args.blur_snapshots or not args.snapshots) and not args.events:
        raise InvalidInput("--no-snapshots and --blur-snapshots need --events (snapshots are "
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
        from maskwatch.commands.detect_ray import run_detect_ray

        return run_detect_ray(options, args.ray)
    return run_detect(options)


@dataclass
class DetectOptions:
    source: str | None = None
    show: bool | None = None  # None: on for cameras and streams when there is a display
    save: Path | None = None
    json: str | None = None
    summary: Path | None = None
    events: Path | None = None  # the SQLite event store
    blur_snapshots: bool = False
    analysis: AnalysisSettings = field(default_factory=AnalysisSettings)


def validate(options: DetectOptions) -> None:
    """Refuse option combinations that cannot work, before anything is opened or written."""
    analysis = options.analysis
    if options.events and not analysis.track:
        raise InvalidInput("--events needs persons, which --no-track turns off")
    if options.events and Path(options.events).is_dir():
        raise InvalidInput(f"--events {options.events}: is a folder; give a file such as events.db")
    if analysis.ignore_outside_zones and not analysis.zones:
        raise InvalidInput("--ignore-outside-zones needs at least one --zone")
    names = [zone.name for zone in analysis.zones]
    if len(set(names)) < len(names):
        raise InvalidInput(f"--zone: each zone needs its own name, got {', '.join(names)}")


class Outputs:
    """The sinks of a run: the event store, the summary, JSON Lines, annotated copies and the window.
    `write(step)` sends one finished frame to each; False once the window was closed."""

    def __init__(self, options: DetectOptions, stack: ExitStack, live: bool, show: bool, save: bool = True) -> None:
        self.live, self.summary, self.zones = live, Summary(), options.analysis.zones
        self.window = stack.enter_context(Window()) if show else None
        self.saver = stack.enter_context(AnnotatedSaver(options.save)) if options.save and save else None
        self.jsonl = stack.enter_context(JsonLinesWriter(options.json)) if options.json else None
        self.store = None
        if options.events:
            from maskwatch.store import EventStore

            store = EventStore(options.events, options.analysis.snapshots, options.blur_snapshots)
            self.store = stack.enter_context(store)
            log.info("events to %s", options.events)
        self._rate = RateMeter()  # the live overlay's fps

    def write(self, step: Step) -> bool:
        events = [self.store.add(event) if self.store else event for event in step.events]
        self.summary.add(step.frame, step.faces, events)
        self._rate.tick()
        if self.jsonl:
            self.jsonl.write(step.frame, step.faces, events)
        if self.saver or self.window:
            annotated = draw(step.frame.image, step.faces, self._rate.rate() if self.live else None, self.zones)
            if self.saver:
                self.saver.write(step.frame, annotated)
            if self.window and not self.window.show(annotated):
                return False
        return True


def report(options: DetectOptions, summary: Summary, failures: list[str]) -> int:
    """The closing summary on stderr (and in --summary), the failures; the exit code."""
    result = summary.as_dict()
    result["failures"] = failures
    print(summary.format(), file=sys.stderr)
    for failure in failures:
        print(f"failed: {failure}", file=sys.stderr)
    if options.summary:
        atomic_write_json(options.summary, result)
    return 1 if failures else 0


def run_detect(options: DetectOptions) -> int:
    """Run detection over the whole source; 0 if every input was read, 1 if some failed (and were skipped)."""
    validate(options)
    source = open_source(options.source)
    analysis = options.analysis
    show = options.show if options.show is not None else source.live and display_available()
    detector = analysis.pipeline(source.live)
    preset = analysis.preset or preset_for(source.live)
    log.info("preset %s; faces: %s; on video, faces detected on %s", preset, detector.detector,
             detection_schedule(analysis.detect_every, PRESETS[preset]))
    analyzer = analysis.analyzer(detector, source.live)
    with ExitStack() as stack:
        stack.enter_context(closing(source))
        outputs = Outputs(options, stack, source.live, show)
        quiet = not log.isEnabledFor(logging.INFO)  # -q: no progress bar either
        progress = stack.enter_context(tqdm(total=source.total, unit="frame", disable=source.live or quiet or None,
                                            desc="Detecting"))
        frames = stack.enter_context(closing(prefetch(source)))

        def output(step: Step) -> bool:
            progress.update()
            return outputs.write(step)

        # Ctrl-C is taken between frames, so no frame is left half-written
        with deferred_interrupt("frame") as interrupt:
            try:
                for step in analyze(until_interrupted(frames, interrupt), analyzer):
                    if not output(step):
                        break
                interrupt.check()
            finally:  # on a closed window or a second Ctrl-C: the events of whoever is still in view
                for step in analyzer.finish():
                    output(step)
    return report(options, outputs.summary, source.failures)


def until_interrupted(frames: Iterable[Frame], interrupt: DeferredInterrupt) -> Iterator[Frame]:
    """The frames until a first Ctrl-C, taken once the frame before is written."""
    for frame in frames:
        if interrupt.requested:
            return
        yield frame
