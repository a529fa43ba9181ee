"""Snapshots and their rows stay together (issue 18): a row that cannot be written takes its new snapshot
along, retention of a copied store deletes the copy's own snapshots, stray JPEGs older than the cutoff go,
and what is reported is the number of files really deleted. Real SQLite files; the failing INSERT is a
trigger that aborts it, as a full disk would."""

from __future__ import annotations

import os
import shutil
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from maskwatch.store import EventStore, EventStoreError
from tests.test_store import cli, event

NOW = datetime.now().astimezone()
OLD = NOW - timedelta(days=40)


def jpegs(folder: Path) -> set[str]:
    return {file.name for file in folder.glob("*.jpg")}


def face(shade: int) -> np.ndarray:
    return np.full((48, 40, 3), shade, np.uint8)


def fail_inserts(store: Path, failing: bool) -> None:
    """Make every INSERT into events fail with SQLite's disk-full message, or work again."""
    with sqlite3.connect(store) as db:
        db.execute("CREATE TRIGGER full BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'database or disk is full'); "
                   "END" if failing else "DROP TRIGGER full")


def test_a_row_that_cannot_be_written_takes_its_new_snapshot_along(tmp_path: Path) -> None:
    path, folder = tmp_path / "events.db", tmp_path / "events.snapshots"
    first, second = face(60), face(120)
    with EventStore(path) as store:
        kept = store.add(event(person=1, at=NOW, face_image=first))
        fail_inserts(path, True)
        with pytest.raises(EventStoreError, match="database or disk is full"):
            store.add(event("mask_off", person=1, at=NOW, face_image=first))  # the committed row's file: kept
        with pytest.raises(EventStoreError, match="database or disk is full"):
            store.add(event(person=2, at=NOW, face_image=second))  # a new file: goes with its row
        assert jpegs(folder) == {Path(kept.snapshot).name}
        fail_inserts(path, False)
        again = store.add(event(person=2, at=NOW, face_image=second))
        rows = store.events()
    assert Path(again.snapshot).is_file()
    assert jpegs(folder) == {Path(e.snapshot).name for e in rows} == {Path(kept.snapshot).name,
                                                                     Path(again.snapshot).name}


def test_retention_of_a_copied_store_deletes_its_own_seven_snapshots(tmp_path: Path) -> None:
    with EventStore(tmp_path / "events.db") as store:
        for person in range(7):
            store.add(event(person=person, at=OLD, face_image=face(30 * person)))
    shutil.copy(tmp_path / "events.db", tmp_path / "copy.db")
    shutil.copytree(tmp_path / "events.snapshots", tmp_path / "copy.snapshots")
    originals = jpegs(tmp_path / "events.snapshots")
    assert len(originals) == 7 and jpegs(tmp_path / "copy.snapshots") == originals
    code, _, err = cli(str(tmp_path / "copy.db"), "--retain-days", "30")
    assert code == 0 and "deleted 7 event(s) older than 30 days" in err and "and 7 snapshot file(s)" in err
    assert jpegs(tmp_path / "copy.snapshots") == set()
    assert jpegs(tmp_path / "events.snapshots") == originals  # the original store's files are its own


def test_retention_deletes_old_stray_snapshots_and_keeps_recent_ones(tmp_path: Path) -> None:
    folder = tmp_path / "events.snapshots"
    with EventStore(tmp_path / "events.db") as store:
        used = Path(store.add(event(person=1, at=NOW, face_image=face(90))).snapshot)
    old_stray, crashed_write, recent_stray, note = (folder / "run7-p1-f3.jpg", folder / ".run7-p2-f9.x1.part.jpg",
                                                    folder / "run8-p1-f1.jpg", folder / "README.txt")
    for file in (old_stray, crashed_write, recent_stray, note):
        file.write_bytes(b"\xff\xd8 stray")
    for file in (old_stray, crashed_write, used, note):  # `used` is old on disk, but a kept event uses it
        os.utime(file, (OLD.timestamp(), OLD.timestamp()))
    with EventStore.open_existing(tmp_path / "events.db", readonly=False) as store:
        assert store.delete_older_than(NOW - timedelta(days=30)) == (0, 2)  # events, snapshot files
    assert not old_stray.exists() and not crashed_write.exists()
    assert recent_stray.exists() and used.exists() and note.exists()
