"""`maskwatch detect`: source -> frames -> faces -> labels -> sinks (window, files, JSON Lines, summary)."""

from __future__ import annotations

import logging
import sys
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from maskwatch.core.errors import InvalidInput
from maskwatch.core.zones import Zone
from maskwatch.io.annotate import draw
from maskwatch.io.atomic import atomic_write_json
from maskwatch.io.background import prefetch
from maskwatch.io.interrupt import deferred_interrupt
from maskwatch.io.rate import RateMeter
from maskwatch.io.sinks import AnnotatedSaver, JsonLinesWriter, Summary, Window, display_available
from maskwatch.io.sources import open_source
from maskwatch.video.analysis import Step, VideoAnalyzer
from maskwatch.vision.detector import DEFAULT_DETECTOR
from maskwatch.vision.pipeline import MaskDetector
from maskwatch.vision.presets import PRESETS, detection_schedule

log = logging.getLogger(__name__)


@dataclass
class DetectOptions:
    source: str | None = None
    show: bool | None = None  # None: on for cameras and streams when there is a display
    save: Path | None = None
    json: str | None = None
    summary: Path | None = None
    preset: str | None = None  # None: fast for live sources, accurate for files
    model: Path | None = None
    face_threshold: float | None = None
    scale: float | None = None
    detector: str = DEFAULT_DETECTOR
    track: bool = True  # faces of video frames belong to tracked persons, with events
    events: Path | None = None  # the SQLite event store
    snapshots: bool = True
    blur_snapshots: bool = False
    detect_every: int | None = None  # None: the preset's
    zones: tuple[Zone, ...] = ()  # events name them; drawn on the saved and shown frames
    ignore_outside_zones: bool = False  # faces in no zone are not looked at


def validate(options: DetectOptions) -> None:
    """Refuse option combinations that cannot work, before anything is opened or written."""
    if options.events and not options.track:
        raise InvalidInput("--events needs persons, which --no-track turns off")
    if options.events and Path(options.events).is_dir():
        raise InvalidInput(f"--events {options.events}: is a folder; give a file such as events.db")
    if options.ignore_outside_zones and not options.zones:
        raise InvalidInput("--ignore-outside-zones needs at least one --zone")
    names = [zone.name for zone in options.zones]
    if len(set(names)) < len(names):
        raise InvalidInput(f"--zone: each zone needs its own name, got {', '.join(names)}")


class Outputs:
    """The sinks of a run: the event store, the summary, JSON Lines, annotated copies and the window.
    `write(step)` sends one finished frame to each; False once the window was closed."""

    def __init__(self, options: DetectOptions, stack: ExitStack, live: bool, show: bool, save: bool = True) -> None:
        self.live, self.summary, self.zones = live, Summary(), options.zones
        self.window = stack.enter_context(Window()) if show else None
        self.saver = stack.enter_context(AnnotatedSaver(options.save)) if options.save and save else None
        self.jsonl = stack.enter_context(JsonLinesWriter(options.json)) if options.json else None
        self.store = None
        if options.events:
            from maskwatch.monitor.store import EventStore

            self.store = stack.enter_context(EventStore(options.events, options.snapshots, options.blur_snapshots))
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
    preset = options.preset or ("fast" if source.live else "accurate")
    show = options.show if options.show is not None else source.live and display_available()
    detector = MaskDetector(preset, options.model, options.face_threshold, options.scale, options.detector)
    log.info("preset %s; faces: %s; on video, faces detected on %s", preset, detector.detector,
             detection_schedule(options.detect_every, PRESETS[preset]))
    analyzer = VideoAnalyzer(detector, options.detect_every, options.track, source.live,
                             snapshots=options.snapshots, zones=options.zones,
                             ignore_outside_zones=options.ignore_outside_zones)
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
                for frame in frames:
                    if not all(output(step) for step in analyzer.push(frame)):
                        break
                    interrupt.check()
            finally:  # also on Ctrl-C: the last frame and the events of whoever is still in view
                for step in analyzer.finish():
                    output(step)
    return report(options, outputs.summary, source.failures)
