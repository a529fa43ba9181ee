"""`detect --events` as a user runs it, killed or interrupted midway: what was recorded stays readable and
complete, and the next run appends to the same store."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from maskwatch.commands import main
from tests.services import interruptible

VISIT, GAP = 12, 40  # frames the face is in view, then out of view (longer than a person is kept when lost)


@pytest.fixture(scope="module")
def visits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The astronaut's face comes into view and leaves again, 12 times: a person and events each time."""
    path = tmp_path_factory.mktemp("visits") / "visits.mp4"
    size = (320, 240)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, size)
    photo = cv2.cvtColor(cv2.resize(data.astronaut(), size), cv2.COLOR_RGB2BGR)
    empty = np.full_like(photo, 90)
    for _ in range(12):
        for _ in range(VISIT):
            writer.write(photo)
        for _ in range(GAP):
            writer.write(empty)
    writer.release()
    return path


def stored(db: Path) -> list[dict]:
    """The events as `maskwatch events --json` lists them (through a separate process, as a user would)."""
    result = subprocess.run([sys.executable, "-m", "maskwatch", "events", str(db), "--json"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def count_rows(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as connection:
            return connection.execute("SELECT count(*) FROM events").fetchone()[0]
    except sqlite3.Error:
        return 0


def start_detect(video: Path, db: Path, jsonl: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "maskwatch", "-q", "detect", str(video), "--preset", "fast",
                             "--events", str(db), "--json", str(jsonl)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, preexec_fn=interruptible)


def wait_for_rows(process: subprocess.Popen, db: Path, rows: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while count_rows(db) < rows:
        assert process.poll() is None, f"detect ended early: {process.stderr.read()}"
        assert time.monotonic() < deadline, f"no {rows} events within {timeout} s"
        time.sleep(0.05)


def test_events_of_a_whole_run(visits: Path, tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    assert main(["detect", str(visits), "--preset", "fast", "--events", str(db), "--json",
                 str(tmp_path / "f.jsonl")]) == 0
    events = stored(db)
    assert [e["kind"] for e in events] == ["person_appeared", "person_left"] * 12
    assert [e["person"] for e in events] == [p for p in range(1, 13) for _ in range(2)]
    assert [e["id"] for e in events] == list(range(1, 25))
    first_frames = [e["frame"] for e in events if e["kind"] == "person_appeared"]
    assert all(v * (VISIT + GAP) <= f <= v * (VISIT + GAP) + 5 for v, f in enumerate(first_frames))
    left = [e for e in events if e["kind"] == "person_left"]
    assert all(e["frames_seen"] >= VISIT - 2 and e["masked_share"] == 0 for e in left)
    assert all(e["state"] == "without_mask" and Path(e["snapshot"]).is_file() for e in events)
    in_json = [e for line in (tmp_path / "f.jsonl").read_text().splitlines() for e in json.loads(line)["events"]]
    assert [(e["kind"], e["person"], e["frame"]) for e in in_json] == \
        [(e["kind"], e["person"], e["frame"]) for e in events]


def test_kill_9_keeps_every_recorded_event_and_the_next_run_appends(visits: Path, tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    process = start_detect(visits, db, tmp_path / "f.jsonl")
    try:
        wait_for_rows(process, db, 5)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    events = stored(db)
    assert len(events) >= 5 and [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert all(Path(e["snapshot"]).is_file() for e in events)
    # The killed run never finished, so its last person has no person_left: nothing else is missing.
    kinds = [e["kind"] for e in events]
    assert kinds[: len(kinds) // 2 * 2] == ["person_appeared", "person_left"] * (len(kinds) // 2)

    assert main(["detect", str(visits), "--preset", "fast", "--events", str(db)]) == 0
    after = stored(db)
    assert after[: len(events)] == events
    assert len(after) == len(events) + 24 and {e["run"] for e in after[len(events):]} == {events[0]["run"] + 1}


def test_ctrl_c_closes_the_persons_in_view_and_the_json_lines(visits: Path, tmp_path: Path) -> None:
    db, jsonl = tmp_path / "events.db", tmp_path / "f.jsonl"
    process = start_detect(visits, db, jsonl)
    try:
        wait_for_rows(process, db, 3)  # the second person has appeared: they are in view now (or just left)
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    events = stored(db)
    kinds = [e["kind"] for e in events]
    assert kinds == ["person_appeared", "person_left"] * (len(kinds) // 2)  # whoever was in view has left
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [r["frame"] for r in records] == list(range(len(records)))
    in_json = [e["id"] for r in records for e in r["events"]]
    # Ctrl-C can land between storing a frame's events and writing its line: the store is the record.
    assert in_json == sorted(set(in_json)) and set(in_json) <= {e["id"] for e in events}
    assert len(in_json) >= len(events) - 2
