"""What happened to a person, as a record: the unit that the event store, `maskwatch events` and alerts share.

Kinds: `person_appeared` (a track is confirmed, with its first state), `mask_off` (the state changed to a
non-compliant one: without_mask, or mask_weared_incorrect with a three-class model; `previous_state` and
`state` name both), `mask_on` (it changed to with_mask), `person_left` (with frames seen and the share of
them masked),
and `alert` (a person stayed in a state an alert rule names for long enough; `maskwatch watch`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from maskwatch.core.classes import STATES, verdict

EVENT_KINDS = ("person_appeared", "mask_off", "mask_on", "person_left", "alert")
__all__ = ["EVENT_KINDS", "STATES", "Event", "verdict"]


@dataclass
class Event:
    kind: str
    person: int
    source: str  # the input, or the camera's name
    frame: int
    time: float  # seconds into the video (wall-clock seconds for cameras and streams)
    wall_time: str  # ISO 8601 with UTC offset
    state: str  # the person's state after the event
    box: tuple[float, float, float, float]
    confidence: float | None
    previous_state: str | None = None  # for mask_off / mask_on
    frames_seen: int | None = None  # for person_left
    masked_share: float | None = None  # for person_left: share of judged frames with a mask
    duration_s: float | None = None  # for alert: seconds the person had been in `state`
    zones: list[str] | None = None  # the camera's zones the person's face was in (None: the camera has none)
    snapshot: str | None = None  # path of a JPEG of the person's clearest face so far, once stored
    clip: str | None = None  # path of the event's video clip (written a few seconds after the event; `watch`)
    id: int | None = None  # increasing, given by the event store
    # The clearest face crop so far (RGB), for the sink that writes snapshots; never serialised.
    face_image: np.ndarray | None = field(default=None, repr=False, compare=False)
    # With [learning]: faces of the person sampled since their previous event (RGB), kept to learn from.
    face_samples: tuple[np.ndarray, ...] = field(default=(), repr=False, compare=False)

    def to_json(self) -> dict:
        record = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("face_image", "face_samples")}
        if record["zones"] is not None:
            record["zones"] = list(record["zones"])
        record["box"] = [round(float(v), 1) for v in self.box]
        record["time"] = round(float(self.time), 3)
        if self.confidence is not None:
            record["confidence"] = round(float(self.confidence), 4)
        for name in ("masked_share", "duration_s"):
            if record[name] is not None:
                record[name] = round(float(record[name]), 4)
        return record
