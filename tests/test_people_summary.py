"""Issue 18 (14): people are summarised by their last state and by whether they were ever non-compliant, so a
person who puts the mask on partway counts as compliant at last sighting and as once non-compliant: in the
`detect` summary, `maskwatch events --summary`, the resumed-run merge and the site page of `watch`."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from prometheus_client import CollectorRegistry
from skimage import data

from maskwatch.core.events import Event
from maskwatch.core.frame import Frame
from maskwatch.io.sinks import Summary
from maskwatch.monitor.config import load
from maskwatch.monitor.supervisor import Supervisor
from maskwatch.web.dashboard import create_dashboard
from maskwatch.web.people import today
from tests.browser import chromium, needs_chromium, wait_for
from tests.conftest import masked
from tests.test_serve import running

FRAMES, MASK_FROM = 60, 8  # the astronaut's face is bare for 8 frames, then masked to the end
SCREENSHOT = Path("/tmp/maskwatch-people-today.png")


def maskwatch(*argv: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "maskwatch", *argv], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def mask_put_on(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 512x512 clip of the astronaut drifting right, who puts a mask on at frame 8 of 60."""
    path = tmp_path_factory.mktemp("mask_on") / "mask_on.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (512, 512))
    for i in range(FRAMES):
        image = np.roll(data.astronaut(), 2 * i, axis=1)
        if i >= MASK_FROM:
            face = (slice(60, 175), slice(180 + 2 * i, 270 + 2 * i))
            image[face] = masked(image[face])
        writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


LAST_WITH = {"with_mask": 1, "without_mask": 0, "mask_weared_incorrect": 0, "unknown": 0}


def test_detect_and_events_summary_count_who_put_the_mask_on_as_compliant_at_last_sighting_and_ever_not(
        mask_put_on: Path, tmp_path: Path) -> None:
    db, summary_file = tmp_path / "events.db", tmp_path / "summary.json"
    run = maskwatch("detect", str(mask_put_on), "--events", str(db), "--summary", str(summary_file))
    listed = maskwatch("events", str(db), "--json").stdout.splitlines()
    kinds = [(e["kind"], e["state"]) for e in map(json.loads, listed)]
    assert kinds == [("person_appeared", "without_mask"), ("mask_on", "with_mask"), ("person_left", "with_mask")]

    summary = json.loads(summary_file.read_text())
    assert summary["people"] == 1 and summary["people_by_last_state"] == LAST_WITH
    assert summary["people_ever_non_compliant"] == 1 and summary["compliant_at_last_sighting"] == 1.0
    assert "people_per_state" not in summary and "people_without_mask_share" not in summary
    assert ("1 person: by last state with_mask 1, without_mask 0, unknown 0; compliant at last sighting 100%; "
            "1 ever non-compliant") in run.stderr

    stored = json.loads(maskwatch("events", str(db), "--summary", "--json").stdout)
    [hour] = stored["hours"]
    for row in (hour, stored["total"]):
        assert row["people"] == 1 and row["people_by_last_state"] == LAST_WITH
        assert row["people_ever_non_compliant"] == 1 and row["compliant_at_last_sighting"] == 1.0
    table = maskwatch("events", str(db), "--summary").stdout.splitlines()
    assert table[0].split() == ["hour", "people", "last_with_mask", "last_without_mask", "last_unknown",
                                "compliant_at_last", "ever_non_compliant"]
    assert table[-1].split() == ["total", "1", "1", "0", "0", "100.0%", "1"]


def _event(kind: str, person: int, state: str, previous: str | None = None, source: str = "door",
           when: datetime | None = None) -> Event:
    wall_time = (when or datetime.now().astimezone()).isoformat(timespec="milliseconds")
    return Event(kind, person, source, 0, 0.0, wall_time, state, (0, 0, 40, 40), None, previous_state=previous)


def _visits(when: datetime) -> list[Event]:
    """Three people at the door at `when`: 1 came bare and put the mask on, 2 wore one throughout, 3 never
    did. Stamped when a test asks (not when the module is imported), so that "today" is still that day
    when a run of the suite crosses midnight."""
    return [_event(kind, person, state, previous, when=when) for kind, person, state, previous in (
        ("person_appeared", 1, "without_mask", None), ("mask_on", 1, "with_mask", "without_mask"),
        ("person_left", 1, "with_mask", None), ("person_appeared", 2, "with_mask", None),
        ("person_left", 2, "with_mask", None), ("person_appeared", 3, "without_mask", None),
        ("person_left", 3, "without_mask", None))]


