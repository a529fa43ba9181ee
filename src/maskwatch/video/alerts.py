"""Alert rules: "a person stayed without a mask for 3 s" raises an `alert` event, at most once per cooldown.

A rule names the states it is about, how long a person must have been in one of them, a cooldown per
person (a person still in that state is alerted again after it) and an optional cooldown per camera (a
crowd at the door raises one alert, not twenty). Time is the frames' time: the wall clock for cameras and
streams, seconds into the video for files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from maskwatch.core.events import Event
from maskwatch.core.frame import Frame
from maskwatch.core.zones import Zone, zones_of
from maskwatch.video.persons import PersonTracker


@dataclass(frozen=True)
class AlertRule:
    states: tuple[str, ...]  # alert while a person's state is one of these
    after_s: float = 3.0
    cooldown_s: float = 60.0  # per person
    camera_cooldown_s: float = 0.0  # per camera (source): 0 lets every person raise their own
    zones: tuple[str, ...] | None = None  # only while the person's face is in one of these zones

    def describe(self) -> str:
        where = f" in {' or '.join(self.zones)}" if self.zones else ""
        return f"{' or '.join(self.states)} for {self.after_s:g} s{where}"


class Alerts:
    """The alert events of each frame, for the persons that `PersonTracker` holds."""

    def __init__(self, rules: list[AlertRule], zones: Sequence[Zone] = ()) -> None:
        self.rules, self.zones = rules, tuple(zones)
        self._source: str | None = None
        self._person_last: dict[tuple[int, int], float] = {}  # (rule, person) -> time of the last alert
        self._camera_last: dict[int, float] = {}  # rule -> time of the last alert on this source
        self.alerting = 0  # persons of the last frame who meet a rule (state, zones, after_s), cooldowns aside

    def check(self, frame: Frame, persons: PersonTracker) -> list[Event]:
        if frame.source != self._source:  # person ids start again with each source
            self._source, self._person_last, self._camera_last = frame.source, {}, {}
        events, now, meeting = [], frame.time, set()
        height, width = frame.image.shape[:2]
        for index, rule in enumerate(self.rules):
            for person in persons.in_view():
                if person.state not in rule.states or person.last_frame != frame.index:
                    continue  # not in the state, or not in this frame (between detections it is carried)
                if rule.zones and not set(rule.zones) & set(zones_of(person.box, self.zones, width, height)):
                    continue
                held = now - person.state_since
                if held >= rule.after_s:
                    meeting.add(person.id)
                if (held < rule.after_s or now - self._person_last.get((index, person.id), -math.inf) < rule.cooldown_s
                        or now - self._camera_last.get(index, -math.inf) < rule.camera_cooldown_s):
                    continue
                self._person_last[(index, person.id)] = self._camera_last[index] = now
                events.append(persons.event("alert", person, frame, person.last, duration_s=held))
        self.alerting = len(meeting)
        return events
