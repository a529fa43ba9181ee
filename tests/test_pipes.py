"""Output piped into a reader that stops early (`| head -1`): no traceback, the run stops as a pipe's writer
does (exit 141, as after SIGPIPE), and what it recorded in its store is kept."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from maskwatch.core.events import Event
from maskwatch.store import EventStore
from tests.services import door_clip

MAIN = [sys.executable, "-m", "maskwatch"]


def _first_line_only(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run maskwatch with its stdout read for one line and then closed, like `| head -1`."""
    process = subprocess.Popen([*MAIN, *argv], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = process.stdout.readline().decode()
    process.stdout.close()
    err = process.stderr.read().decode()
    return process.wait(timeout=300), line, err


def test_detect_json_into_head(tmp_path: Path) -> None:
    clip = door_clip(tmp_path / "door.mp4", seconds_in=3.0)
    code, line, err = _first_line_only(["detect", str(clip), "--json", "-", "--events", "events.db"], tmp_path)
    assert line.startswith("{") and code == 141, err
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err
    with sqlite3.connect(tmp_path / "events.db") as db:  # the store is whole: its events are readable
        db.execute("SELECT count(*) FROM events").fetchone()


def test_events_json_into_head(tmp_path: Path) -> None:
    """More events than a pipe holds (64 KiB), so the writer meets the closed pipe."""
    with EventStore(tmp_path / "events.db", snapshots=False) as store:
        for person in range(1, 1201):
            store.add(Event("person_appeared", person, "door.mp4", person, person / 25, "2026-12-06T10:00:00+00:00",
                            "without_mask", (10.0, 10.0, 50.0, 50.0), 0.9))
    code, line, err = _first_line_only(["events", "events.db", "--json"], tmp_path)
    assert line.startswith("{") and code == 141, err
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err