def test_a_resumed_run_merges_last_states_and_ever_non_compliant() -> None:
    frame = Frame(np.zeros((4, 4, 3), np.uint8), "door.mp4", 0, 0.0, Path("door.mp4"), 25.0, True)
    per_file = Summary()
    for e in _visits(datetime.now().astimezone()):
        per_file.add(frame, [], [e])
    resumed = Summary()
    resumed.merge(json.loads(json.dumps(per_file.counts())))  # through the manifest's JSON
    people = {k: v for k, v in resumed.as_dict(1.0).items() if k.startswith(("people", "compliant"))}
    assert people == {"people": 3, "people_by_last_state": {"with_mask": 2, "without_mask": 1,
                                                            "mask_weared_incorrect": 0, "unknown": 0},
                      "people_ever_non_compliant": 2, "compliant_at_last_sighting": 0.6667}
    older = Summary()  # a manifest written before last states were kept: people and ever stay right
    older.merge({"images": 0, "frames": 1, "faces": 0, "per_state": {},
                 "people": [["door.mp4", 1, ["with_mask", "without_mask"]]]})
    assert older.as_dict(1.0)["people_ever_non_compliant"] == 1 and older.as_dict(1.0)["people"] == 1


@pytest.fixture
def site(tmp_path: Path):
    """The site page of `watch` over a store holding the visits (stamped now), on a loopback port (no cameras
    started); the url, the store and the visits' time."""
    (tmp_path / "door.mp4").write_bytes(b"")
    config = tmp_path / "site.toml"
    config.write_text('store = "events.db"\n[[camera]]\nname = "door"\nsource = "door.mp4"\n')
    supervisor = Supervisor(load(config))
    when = datetime.now().astimezone()
    for e in _visits(when):
        supervisor.store.add(e)
    try:
        with running(create_dashboard(supervisor, tmp_path / "events.db", [], CollectorRegistry())) as url:
            yield url, tmp_path / "events.db", when
    finally:
        supervisor.store.close()


def test_api_today_counts_by_last_state(site) -> None:
    _, db, when = site
    result = today(db, now=when)
    assert result["today"] == {"people": 3, "people_by_last_state": {
        "with_mask": 2, "without_mask": 1, "mask_weared_incorrect": 0, "unknown": 0},
        "people_ever_non_compliant": 2, "compliant_at_last_sighting": 0.6667}
    [this_hour] = [h for h in result["hours"] if h["people"]]
    assert this_hour == {"hour": result["hours"][-1]["hour"], **result["today"]}
    assert result["hours"][0]["people_by_last_state"]["with_mask"] == 0


@needs_chromium
def test_site_page_tiles_and_chart_show_last_state_and_ever(site, tmp_path: Path) -> None:
    url, _, _ = site
    with chromium(f"{url}/", tmp_path) as page:
        wait_for(lambda: page.evaluate("document.getElementById('people-today')?.textContent === '3'"), 30,
                 "today's tiles")
        tiles = page.evaluate("""Object.fromEntries([...document.querySelectorAll('.totals > div')]
            .filter(d => !d.hidden).map(d => [d.querySelector('dt').textContent,
                                              d.querySelector('dd').textContent]))""")
        bars = page.evaluate("""[...document.querySelectorAll('#chart rect')].map(r =>
            [r.dataset.state, Number(r.dataset.count), r.querySelector('title').textContent])""")
        SCREENSHOT.write_bytes(base64.b64decode(page.call("Page.captureScreenshot", format="png")["data"]))
    assert {k: v for k, v in tiles.items() if k != "Waiting to be sent"} == {
        "People": "3", "Compliant at last sighting": "66.7%", "Last seen with mask": "2",
        "Last seen without mask": "1", "Last seen unknown": "0", "Ever non-compliant": "2"}
    assert sorted(b[:2] for b in bars) == [["with_mask", 2], ["without_mask", 1]]
    assert all("(2 of 3 ever non-compliant)" in b[2] for b in bars)
