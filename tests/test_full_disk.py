"""A full disk under the snapshots: events are recorded and delivered without their pictures, and the log says
the disk is full. The full disk is real: a small tmpfs that the test mounts and fills (root only; skipped
with the reason elsewhere)."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from maskwatch.core.events import Event
from maskwatch.store import EventStore


@pytest.fixture
def full_snapshot_folder(tmp_path: Path) -> Iterator[Path]:
    """`tmp_path/events.snapshots` on a 64 KiB filesystem with no space left."""
    folder = tmp_path / "events.snapshots"
    folder.mkdir(mode=0o700)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.strip() or 'mount failed'})")
    try:
        try:
            with (folder / "filler").open("wb", buffering=0) as filler:
                while True:
                    filler.write(b"\0" * 4096)
        except OSError:  # no space left: what every later write meets
            pass
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def _event(person: int, kind: str = "person_appeared") -> Event:
    face = np.random.default_rng(person).integers(0, 255, (96, 96, 3), np.uint8)
    return Event(kind, person, "door", person, float(person), datetime.now().astimezone().isoformat(),
                 "without_mask", (10.0, 10.0, 90.0, 90.0), 0.9, face_image=face)


def test_events_are_recorded_without_the_snapshots_a_full_disk_refuses(full_snapshot_folder: Path, caplog) -> None:
    caplog.set_level(logging.ERROR)
    with EventStore(full_snapshot_folder.parent / "events.db") as store:
        recorded = [store.add(_event(person)) for person in (1, 2, 3)]
        stored = store.events()
    assert [e.id for e in recorded] == [1, 2, 3] and [e.person for e in stored] == [1, 2, 3]
    assert all(e.snapshot is None for e in recorded + stored)
    assert "cannot write the snapshot: the disk is full; the person_appeared event of person 1" in caplog.text
    assert "Errno 28" not in caplog.text
    assert sorted(p.name for p in full_snapshot_folder.iterdir()) == ["filler"]  # no half-written file
