"""The video loop of `detect` and `bench` (frames -> persons), and the classifier each preset picks."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from maskwatch.core.faces import Face
from maskwatch.core.frame import Frame
from maskwatch.io.sources import PacedFile
from maskwatch.video.analysis import VideoAnalyzer
from maskwatch.vision.judge import UnknownRule
from maskwatch.vision.pipeline import MaskDetector

from .conftest import masked
from .services import door_clip


def _clip(source: str, count: int, is_video: bool = True, mask_from: int | None = None) -> list[Frame]:
    """The astronaut drifting right; her face masked from frame `mask_from` on."""
    photo = data.astronaut()
    frames = []
    for i in range(count):
        image = np.roll(photo, 4 * i, axis=1)
        if mask_from is not None and i >= mask_from:
            image[60:175, 180 + 4 * i:270 + 4 * i] = masked(image[60:175, 180 + 4 * i:270 + 4 * i])
        frames.append(Frame(image, source, i, i / 25, Path(source), 25.0 if is_video else None, is_video))
    return frames


def _run(analyzer: VideoAnalyzer, frames: list[Frame]):
    steps = [step for frame in frames for step in analyzer.push(frame)]
    return steps + analyzer.finish()


def test_every_frame_comes_out_once_in_order_with_each_videos_events_on_its_last_frame() -> None:
    frames = _clip("a.mp4", 8) + _clip("b.mp4", 6, mask_from=0) + _clip("still.jpg", 1, is_video=False)
    steps = _run(VideoAnalyzer(MaskDetector("fast")), frames)
    assert [(s.frame.source, s.frame.index) for s in steps] == [(f.source, f.index) for f in frames]
    kinds = {source: [e.kind for s in steps if s.frame.source == source for e in s.events]
             for source in ("a.mp4", "b.mp4", "still.jpg")}
    assert kinds == {"a.mp4": ["person_appeared", "person_left"], "b.mp4": ["person_appeared", "person_left"],
                     "still.jpg": []}
    last_a = [s for s in steps if s.frame.source == "a.mp4"][-1]
    assert [e.kind for e in last_a.events] == ["person_left"]
    appeared = {s.frame.source: e for s in steps for e in s.events if e.kind == "person_appeared"}
    assert appeared["a.mp4"].state == "without_mask" and appeared["b.mp4"].state == "with_mask"
    assert appeared["a.mp4"].person == appeared["b.mp4"].person == 1  # ids start anew with each video
    [still] = steps[-1].faces
    assert still.person is None and still.state == still.label


def test_mask_put_on_is_one_event_a_few_frames_after_the_frames_say_so() -> None:
    steps = _run(VideoAnalyzer(MaskDetector("fast")), _clip("on.mp4", 16, mask_from=8))
    changes = [e for s in steps for e in s.events if e.kind in ("mask_on", "mask_off")]
    assert [(e.kind, e.previous_state, e.state) for e in changes] == [("mask_on", "without_mask", "with_mask")]
    first_masked = next(s.frame.index for s in steps if s.faces and s.faces[0].label == "with_mask")
    assert first_masked <= changes[0].frame <= first_masked + 4
    assert changes[0].confidence == steps[changes[0].frame].faces[0].probs["with_mask"]  # this frame's evidence
    [left] = [e for s in steps for e in s.events if e.kind == "person_left"]
    assert left.frames_seen >= 14 and 0.2 < left.masked_share < 0.6


def test_detection_every_third_frame_carries_the_person_between() -> None:
    detector = MaskDetector("fast")
    calls = []
    detect = detector.detector.detect
    detector.detector.detect = lambda image, rows=None, sizes=None: calls.append(1) or detect(image, rows, sizes)
    steps = _run(VideoAnalyzer(detector, detect_every=3), _clip("a.mp4", 12))
    assert len(calls) == 4
    assert all(len(s.faces) == 1 for s in steps)
    # every 3rd frame is a sparse schedule: a track is confirmed on the carried frame after its first detection
    assert steps[0].faces[0].person is None
    assert {s.faces[0].person for s in steps[1:]} == {1}
    moved = [s.faces[0].box[0] for s in steps[6:]]
    assert all(b > a for a, b in itertools.pairwise(moved))  # carried boxes follow her drift


def test_the_unknown_rule_needs_size_and_confidence() -> None:
    rule = UnknownRule(min_side=24, min_confidence=0.8, min_confidence_masked=0.9)
    face = Face((0, 0, 30, 30), 0.9, "without_mask", 0.85, {"with_mask": 0.15, "without_mask": 0.85})
    assert rule.state(face) == "without_mask"
    assert rule.state(Face((0, 0, 20, 20), 0.9, "without_mask", 0.99)) == "unknown"
    assert rule.state(Face((0, 0, 30, 30), 0.9, "with_mask", 0.85)) == "unknown"  # masked needs more
    assert rule.state(Face((0, 0, 30, 30), 0.9, "with_mask", 0.95)) == "with_mask"
    assert rule.state(Face((0, 0, 30, 30), 0.9)) == "unknown"
    assert rule.state(Face((0, 0, 30, 30), 0.9, "without_mask", 0.99, frontal=0.05)) == "unknown"  # turned away
    assert rule.state(Face((0, 0, 30, 30), 0.9, "without_mask", 0.99, frontal=0.45)) == "without_mask"
    # a face the detector is unsure of needs the masked confidence for a bare verdict too
    assert rule.state(Face((0, 0, 30, 30), 0.45, "without_mask", 0.85)) == "unknown"
    assert rule.state(Face((0, 0, 30, 30), 0.45, "without_mask", 0.95)) == "without_mask"


def test_each_preset_uses_its_shipped_classifier_unless_told_otherwise() -> None:
    assert MaskDetector("fast").classifier.path.name == "mask_classifier_fast.tflite"
    assert MaskDetector("fast").classifier.image_size == 88
    accurate = MaskDetector("accurate")
    assert accurate.classifier.path.name == "mask_classifier.tflite" and accurate.classifier.image_size == 128
    assert MaskDetector("fast", model=accurate.classifier.path).classifier.image_size == 128


def test_between_detections_a_crowd_is_classified_a_budget_at_a_time() -> None:
    """Six faces, detection every 4th frame, a budget of 2 classifications a frame: a face is classified
    when it is new (not yet a person's, or a person never classified), else 2 a frame, those classified
    longest ago, detection frames included; a face not classified keeps its person's last label. (Every 4th
    frame is sparse: the six are persons from the frame after the first detection, so none is new at 4.)"""
    head = cv2.resize(data.astronaut()[20:200, 120:260], (70, 90))
    frames = []
    for i in range(12):
        image = np.full((300, 480, 3), 90, np.uint8)
        for k in range(6):
            x, y = 20 + (k % 3) * 150 + i, 20 + (k // 3) * 140
            image[y:y + 90, x:x + 70] = head
        frames.append(Frame(image, "crowd.mp4", i, i / 25, Path("crowd.mp4"), 25.0, True))
    detector = MaskDetector("fast")
    sizes = []
    classify = detector.classify
    detector.classify = lambda image, faces: sizes.append(len(faces)) or classify(image, faces)
    steps = _run(VideoAnalyzer(detector, detect_every=4, classify_budget=2), frames)
    assert sizes == [6] + [2] * 11  # new at 0, known from then on
    assert all(len(s.faces) == 6 and all(f.label == "without_mask" for f in s.faces) for s in steps)
    assert {f.person for s in steps[1:] for f in s.faces} == set(range(1, 7))


def _counting_detections(detector: MaskDetector) -> list[tuple[int, ...]]:
    """The frame shapes the detector is called on, in order."""
    calls: list[tuple[int, ...]] = []
    detect = detector.detector.detect
    detector.detector.detect = (lambda image, rows=None, sizes=None:
                                calls.append(image.shape) or detect(image, rows, sizes))
    return calls


def test_by_default_accurate_detects_on_every_8th_frame_from_1280x720_on() -> None:
    detector = MaskDetector("accurate")
    calls = _counting_detections(detector)
    small = _clip("small.mp4", 16)
    large = [Frame(cv2.resize(f.image, (1280, 720)), "large.mp4", f.index, f.time, Path("large.mp4"), f.fps, True)
             for f in small]
    _run(VideoAnalyzer(detector, detect_every=None), small + large)
    assert [shape[1] for shape in calls] == [512] * 8 + [1280] * 2  # 16 frames each: every 2nd, every 8th
    calls.clear()
    _run(VideoAnalyzer(detector, detect_every=4), large)
    assert len(calls) == 4  # an explicit N wins
    fast = MaskDetector("fast")  # its detector input is 480 px whatever the frame: cheap at any size
    fast_calls = _counting_detections(fast)
    _run(VideoAnalyzer(fast, detect_every=None), large)
    assert len(fast_calls) == 8


def test_the_frame_after_a_cut_is_detected_at_once() -> None:
    """A cut to an empty corridor: the picture says nothing about where the face went, so the next frame
    is detected instead of carrying a ghost box until the next scheduled detection."""
    detector = MaskDetector("accurate")
    calls = _counting_detections(detector)
    frames = _clip("cut.mp4", 6) + [Frame(np.full((512, 512, 3), 90, np.uint8), "cut.mp4", i, i / 25,
                                          Path("cut.mp4"), 25.0, True) for i in range(6, 16)]
    steps = _run(VideoAnalyzer(detector, detect_every=8), frames)
    assert len(calls) == 3  # frames 0, 7 (after the cut at 6) and 15
    # the box carried onto the cut itself is classified there as not a face, and left out: no ghost at all
    assert [len(s.faces) for s in steps] == [1] * 6 + [0] * 10


def test_a_looped_file_begins_again_as_a_cut() -> None:
    """The frames of a looped file's second take (`Frame.take`): whoever was in view leaves where it wraps,
    and the person seen again is a new one, numbered on within the run (not person 1 twice)."""
    first = _clip("door", 8)
    again = [replace(frame, index=frame.index + 8, time=frame.time + 8 / 25, take=1) for frame in _clip("door", 8)]
    steps = _run(VideoAnalyzer(MaskDetector("fast")), first + again)
    events = [(step.frame.take, event.kind, event.person) for step in steps for event in step.events]
    assert events == [(0, "person_appeared", 1), (1, "person_left", 1), (1, "person_appeared", 2),
                      (1, "person_left", 2)], events
    assert steps[8].events[0].kind == "person_left"  # on the first frame of the new take


def test_a_paced_file_counts_its_loops_as_takes(tmp_path: Path) -> None:
    clip = door_clip(tmp_path / "door.mp4", fps=25.0, seconds_in=0.2, seconds_out=0.0)  # 5 frames
    source = PacedFile(clip, loop=True)
    frames = []
    for frame in source:
        frames.append((frame.index, frame.take))
        if len(frames) == 12:
            source.close()
    assert frames == [(i, i // 5) for i in range(12)]


def test_a_mask_off_shows_the_face_without_its_mask() -> None:
    """The snapshot of a state's event is the clearest face of the frames that made that state: a mask_off's is
    bare, even when the masked face before it was clearer (here: sharper, where the bare one is blurred)."""
    masked_first = _clip("off.mp4", 10, mask_from=0)
    bare = [replace(frame, image=cv2.GaussianBlur(frame.image, (9, 9), 3)) for frame in _clip("off.mp4", 22)[10:]]
    detector = MaskDetector("fast")
    steps = _run(VideoAnalyzer(detector), masked_first + bare)
    events = {e.kind: e for s in steps for e in s.events}
    assert events["person_appeared"].state == "with_mask" and events["mask_off"].state == "without_mask"
    classifier = detector.classifier

    def label(crop: np.ndarray) -> str:
        size = classifier.image_size
        probs = classifier.predict(cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)[None])[0]
        return classifier.labels[int(np.argmax(probs))]

    assert label(events["person_appeared"].face_image) == "with_mask"
    assert label(events["mask_off"].face_image) == "without_mask"
