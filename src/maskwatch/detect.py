"""`maskwatch detect`: source -> frames -> faces -> labels -> sinks (window, files, JSON Lines, summary)."""

from __future__ import annotations

import logging
import sys
import time
from contextlib import ExitStack, closing
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from tqdm import tqdm

from maskwatch.io.annotate import draw
from maskwatch.io.atomic import atomic_write_json
from maskwatch.io.background import prefetch
from maskwatch.io.sinks import AnnotatedSaver, JsonLinesWriter, Summary, Window, display_available
from maskwatch.io.sources import open_source
from maskwatch.vision.pipeline import MaskDetector

log = logging.getLogger(__name__)
SAMPLE_PREFIX = "sample:"


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
    detector: str = "centerface"
    track: bool = True  # reuse labels of faces that stay in view across video frames


def resolve_sample(spec: str | None) -> str | None:
    """`sample:astronaut` is the photo of that name shipped with scikit-image: an input every install has."""
    if spec is None or not spec.startswith(SAMPLE_PREFIX):
        return spec
    name = spec[len(SAMPLE_PREFIX):]
    path = Path(str(files("skimage") / "data" / f"{name}.png"))
    if not path.is_file():
        raise FileNotFoundError(f"no scikit-image sample photo named {name!r} (try sample:astronaut)")
    return str(path)


def run_detect(options: DetectOptions) -> int:
    """Run detection over the whole source; 0 if every input was read, 1 if some failed (and were skipped)."""
    source = open_source(resolve_sample(options.source))
    preset = options.preset or ("fast" if source.live else "accurate")
    show = options.show if options.show is not None else source.live and display_available()
    detector = MaskDetector(preset, options.model, options.face_threshold, options.scale, options.detector)
    log.info("preset %s; faces: %s", preset, options.detector)
    summary = Summary()
    with ExitStack() as stack:
        stack.enter_context(closing(source))
        window = stack.enter_context(Window()) if show else None
        saver = stack.enter_context(AnnotatedSaver(options.save)) if options.save else None
        jsonl = stack.enter_context(JsonLinesWriter(options.json)) if options.json else None
        progress = stack.enter_context(tqdm(total=source.total, unit="frame", disable=source.live or None,
                                            desc="Detecting"))
        frames = stack.enter_context(closing(prefetch(source)))
        labelled = stack.enter_context(closing(detector.frames(frames, track=options.track)))
        last, fps = time.perf_counter(), None
        for frame, faces in labelled:
            summary.add(frame, faces)
            now = time.perf_counter()
            fps = 1 / (now - last) if fps is None else 0.9 * fps + 0.1 / max(now - last, 1e-6)
            last = now
            if jsonl:
                jsonl.write(frame, faces)
            if saver or window:
                annotated = draw(frame.image, faces, fps if source.live else None)
                if saver:
                    saver.write(frame, annotated)
                if window and not window.show(annotated):
                    break
            progress.update()
    result = summary.as_dict()
    result["failures"] = source.failures
    print(summary.format(), file=sys.stderr)
    for failure in source.failures:
        print(f"failed: {failure}", file=sys.stderr)
    if options.summary:
        atomic_write_json(options.summary, result)
    return 1 if source.failures else 0
