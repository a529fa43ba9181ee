"""A full disk: events are recorded and delivered without their pictures, snapshots and clips stop short of
the room the store needs, events the store refuses wait and are recorded once there is room, and the log
says the disk is full. The disk is real: a small tmpfs that the test mounts and fills (root only; skipped
with the reason elsewhere)."""

from __future__ import annotations

import logging
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from maskwatch.core.events import Event
from maskwatch.io.atomic import MEDIA_RESERVE
from maskwatch.monitor.worker import EventRecorder
from maskwatch.store import EventStore
from tests.services import Watch, door_clip, free_port, wait_until


@contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted on `folder` (made 0700) for the block."""
    folder.mkdir(mode=0o700, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.strip() or 'mount failed'})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=True)  # a failed test may leave a file open


def fill(folder: Path, leave: int = 0) -> Path:
    """Fill the disk of `folder` until `leave` bytes (or nothing) are free: the filler file."""
    filler = folder / "filler"
    try:
        with filler.open("wb", buffering=0) as out:
            while shutil.disk_usage(folder).free > leave + 65536:
                out.write(b"\0" * 65536)
            while shutil.disk_usage(folder).free > leave:
                out.write(b"\0" * 4096)
    except OSError:  # no space left: what every later write meets
        pass
    return filler


@pytest.fixture
def full_snapshot_folder(tmp_path: Path) -> Iterator[Path]:
    """`tmp_path/events.snapshots` on a 64 KiB filesystem with no space left."""
    with small_disk(tmp_path / "events.snapshots", "64k") as folder:
        fill(folder)
        yield folder


def _event(person: int, kind: str = "person_appeared") -> Event:
    face = np.random.default_rng(person).integers(0, 255, (96, 96, 3), np.uint8)
    return Event(kind, person, "door", person, float(person), datetime.now().astimezone().isoformat(),
                 "without_mask", (10.0, 10.0, 90.0, 90.0), 0.9, face_image=face)


def test_events_are_recorded_without_the_snapshots_a_full_disk_refuses(full_snapshot_folder: Path, caplog,
                                                                      monkeypatch) -> None:
    monkeypatch.setattr("maskwatch.io.atomic.MEDIA_RESERVE", 0)  # the write itself meets the full disk
    caplog.set_level(logging.ERROR)
    with EventStore(full_snapshot_folder.parent / "events.db") as store:
        recorded = [store.add(_event(person)) for person in (1, 2, 3)]
        stored = store.events()
    assert [e.id for e in recorded] == [1, 2, 3] and [e.person for e in stored] == [1, 2, 3]
    assert all(e.snapshot is None for e in recorded + stored)
    assert "cannot write the snapshot: the disk is full; the person_appeared event of person 1" in caplog.text
    assert "Errno 28" not in caplog.text
    assert sorted(p.name for p in full_snapshot_folder.iterdir()) == ["filler"]  # no half-written file


def test_events_the_full_store_refuses_wait_and_are_recorded_in_order_once_there_is_room(
        tmp_path: Path, caplog, monkeypatch) -> None:
    monkeypatch.setattr(EventRecorder, "RETRY_S", 0.0)
    caplog.set_level(logging.WARNING)
    with small_disk(tmp_path / "disk", "256k") as disk:
        store = EventStore(disk / "events.db", snapshots=False)
        filler = fill(disk)
        recorder = EventRecorder(store, "door")
        recorder.record([_event(1), _event(1, "mask_off")])
        assert len(recorder.waiting) == 2  # refused, not dropped
        assert "camera door: cannot record events" in caplog.text and "the disk is full" in caplog.text
        recorder.record([_event(1, "person_left")])
        assert len(recorder.waiting) == 3
        filler.unlink()  # room again
        recorder.record([_event(2)])
        assert not recorder.waiting and "records events again; none was lost" in caplog.text
        recorder.close()
        store.close()
        with EventStore(disk / "events.db") as reopened:
            stored = reopened.events()
        db = sqlite3.connect(disk / "events.db")
        runs = db.execute("SELECT closed FROM runs").fetchall()
        db.close()
    assert [(e.person, e.kind) for e in stored] == [(1, "person_appeared"), (1, "mask_off"), (1, "person_left"),
                                                    (2, "person_appeared")]
    assert [e.id for e in stored] == [1, 2, 3, 4] and runs[0][0] is not None  # the run closed: nothing lost


def test_a_clip_not_written_is_named_by_no_event(tmp_path: Path) -> None:
    with EventStore(tmp_path / "events.db", snapshots=False) as store:
        recorder = EventRecorder(store, "door")
        recorder.record([replace(_event(1, "alert"), clip="events.clips/a.mp4"),
                         replace(_event(2, "alert"), clip="events.clips/b.mp4")])
        recorder.waiting.append(replace(_event(3, "alert"), clip="events.clips/a.mp4"))  # refused by the store
        recorder.forget_clip(store.clip_dir / "a.mp4")
        assert [e.clip for e in store.events()] == [None, str(store.clip_dir / "b.mp4")]
        assert recorder.waiting[0].clip is None


def test_a_site_on_a_nearly_full_disk_records_every_event_without_pictures(tmp_path: Path) -> None:
    """watch with snapshots and clips, its store on a disk with less free than the media reserve: alerts
    are recorded, delivered by the API, and name no snapshot or clip; no picture is written; the log says why."""
    door_clip(tmp_path / "door.mp4")
    port = free_port()
    with small_disk(tmp_path / "disk", f"{(MEDIA_RESERVE + 8 * 2**20) // 2**10}k") as disk:
        fill(disk, leave=MEDIA_RESERVE - 4 * 2**20)
        (tmp_path / "site.toml").write_text(f"""store = "{disk / 'events.db'}"
[http]
port = {port}
[[camera]]
name = "door"
source = "door.mp4"
loop = true
[[alert]]
state = "without_mask"
after_s = 0.5
[clips]
enabled = true
""")
        site = Watch(tmp_path / "site.toml", port=port)
        try:
            site.wait_answering()
            alerts = wait_until(lambda: site.get("/api/review?kind=alert").json()["events"][:2] or None, 90,
                                "alerts")
            assert all(e["snapshot_url"] is None and e["clip_url"] is None for e in alerts)
        finally:
            assert site.stop() == 0
        log = site.log.read_text()
        assert "cannot write the snapshot: the disk is full (" in log and "no clip of the alert event" in log
        assert "could not record" not in log and "cannot record events" not in log
        assert sorted(p.name for p in disk.iterdir()) == ["events.db", "filler"]
