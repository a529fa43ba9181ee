"""`maskwatch detect`: source -> frames -> faces -> labels -> sinks (window, files, JSON Lines, summary)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

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
from maskwatch.vision.presets import PRESETS, detection_schedule, preset_for

log = logging.getLogger(__name__)


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
