"""Alert rules on tracked persons: after how long, and how often (per person, per camera)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from maskwatch.core.faces import Face
from maskwatch.core.frame import Frame
from maskwatch.video.alerts import AlertRule, Alerts
from maskwatch.video.persons import PersonTracker

FPS = 10.0
IMAGE = np.zeros((480, 640, 3), np.uint8)


def face(x: float, label: str) -> Face:
    probs = {label: 0.99, ("with_mask" if label == "without_mask" else "without_mask"): 0.01}
    return Face((x, 100.0, x + 100, 220.0), 0.9, label, 0.99, probs, label)


def alerts_of(script: list[list[Face]], rule: AlertRule) -> list[tuple[int, int, float]]:
    """(frame, person, duration_s) of every alert over frames at 10 fps that show the scripted faces."""
    tracker, alerts, out = PersonTracker(), Alerts([rule]), []
    for index, faces in enumerate(script):
        frame = Frame(IMAGE, "door", index, index / FPS, Path("door.mp4"), FPS, True)
        if index == 0:
            tracker.start(frame)
        tracker.observe(frame, tracker.detected(faces, frame))
        out += [(e.frame, e.person, round(e.duration_s, 2)) for e in alerts.check(frame, tracker)
                if e.kind == "alert" and e.state in rule.states and e.snapshot is None]
    return out


def test_an_alert_after_the_time_in_state_then_again_after_the_cooldown() -> None:
    script = [[face(100, "without_mask")]] * 80
    found = alerts_of(script, AlertRule(("without_mask",), after_s=2, cooldown_s=3))
    # the state is set within the first frames (a track confirms on its 2nd frame, then 3 judged frames)
    (first, person, held), (second, same, held_again) = found
    assert 20 <= first <= 26 and second == first + 30 and person == same == 1
    assert 2 <= held < 2.15 and held_again == pytest.approx(held + 3)


def test_no_alert_for_a_masked_person_or_one_who_leaves_in_time() -> None:
    assert alerts_of([[face(100, "with_mask")]] * 60, AlertRule(("without_mask",), after_s=1)) == []
    assert alerts_of([[face(100, "without_mask")]] * 12 + [[]] * 40, AlertRule(("without_mask",), after_s=1.5)) == []


def test_the_time_starts_again_when_the_state_changes() -> None:
    script = [[face(100, "without_mask")]] * 10 + [[face(100, "with_mask")]] * 10 + [[face(100, "without_mask")]] * 30
    found = alerts_of(script, AlertRule(("without_mask",), after_s=1.2, cooldown_s=100))
    assert len(found) == 1 and found[0][0] >= 20 + 12  # not 1.2 s after the first stretch began


@pytest.mark.parametrize(("camera_cooldown", "expected"), [(0, 2), (10, 1)])
def test_camera_cooldown_holds_back_other_persons(camera_cooldown: float, expected: int) -> None:
    two = [[face(50, "without_mask"), face(400, "without_mask")]] * 40
    found = alerts_of(two, AlertRule(("without_mask",), after_s=1, cooldown_s=100, camera_cooldown_s=camera_cooldown))
    assert len(found) == expected and len({person for _, person, _ in found}) == expected
