"""`maskwatch.track(source)`: persons and events from a video, stream, camera or folder, in your own code.

    import maskwatch

    for frame in maskwatch.track("entrance.mp4"):
        for event in frame.events:              # person_appeared, mask_off, mask_on, person_left
            print(event.kind, event.person, event.state)
        detections = frame.to_detections()      # supervision.Detections, tracker_id = the person

Each item is a `Step` (`video.analysis`): the frame (`.frame.image`, RGB), its faces with their person and
state, the persons in view, the events at it, and `.to_json()`, the record `maskwatch detect --json` writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

from maskwatch.io.background import prefetch
from maskwatch.io.sources import SourceError, open_source
from maskwatch.video.analysis import AnalysisSettings, Step, analyze
from maskwatch.vision.detector import DEFAULT_DETECTOR
from maskwatch.vision.pipeline import MaskDetector


def track(source: str | int | Path | None = None, preset: str | None = None, model: str | Path | None = None,
          detector: str = DEFAULT_DETECTOR, detect_every: int | None = None, snapshots: bool = False,
          pipeline: MaskDetector | None = None) -> Iterator[Step]:
    """Frames of `source` (as `maskwatch detect` takes it: a file, folder, camera index, URL; None: camera
    0) with their faces, persons and events, one `Step` per frame, in order. `preset` defaults to `fast` for
    cameras and streams, `accurate` for files; `snapshots` keeps each person's clearest face on their
    events (`event.face_image`). When the source ends, the last frame carries the person_left of everyone
    still in view; stop early (break) and they are not closed. `pipeline`: a `MaskDetector` already loaded
    (several videos, one loading), instead of `preset`, `model` and `detector`. A source that cannot be read
    raises `SourceError`; so does one of a folder's files that cannot, after the steps of the others."""
    settings = AnalysisSettings(preset, None if model is None else Path(model), detector=detector,
                                detect_every=detect_every, snapshots=snapshots)
    frames = open_source(None if source is None else str(source))
    with closing(frames):
        analyzer = settings.analyzer(pipeline or settings.pipeline(frames.live), frames.live)
        with closing(prefetch(frames)) as ahead:
            yield from analyze(ahead, analyzer)
    if frames.failures:  # a corrupt file, a stream that never answered: said, not zero steps in silence
        raise SourceError("; ".join(frames.failures))
