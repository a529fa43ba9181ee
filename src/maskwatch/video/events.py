"""What happened to a person, as a record: the unit that the event store, `maskwatch events` and alerts share.

Kinds: `person_appeared` (a track is confirmed, with its first state), `mask_off` / `mask_on` (the state
changed between with_mask and without_mask), `person_left` (with frames seen and the share of them masked),
and `alert` (a person stayed in a state an alert rule names for long enough; `maskwatch watch`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

import numpy as np

EVENT_KINDS = ("person_appeared", "mask_off", "mask_on", "person_left", "alert")
STATES = ("unknown", "with_mask", "without_mask")


def verdict(states: Iterable[str | None]) -> str:
    """One word for a person from every state their events named: without_mask if they were ever seen so,
    else with_mask if ever so, else unknown (the run summary and `maskwatch events --summary` agree)."""
    seen = set(states)
    return "without_mask" if "without_mask" in seen else "with_mask" if "with_mask" in seen else "unknown"


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
    snapshot: str | None = None  # path of a JPEG of the person's clearest face so far, once stored
    id: int | None = None  # increasing, given by the event store
    # The clearest face crop so far (RGB), for the sink that writes snapshots; never serialised.
    face_image: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict:
        record = {k: v for k, v in asdict(self).items() if k != "face_image"}
        record["box"] = [round(float(v), 1) for v in self.box]
        record["time"] = round(float(self.time), 3)
        if self.confidence is not None:
            record["confidence"] = round(float(self.confidence), 4)
        for name in ("masked_share", "duration_s"):
            if record[name] is not None:
                record[name] = round(float(record[name]), 4)
        return record
