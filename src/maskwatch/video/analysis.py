"""Frames of videos and streams in, persons and events out: the per-image `MaskDetector` run along time.

Every `detect_every`-th frame goes through the face detector; on the frames between, each face's box is
carried along with the picture under it (`video/motion.py`) and classified there, so states stay as
current as on frames with detection. The tracker takes every frame's boxes, detected or carried. Where
the picture loses every carried face at once (a cut), the next frame is detected. Most detections look
only at the band of rows where faces were seen, at the scales their sizes need, every 4th at the whole
frame at every scale (`video/band.py`). With more than `classify_budget` faces, a frame classifies that many
(those classified longest ago; on a detection frame, every new face besides): a crowd of 35 small faces would
otherwise cost more to classify on every frame than detection does. 16 a frame keep a crowd's persons judged
on video detected every 8th frame (12 of per-frame detection's 15, where 8 a frame judged 5) at the same speed.
Still images pass through as single images: no person, no event.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from maskwatch.core.classes import NOT_A_FACE
from maskwatch.core.events import Event
from maskwatch.core.faces import Face, to_detections
from maskwatch.core.frame import Frame
from maskwatch.core.records import frame_record
from maskwatch.core.zones import Zone, zones_of
from maskwatch.video.alerts import Alerts
from maskwatch.video.band import WHOLE, FaceBand, Look
from maskwatch.video.motion import MotionGate
from maskwatch.video.persons import DEFAULT_SETTINGS, PersonTracker, TrackingSettings
from maskwatch.vision.detector import DEFAULT_DETECTOR
from maskwatch.vision.judge import DEFAULT_RULE
from maskwatch.vision.pipeline import MaskDetector
from maskwatch.vision.presets import detect_every_for, preset_for

LEARNING_SAMPLE_S = 0.5  # with learning, a face of each person this often (up to persons.MAX_SAMPLES an event)
IDLE_DETECT_S = 2.0  # with motion gating, a still picture is still looked at this often (a seated person)


@dataclass
class Step:
    """One frame's result: its faces, and the events that happened at it (including, on the last frame
    of a video, those of everyone still in view when it ended); `still`: nothing moved and no one was in
    view, so the frame was not looked at (motion gating)."""

    frame: Frame
    faces: list[Face]
    events: list[Event]
    still: bool = False

    @property
    def persons(self) -> dict[int, Face]:
        """The persons in view at this frame, by id, each with its face here (its box and state)."""
        return {face.person: face for face in self.faces if face.person is not None}

    def to_json(self) -> dict:
        """The record `maskwatch detect --json` writes for this frame."""
        return frame_record(self.frame, self.faces, self.events)

    def to_detections(self):
        """The faces as `supervision.Detections` (see `maskwatch.core.faces.to_detections`)."""
        return to_detections(self.faces)


@dataclass(frozen=True)
class AnalysisSettings:
    """How a run looks at its frames: the one settings type of `detect`, `track()`, the Ray archive, a
    camera of `watch` and `bench`."""

    preset: str | None = None  # None: fast for cameras and streams, accurate for files (`preset_for`)
    model: Path | None = None  # None: the preset's shipped classifier
    face_threshold: float | None = None  # None: the detector's own, else the preset's
    scale: float | None = None  # None: the preset's detector input scale
    detector: str = DEFAULT_DETECTOR
    detect_every: int | None = None  # None: the preset's, by frame size
    track: bool = True  # faces of video frames belong to tracked persons, with events
    snapshots: bool = True  # keep each person's clearest face for their events
    zones: tuple[Zone, ...] = ()  # events name them
    ignore_outside_zones: bool = False  # faces in no zone are not looked at
    motion_gate: bool = False  # frames where nothing moved and no one is followed are skipped
    min_face_px: float | None = None  # None: the unknown rule's own smallest judged face (px)
    learning: bool = False  # sample each person's faces for learning ([learning]; they go with their events)

    def pipeline(self, live: bool, threads: int | None = None) -> MaskDetector:
        """The per-image pipeline these settings load, for a live source or a file."""
        rule = DEFAULT_RULE if self.min_face_px is None else replace(DEFAULT_RULE, min_side=self.min_face_px)
        return MaskDetector(self.preset or preset_for(live), self.model, self.face_threshold, self.scale,
                            self.detector, threads=threads, rule=rule)

    def analyzer(self, pipeline: MaskDetector, live: bool, alerts: Alerts | None = None) -> VideoAnalyzer:
        """A `VideoAnalyzer` of `pipeline` with these settings."""
        return VideoAnalyzer(pipeline, self.detect_every, self.track, live, snapshots=self.snapshots, alerts=alerts,
                             zones=self.zones, ignore_outside_zones=self.ignore_outside_zones,
                             motion_gate=self.motion_gate, sample_every_s=LEARNING_SAMPLE_S if self.learning else None)


def analyze(frames: Iterable[Frame], analyzer: VideoAnalyzer) -> Iterator[Step]:
    """The steps of `frames` in order, each as soon as it is complete; when the frames end, the last step
    carries the person_left of everyone still in view. A consumer that stops early has closed no one: it
    calls `analyzer.finish()` itself where they must leave (`detect` does, on Ctrl-C)."""
    for frame in frames:
        yield from analyzer.push(frame)
    yield from analyzer.finish()


class VideoAnalyzer:
    """Feed frames in order with `push`, then call `finish`; each returns the steps completed so far.

    A step is held back until the next frame arrives, so that the events of a video's end land on its last
    frame. With `track=False` every frame is handled as a single image (no persons, no events).
    """

    def __init__(self, detector: MaskDetector, detect_every: int | None = 1, track: bool = True, live: bool = False,
                 settings: TrackingSettings = DEFAULT_SETTINGS, snapshots: bool = True, classify_budget: int = 16,
                 alerts: Alerts | None = None, zones: Sequence[Zone] = (), ignore_outside_zones: bool = False,
                 motion_gate: bool = False, sample_every_s: float | None = None):
        """`zones`: events name the zones the person's face is in; with `ignore_outside_zones`, a face in
        none of them is not looked at at all (not classified, not a person). `motion_gate`: on video, a frame
        where nothing moved and no face is being followed is not looked at (but one in IDLE_DETECT_S is)."""
        self.detector, self.detect_every, self.track, self.live = detector, detect_every, track, live
        self.classify_budget, self.alerts = classify_budget, alerts
        self.zones, self.ignore_outside_zones = tuple(zones), ignore_outside_zones and bool(zones)
        self.gate = MotionGate() if motion_gate else None
        self._detected_at = -math.inf  # frame time of the last detection
        self.persons = PersonTracker(settings, snapshots, detector.rule.min_side, sample_every_s)
        self._held: Step | None = None
        self._every = detect_every or 1  # of the video being analysed (None: by its frame size, per video)
        self._since = 0  # frames since the last detection
        self._take = 0  # the pass over the source being analysed (`Frame.take`)
        self.band = FaceBand()  # the rows detections look at, of the video being analysed

    def push(self, frame: Frame) -> list[Step]:
        done = []
        if self._held is not None and self._held.frame.source != frame.source:
            done += self.finish()
        elif self._held is not None:
            done.append(self._held)
        self._held = self._step(frame)
        return done

    def finish(self) -> list[Step]:
        """The held step, with the events of everyone still in view (the video or stream ended)."""
        held, self._held = self._held, None
        if held is None:
            return []
        held.events += self._zoned(self.persons.finish(), held.frame)
        return [held]

    def _step(self, frame: Frame) -> Step:
        if not (self.track and frame.is_video):
            return Step(frame, self.detector.classify(frame.image, self._detect(frame)), [])
        events = []
        new_video = frame.source != self.persons.source
        if new_video or frame.take != self._take:  # a new video, or a looped one from its start again
            if new_video:
                self._every = self.detect_every or detect_every_for(self.detector.settings, *frame.image.shape[:2])
            events += self.persons.start(frame, self._every, self.live, keep_ids=not new_video)
            self._take = frame.take
            self._since, self._detected_at = self._every, -math.inf
            self.gate = MotionGate() if self.gate else None
            self.band = FaceBand()
        moved = self.gate is None or self.gate.moved(frame.image)
        if not moved and not self.persons.tracking and frame.time - self._detected_at < IDLE_DETECT_S:
            self._since = self._every  # the next frame that moves is looked at with a detection
            return Step(frame, [], events, still=True)
        # detect on every Nth frame, on the next one wherever the picture lost every carried face (a cut), and
        # (gated) at least every IDLE_DETECT_S: someone who came in while the picture was taken as still
        idle = self.gate is not None and frame.time - self._detected_at >= IDLE_DETECT_S
        if self._since >= self._every or self.persons.lost_sight or idle:
            self._since = 0
            self._detected_at = frame.time
            # where faces were, at their sizes, unless detecting every frame or after a cut or a still spell
            look = self.band.look(frame.image.shape[0], [p.box for p in self.persons.in_view()],
                                  whole=self._every == 1 or self.persons.lost_sight or idle)
            detected = self._detect(frame, look)
            self.band.saw(look, [face.box for face in detected])
            faces = self.persons.remembered(self.persons.detected(detected, frame))
            due = self.persons.due(self.classify_budget, every_new=True)
            ghosts = set()
        else:
            faces = self.persons.carried(frame)
            due = self.persons.due(self.classify_budget)
            # after a cut (the picture lost every carried face), a box it says holds no face is a ghost
            ghosts = set(due) if self.persons.lost_sight else set()
        # classify all faces while that is cheap, else the new ones and those classified longest ago
        for index, face in zip(due, self.detector.classify(frame.image, [faces[i] for i in due]), strict=True):
            faces[index] = face
        fresh = set(due)
        self._since += 1
        faces, happened = self.persons.observe(frame, faces, fresh)
        if self.alerts is not None:
            happened += self.alerts.check(frame, self.persons)
        return Step(frame, faces_only(faces, ghosts), self._zoned(events + happened, frame))

    def _detect(self, frame: Frame, look: Look = WHOLE) -> list[Face]:
        """The detector's faces (where and at the sizes `look` says), less those in no zone where faces outside
        them are ignored."""
        faces = self.detector.detector.detect(frame.image, look.rows, look.sizes)
        if not self.ignore_outside_zones:
            return faces
        height, width = frame.image.shape[:2]
        return [face for face in faces if zones_of(face.box, self.zones, width, height)]

    def _zoned(self, events: list[Event], frame: Frame) -> list[Event]:
        """The events, each naming the zones its box is in (where the camera has zones)."""
        if self.zones:
            height, width = frame.image.shape[:2]
            for event in events:
                event.zones = zones_of(event.box, self.zones, width, height)
        return events


def faces_only(faces: Sequence[Face], ghosts: Collection[int] = ()) -> list[Face]:
    """The faces, less those the classifier says are not faces and that are no person's (in video, boxes on a
    tree or a table edge would be drawn on every frame), and less those of the boxes carried onto a cut (their
    indexes in `ghosts`) that it says hold no face. A person's face that looks like none for a frame is still
    theirs."""
    return [face for index, face in enumerate(faces)
            if face.label != NOT_A_FACE or (face.person is not None and index not in ghosts)]
