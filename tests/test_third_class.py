"""The third state, mask_weared_incorrect, through persons, events, verdicts, alerts, summaries and drawing,
without a three-class model: faces are given labels as such a model would."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from maskwatch.core.classes import INCORRECT, NON_COMPLIANT, WITH_MASK, WITHOUT_MASK, compliance, verdict
from maskwatch.core.faces import Face
from maskwatch.core.frame import Frame
from maskwatch.io.annotate import COLOURS, draw
from maskwatch.io.sinks import Summary
from maskwatch.monitor.config import load
from maskwatch.video.alerts import Alerts
from maskwatch.video.persons import PersonTracker

FPS = 10.0
IMAGE = np.zeros((480, 640, 3), np.uint8)


def face(label: str) -> Face:
    probs = {WITH_MASK: 0.01, WITHOUT_MASK: 0.01, INCORRECT: 0.01, label: 0.98}
    return Face((100.0, 100.0, 200.0, 220.0), 0.9, label, 0.98, probs, label)


def run(labels: list[str], alerts: Alerts | None = None) -> list:
    tracker, events = PersonTracker(), []
    for index, label in enumerate(labels):
        frame = Frame(IMAGE, "door", index, index / FPS, Path("door.mp4"), FPS, True)
        if index == 0:
            tracker.start(frame)
        events += tracker.observe(frame, tracker.detected([face(label)], frame))[1]
        if alerts:
            events += alerts.check(frame, tracker)
    return events + tracker.finish()


def test_a_change_to_a_mask_worn_wrong_is_a_mask_off_naming_both_states() -> None:
    events = run([WITH_MASK] * 10 + [INCORRECT] * 10 + [WITH_MASK] * 10)
    kinds = [(e.kind, e.previous_state, e.state) for e in events]
    assert kinds == [("person_appeared", None, WITH_MASK), ("mask_off", WITH_MASK, INCORRECT),
                     ("mask_on", INCORRECT, WITH_MASK), ("person_left", None, WITH_MASK)]


def test_without_after_incorrect_is_mask_off_too() -> None:
    events = run([INCORRECT] * 10 + [WITHOUT_MASK] * 10)
    assert [(e.kind, e.state) for e in events][:2] == [("person_appeared", INCORRECT), ("mask_off", WITHOUT_MASK)]


def test_verdict_is_the_worst_state_and_compliance_counts_both_non_compliant_states() -> None:
    assert verdict([WITH_MASK, INCORRECT]) == INCORRECT
    assert verdict([INCORRECT, WITHOUT_MASK, WITH_MASK]) == WITHOUT_MASK
    assert verdict([None, "unknown"]) == "unknown"
    assert compliance(Counter({WITH_MASK: 2, WITHOUT_MASK: 1, INCORRECT: 1, "unknown": 5})) == 0.5
    assert compliance(Counter({"unknown": 3})) is None


def test_alert_rules_can_name_either_or_both_non_compliant_states(tmp_path: Path) -> None:
    (tmp_path / "door.mp4").write_bytes(b"")
    config = tmp_path / "site.toml"
    config.write_text('store = "e.db"\n[[camera]]\nname = "door"\nsource = "door.mp4"\n'
                      '[[alert]]\nstate = "non_compliant"\nafter_s = 1\n'
                      '[[alert]]\nstate = "without_mask"\nafter_s = 1\n')
    (either, _), (only_without, _) = load(config).alerts
    assert either.states == NON_COMPLIANT and only_without.states == (WITHOUT_MASK,)
    worn_wrong = [INCORRECT] * 30
    assert [e.state for e in run(worn_wrong, Alerts([either])) if e.kind == "alert"] == [INCORRECT]
    assert [e for e in run(worn_wrong, Alerts([only_without])) if e.kind == "alert"] == []


def test_summary_and_drawing() -> None:
    summary = Summary()
    frame = Frame(IMAGE, "a.jpg", 0, 0.0, Path("a.jpg"), None, False)
    summary.add(frame, [face(WITH_MASK), face(INCORRECT), face(WITHOUT_MASK), face(WITH_MASK)])
    result = summary.as_dict()
    assert result["per_state"] == {INCORRECT: 1, WITH_MASK: 2, WITHOUT_MASK: 1}
    assert result["without_mask_share"] == 0.5  # not compliant: without, or worn wrong
    assert "of those judged without a mask or wearing it wrong" in summary.format()
    drawn = draw(IMAGE, [face(INCORRECT)])
    assert tuple(drawn[100, 150]) == COLOURS[INCORRECT]  # the box's top edge, in amber
