"""The JSON that leaves maskwatch: a frame's line of `--json`, and an event as the store, MQTT and webhooks carry it."""

from __future__ import annotations

from collections.abc import Sequence

from maskwatch.core.events import Event
from maskwatch.core.faces import Face
from maskwatch.core.frame import Frame


def frame_record(frame: Frame, faces: Sequence[Face], events: Sequence[Event] = ()) -> dict:
    """One line of `--json`: a frame or image, its faces and the events at it."""
    return {
        "source": frame.source,
        "frame": frame.index,
        "time": round(frame.time, 3),
        "faces": [face.to_json() for face in faces],
        "events": [event.to_json() for event in events],
    }


def event_record(run: int, event: Event) -> dict:
    """One event as `maskwatch events --json` prints it, and as MQTT and webhooks carry it."""
    return {**event.to_json(), "run": run}
