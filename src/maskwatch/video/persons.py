"""Faces of consecutive frames become persons, each with one mask state, and what happens to them, events.

Tracking is ByteTrack from the `trackers` package: a face keeps its person id through short misses and
occlusions. A person's `state` starts "unknown" and becomes a judged state (with_mask, without_mask, or
with a three-class model mask_weared_incorrect) only after
`switch_frames` frames in a row judged so, and leaves a judged state only on as many frames sure of the
other label (`Person.observe`; a weak detection counts half), so a state does not flicker on one odd
frame, and lags the frames' own verdicts by a few frames at most. The confidence shown is this frame's
evidence for the person's state, never an average with the past.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np
import supervision as sv
from trackers import BIoU, ByteTrackTracker

from maskwatch.core.classes import JUDGED, UNKNOWN, WITH_MASK
from maskwatch.core.events import Event
from maskwatch.core.faces import Face
from maskwatch.core.frame import Frame
from maskwatch.video.motion import MotionFollower
from maskwatch.vision.crops import face_crop
from maskwatch.vision.judge import DEFAULT_RULE

SNAPSHOT_MARGIN = 0.3
SNAPSHOT_MAX = 256
MAX_SAMPLES = 20  # faces kept for learning between two events of a person


@dataclass(frozen=True)
class TrackingSettings:
    switch_frames: int = 3  # consecutive judged frames before a person's state changes
    change_confidence: float = 0.9  # p of the new label on those frames, to leave a judged state
    lost_seconds: float = 1.0  # a person not seen for this long has left
    new_track_score: float = 0.45  # face score that can start a person (weaker faces only continue one)
    # On video detected less often than every 2nd frame (720p and larger files), a face has far fewer chances to be
    # found, so a person starts from a weaker face and from one detection and the frame after it (its box carried
    # along the picture) rather than two detections in a row: on three 720p crowd clips tiled in one picture, detected
    # every 8th frame, the strict start made 35 persons where detection on every frame made 61, this one 74 of 87
    # (`maskwatch bench`'s crowd: 32 at N=8, 29 at N=1). Denser schedules keep the strict start: on the 720x480
    # hallway_1 it kept a dim masked face from being called bare.
    sparse_track_score: float = 0.3
    sparse_from: int = 3  # detect_every from which a schedule is sparse
    # Boxes are matched with each side grown by this share of the box: a small face walking fast, or seen
    # only every few frames, moves further than its own width between detections.
    buffer_ratio: float = 0.5
    # A weak detection (face score under weak_score, as in the unknown rule) counts as this much of a frame
    # of evidence: dim faces seen from above by hallway cameras are called bare at p > 0.9 a few frames in a row.
    weak_score: float = DEFAULT_RULE.weak_score
    weak_evidence: float = 0.5


DEFAULT_SETTINGS = TrackingSettings()


@dataclass
class Person:
    id: int | None  # given once the person is seen big enough to judge: tiny tracks are mostly not faces
    box: tuple[float, float, float, float]  # where it was last seen
    detected_box: tuple[float, float, float, float]  # where the detector last found it
    detected_at: int  # and in which frame
    last_frame: int
    last_time: float
    score: float
    state: str = UNKNOWN
    state_since: float = 0.0  # frame time at which `state` began (alerts need how long it has lasted)
    announced: bool = False  # person_appeared was emitted
    frames_seen: int = 0
    frames_with: int = 0
    frames_judged: int = 0
    candidate: str | None = None  # the state the latest run of judged frames points at
    streak: float = 0.0
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4))  # box change per frame
    best_quality: float = -1.0
    best_face: np.ndarray | None = None  # the clearest face so far, whatever its label (person_left's snapshot)
    run_quality: float = -1.0
    run_face: np.ndarray | None = None  # the clearest face of the run of frames behind `candidate`
    state_face: np.ndarray | None = None  # that of the run that made `state`: what its events show
    last: Face | None = None  # the latest classification, and in which frame
    classified_at: int = -1
    samples: list[np.ndarray] = field(default_factory=list)  # faces sampled since the last event (learning)
    sampled_at: float = -math.inf

    def observe(self, face: Face, settings: TrackingSettings, fresh: bool = True, sized: bool = True) -> str | None:
        """Take this frame's face into account; the previous state if the state changed, else None.

        Evidence comes only from faces classified on this frame (`fresh`) and big enough to judge (`sized`).
        A first state needs `switch_frames` frames in a row judged so by the unknown rule; a change away
        from a judged state needs as many in a row with the new label at p >= `change_confidence`, so an
        unsure stretch of a masked face does not turn into a mask_off. A frame whose label disagrees breaks
        the run; a weak frame of the same label neither counts nor breaks it."""
        self.frames_seen += 1
        previous = self.state
        if fresh and sized and face.label in JUDGED:
            if face.label != self.candidate:
                self.candidate, self.streak = face.label, 0
            strong = (face.state == face.label if self.state == UNKNOWN
                      else (face.confidence or 0.0) >= settings.change_confidence)
            self.streak += strong * (1.0 if face.score >= settings.weak_score else settings.weak_evidence)
            if self.candidate != self.state and self.streak >= settings.switch_frames:
                self.state = self.candidate
        if self.state in JUDGED:
            self.frames_judged += 1
            self.frames_with += self.state == WITH_MASK
        return previous if self.state != previous else None

    def masked_share(self) -> float | None:
        return self.frames_with / self.frames_judged if self.frames_judged else None


def _quality(face: Face) -> float:
    """How clear a face is for a snapshot: bigger, surer faces first, and judged ones before unsure ones."""
    return face.score * min(face.side, 200.0) * (2.0 if face.state in JUDGED else 1.0)


def _now(frame: Frame, live: bool) -> str:
    seconds = frame.time if live else time.time()
    return datetime.fromtimestamp(seconds, UTC).astimezone().isoformat(timespec="milliseconds")


class PersonTracker:
    """Persons of one video or stream at a time; `start()` with the first frame of the next one starts anew."""

    def __init__(self, settings: TrackingSettings = DEFAULT_SETTINGS, snapshots: bool = True,
                 min_side: float = DEFAULT_RULE.min_side, sample_every_s: float | None = None):
        """`sample_every_s`: keep a face of each person this often (judgeable ones, MAX_SAMPLES between two
        of their events), which goes with their next event to be kept for learning."""
        self.settings, self.snapshots, self.min_side = settings, snapshots, min_side
        self.sample_every_s = sample_every_s
        self._source: str | None = None
        self._tracker: ByteTrackTracker | None = None
        self._persons: dict[int, Person] = {}  # by ByteTrack id, while in view
        self._next_id = 1
        self._previous: list[Face] = []  # the faces of the previous frame, which `carried` moves on
        self._current: list[Person | None] = []  # the person of each face being handled
        self._live = False
        self._last_frame: Frame | None = None
        self._motion = MotionFollower(enabled=False)
        self.lost_sight = False  # the picture said nothing about where any carried face went (a cut)

    def start(self, frame: Frame, detect_every: int = 1, live: bool = False, keep_ids: bool = False) -> list[Event]:
        """Begin a new video or stream with this frame (`live`: a camera or stream, whose frame times are
        the wall clock); person_left events for whoever was still in view. `keep_ids`: the same source begins
        again (a looped file's next take), and its new persons go on from the last id."""
        next_id = self._next_id
        events = self.finish()
        fps = frame.fps or 25.0
        sparse = detect_every >= self.settings.sparse_from
        start_score = self.settings.sparse_track_score if sparse else self.settings.new_track_score
        self._tracker = ByteTrackTracker(
            lost_track_buffer=max(1, round(30 * self.settings.lost_seconds)), frame_rate=fps,
            track_activation_threshold=start_score, minimum_consecutive_frames=2 if sparse else detect_every + 1,
            high_conf_det_threshold=start_score, iou=BIoU(self.settings.buffer_ratio))
        self._source, self._live, self._last_frame = frame.source, live, frame
        self._lost_frames = max(1, round(self.settings.lost_seconds * fps))
        self._next_id, self._previous, self.lost_sight = next_id if keep_ids else 1, [], False
        self._motion = MotionFollower(enabled=detect_every > 1)
        return events

    @property
    def source(self) -> str | None:
        return self._source

    def carried(self, frame: Frame) -> list[Face]:
        """Where the faces of the previous frame are now (between detections), each with its person id:
        every box moved and scaled along with the picture under it, or where the picture does not say, at
        its person's recent speed (a face not yet a person stays put). The tracker takes these boxes as it
        takes detections, so a face that walks further than its own width between two detections is still
        matched."""
        self._motion.see(frame.image)
        followed = self._motion.follow([face.box for face in self._previous])
        self.lost_sight = bool(followed) and all(moved is None for moved in followed)
        faces = []
        for face, person, moved in zip(self._previous, self._current, followed, strict=True):
            if person is None:
                faces.append(face if moved is None else replace(face, box=tuple(moved)))
                continue
            box = tuple(np.asarray(person.box) + person.velocity if moved is None else moved)
            # a person not classified yet keeps what its face was last classified as (before it was a person's)
            faces.append(replace(person.last or face, box=box, score=person.score))
        self._track(faces, frame, detected=False)
        return [face if p is None else replace(face, person=p.id) for face, p in zip(faces, self._current,
                                                                                    strict=True)]

    def due(self, budget: int, every_new: bool = False) -> list[int]:
        """Which of the faces being handled to classify now: all of them when there are at most `budget`,
        else the `budget` classified longest ago, new faces (not yet a person's, or never classified)
        first. With `every_new`, every new face and `budget` of the others."""
        new = [i for i, p in enumerate(self._current) if p is None or p.last is None]
        known = sorted((i for i, p in enumerate(self._current) if p is not None and p.last is not None),
                       key=lambda i: self._current[i].classified_at)
        return sorted([*new, *known][:budget] if not every_new else [*new, *known[:budget]])

    def remembered(self, faces: list[Face]) -> list[Face]:
        """The faces, each with its person's latest classification where it has one (not new evidence)."""
        return [face if p is None or p.last is None else
                replace(face, label=p.last.label, confidence=p.last.confidence, probs=p.last.probs, state=p.last.state)
                for face, p in zip(faces, self._current, strict=True)]

    def detected(self, faces: list[Face], frame: Frame) -> list[Face]:
        """Faces found by the detector in this frame, with the person id each belongs to (None for a face
        not yet confirmed as a track)."""
        self._motion.see(frame.image)
        self.lost_sight = False
        self._track(faces, frame, detected=True)
        return faces

    def _track(self, faces: list[Face], frame: Frame, detected: bool) -> None:
        """Match the faces to the tracks; `_current` becomes each face's person (None: not confirmed)."""
        if not faces:
            detections = sv.Detections.empty()
        else:
            detections = sv.Detections(xyxy=np.array([f.box for f in faces], np.float32),
                                       confidence=np.array([f.score for f in faces], np.float32),
                                       data={"face": np.arange(len(faces))})
        tracked = self._tracker.update(detections)
        self._current = [None] * len(faces)
        for index, track in zip(tracked.data.get("face", []), tracked.tracker_id, strict=True):
            if track >= 0:
                self._current[int(index)] = self._person(int(track), faces[int(index)], frame, detected)

    def _person(self, track: int, face: Face, frame: Frame, detected: bool) -> Person:
        person = self._persons.get(track)
        if person is None:
            person = Person(None, face.box, face.box, frame.index, frame.index, frame.time, face.score,
                            state_since=frame.time)
            self._persons[track] = person
        elif detected:
            moved = (np.asarray(face.box) - np.asarray(person.detected_box)) / max(frame.index - person.detected_at, 1)
            person.velocity = moved if not person.velocity.any() else 0.5 * person.velocity + 0.5 * moved
            person.detected_box, person.detected_at = face.box, frame.index
        return person

    def observe(self, frame: Frame, faces: list[Face], fresh: set[int] | None = None
                ) -> tuple[list[Face], list[Event]]:
        """Update each person with its judged face of this frame (`faces` as `detected` or `carried` gave
        them, classified): the faces with their person's id and state, and the events that this frame
        brought (people who left first). Faces not in `fresh` (all are, by default) were not classified on
        this frame: they show their person's latest classification and are no new evidence."""
        self._last_frame = frame
        events = self._left(frame)
        out = []
        for index, (face, person) in enumerate(zip(faces, self._current, strict=True)):
            if person is None:  # not (yet) a person: nothing is said of it, whatever this frame's label
                out.append(replace(face, state=UNKNOWN))
                continue
            is_fresh = fresh is None or index in fresh
            if is_fresh:
                person.last, person.classified_at = face, frame.index
            person.box, person.score = face.box, face.score
            person.last_frame, person.last_time = frame.index, frame.time
            if person.id is None and face.side >= self.min_side:
                person.id, self._next_id = self._next_id, self._next_id + 1
            if is_fresh:
                self._keep_clearest(person, face, frame.image)
                self._sample(person, face, frame)
            # a state needs min_side, so an id too
            candidate, sized = person.candidate, face.side >= self.min_side
            previous = person.observe(face, self.settings, is_fresh, sized)
            if person.candidate != candidate:  # a new run of evidence begins: its faces are what it shows
                person.run_quality, person.run_face = -1.0, None
            if is_fresh and sized and face.label == person.candidate:
                self._keep_run_face(person, face, frame.image)
            if previous is not None:
                person.state_since, person.state_face = frame.time, person.run_face
            if previous is not None and not person.announced:
                person.announced = True
                events.append(self.event("person_appeared", person, frame, face))
            elif previous is not None:
                kind = "mask_on" if person.state == WITH_MASK else "mask_off"  # off: to any non-compliant state
                events.append(self.event(kind, person, frame, face, previous_state=previous))
            out.append(replace(face, person=person.id, state=person.state))
        self._previous = out
        return out, events

    def _keep_clearest(self, person: Person, face: Face, image: np.ndarray) -> None:
        quality = _quality(face)
        if self.snapshots and quality > person.best_quality:
            person.best_quality, person.best_face = quality, self._snapshot(face, image)

    def _sample(self, person: Person, face: Face, frame: Frame) -> None:
        if (self.sample_every_s is not None and face.side >= self.min_side and len(person.samples) < MAX_SAMPLES
                and frame.time - person.sampled_at >= self.sample_every_s):
            person.sampled_at = frame.time
            person.samples.append(self._snapshot(face, frame.image))

    @staticmethod
    def _snapshot(face: Face, image: np.ndarray) -> np.ndarray:
        size = int(min(SNAPSHOT_MAX, max(32, face.side * (1 + 2 * SNAPSHOT_MARGIN))))
        return face_crop(image, face.box, size, SNAPSHOT_MARGIN)

    def _keep_run_face(self, person: Person, face: Face, image: np.ndarray) -> None:
        quality = _quality(face)
        if self.snapshots and quality > person.run_quality:
            person.run_quality, person.run_face = quality, self._snapshot(face, image)

    def _left(self, frame: Frame) -> list[Event]:
        """person_left for everyone unseen for longer than `lost_seconds`."""
        gone = [track for track, p in self._persons.items() if frame.index - p.last_frame > self._lost_frames]
        return [event for track in gone for event in self._leaving(self._persons.pop(track), frame)]

    def _leaving(self, person: Person, frame: Frame) -> list[Event]:
        """The events of a person leaving, dated at the last frame they were seen."""
        if person.id is None:  # only ever a few pixels: no one can tell what it was (often not a face)
            return []
        last = replace(frame, index=person.last_frame, time=person.last_time)
        events = []
        if not person.announced:  # never judged: it still appeared, as unknown
            events.append(self.event("person_appeared", person, last, None))
        events.append(self.event("person_left", person, last, None, frames_seen=person.frames_seen,
                                  masked_share=person.masked_share()))
        return events

    def finish(self) -> list[Event]:
        """person_left for everyone still in view: the video or stream ended."""
        if self._source is None:
            return []
        events = []
        for person in self._persons.values():
            events.extend(self._leaving(person, self._last_frame))
        self._persons.clear()
        self._source = None
        return events

    @property
    def tracking(self) -> bool:
        """Whether any face is being followed: a person's (until they have left), or one on the last frame
        that may become a person (a first detection is not yet a track)."""
        return bool(self._persons) or bool(self._previous)

    def in_view(self) -> list[Person]:
        """The persons with an id who are being tracked now."""
        return [p for p in self._persons.values() if p.id is not None]

    def event(self, kind: str, person: Person, frame: Frame, face: Face | None, **extra) -> Event:
        """An event of `person` at `frame`, with this frame's confidence in their state and a face: for an
        event about their state (appeared, mask off or on, alert), the clearest face of the frames that made
        it, so a mask_off shows the face without its mask; for person_left, their clearest face of all."""
        confidence = None if face is None else face.probs.get(person.state)
        shown = person.state_face if kind != "person_left" and person.state_face is not None else person.best_face
        samples, person.samples = tuple(person.samples), []
        return Event(kind, person.id, frame.source, frame.index, frame.time, _now(frame, self._live), person.state,
                     person.box, confidence, face_image=shown, face_samples=samples, **extra)
