"""The README against the code, so that it cannot drift: the keys of a `--json` record and of an event are those
the code writes, in the same order, and the headline scene numbers are what `evaluate` prints."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from maskwatch.io.sinks import frame_record
from maskwatch.io.sources import Frame
from maskwatch.monitor.store import event_record
from maskwatch.video.events import Event
from maskwatch.vision.results import Face
from tests.conftest import SHARED, needs_shared

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


@needs_shared
def test_readme_held_out_scene_numbers_are_what_evaluate_prints() -> None:
    """The headline end-to-end numbers: rerun on the held-out scenes (about 20 s) and find them in the README."""
    result = subprocess.run([sys.executable, "-m", "maskwatch", "-q", "evaluate", "--scenes",
                             str(SHARED / "mask-detect"), "--held-out", "--json"],
                            capture_output=True, text=True, timeout=600, check=True)
    scores = json.loads(result.stdout)
    ignored = scores["incorrect_ignored"]
    text = README.read_text(encoding="utf-8")
    row = (f"| ignored | CenterFace int8 (now) | **{ignored['map50']:.3f}** | "
           f"{ignored['per_class']['with_mask']['ap50']:.3f} | {ignored['per_class']['without_mask']['ap50']:.3f} | "
           f"{ignored['face_recall']:.3f} | {ignored['face_ap50']:.3f} |")
    assert row in text
    unknown, large = 100 * scores["unknown_rate"], 100 * scores["unknown_rate_48px_and_up"]
    unknown = f"{unknown:.1f}% of the faces found here ({large:.1f}%"
    assert unknown in " ".join(text.split())
