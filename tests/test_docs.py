"""The README's examples against the code, so that they cannot drift: the keys of a `--json` record and of an
event are those the code writes, in the same order."""

from __future__ import annotations

import json
import re
from pathlib import Path

from maskwatch.io.sinks import frame_record
from maskwatch.io.sources import Frame
from maskwatch.monitor.store import event_record
from maskwatch.video.events import Event
from maskwatch.vision.results import Face

README = Path(__file__).resolve().parents[1] / "README.md"


def example_after(sentence: str) -> dict:
    """The JSON block that follows `sentence` in the README."""
    text = README.read_text(encoding="utf-8")
    start = text.index(sentence)
    block = re.search(r"```json\n(.*?)```", text[start:], re.S)
    assert block is not None, f"no JSON example after {sentence!r}"
    return json.loads(block.group(1))


def test_readme_event_example_has_every_key_of_an_event_record() -> None:
    event = Event("mask_on", 1, "clip.mp4", 22, 0.88, "2026-11-27T01:13:37.204+00:00", "with_mask",
                  (161.6, 45.0, 227.2, 126.2), 0.94, "without_mask", id=2)
    shown = example_after("An event, as `maskwatch events EVENTS.db --json` prints it")
    assert list(shown) == list(event_record(1, event))


def test_readme_frame_record_example_has_the_keys_detect_writes() -> None:
    face = Face((1, 2, 3, 4), 0.9, "without_mask", 1.0, {"with_mask": 0.0, "without_mask": 1.0}, "without_mask")
    record = frame_record(Frame(None, "a.png", 0, 0.0, Path("a.png"), None, False), [face])
    shown = example_after("A record of `--json`:")
    assert list(shown) == list(record)
    assert list(shown["faces"][0]) == list(record["faces"][0])
