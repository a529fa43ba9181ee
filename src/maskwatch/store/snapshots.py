"""Snapshots of faces, JPEGs in the folder beside the store (`X/EVENTS.db` -> `X/EVENTS.snapshots/`): faces
are personal data, so that folder is made 0700 and each file 0600, and `blur` leaves nothing to recognise."""

from __future__ import annotations

import os
import weakref
from pathlib import Path

import cv2
import numpy as np

from maskwatch.core.events import Event
from maskwatch.io.atomic import atomic_path, no_room_for_media, write_failure
from maskwatch.store.db import EventStoreError

SNAPSHOT_BLOCKS = 8  # a blurred snapshot keeps this many blocks across: colours stay, no face does


def blur(image: np.ndarray) -> np.ndarray:
    """Pixelate to a few blocks, then smooth the block edges away: nothing of the face is left to recognise."""
    h, w = image.shape[:2]
    scale = SNAPSHOT_BLOCKS / max(h, w)
    small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), (0, 0), max(h, w) / 16)


def snapshot_folder(store: Path) -> Path:
    """Where the face snapshots of the store at `store` go (`X/EVENTS.db` -> `X/EVENTS.snapshots/`): the
    store writes them, the page serves them, retention deletes them with their events."""
    return store.with_suffix(".snapshots")


def clip_folder(store: Path) -> Path:
    """Where the event clips of the store at `store` go (`X/EVENTS.db` -> `X/EVENTS.clips/`): the camera
    workers write them (video.clips), the page serves them, retention deletes them with their events."""
    return store.with_suffix(".clips")


def stored_file(folder: Path, stored: str) -> Path:
    """A stored snapshot's or clip's file: by its name, in this store's own `folder`. Stored paths are
    `EVENTS.snapshots/NAME.jpg` of the name the store had when it wrote them, and a store copied or
    renamed with its folders (`copy.db`, `copy.snapshots/`) must find, and delete, its own files."""
    return folder / Path(stored.replace("\\", "/")).name


def stored_path(folder: Path, stored: str | None) -> str | None:
    """`stored_file` as events carry it, None for none."""
    return None if stored is None else str(stored_file(folder, stored))


class SnapshotNotWritten(EventStoreError):
    """A snapshot file that could not be written (a full disk): its event is recorded without it."""


class SnapshotWriter:
    """Writes each person's clearest face once: the last file written per person is remembered while the
    producer still holds the same array."""

    def __init__(self, folder: Path, blurred: bool) -> None:
        self.folder, self.blurred = folder, blurred
        self._faces: dict[tuple[str, int], tuple[weakref.ref, str]] = {}  # last snapshot per person

    def for_event(self, event: Event, run: int) -> tuple[str, bool]:
        """The stored path of the person's clearest face, and whether it is a new file: the last one written
        while the producer still holds the same array (it replaces it only with a clearer face), else a new one."""
        key = (event.source, event.person)
        last = self._faces.get(key)
        if last is not None and last[0]() is event.face_image and stored_file(self.folder, last[1]).exists():
            snapshot, written = last[1], False
        else:
            snapshot, written = self._write(event.face_image, f"run{run}-p{event.person}-f{event.frame}"), True
            self._faces[key] = (weakref.ref(event.face_image), snapshot)
        if event.kind == "person_left":
            self._faces.pop(key, None)
        return snapshot, written

    def write(self, image: np.ndarray, stem: str) -> str:
        """A new file of `image` (no reuse): its stored path. SnapshotNotWritten on a full disk."""
        return self._write(image, stem)

    def discard(self, event: Event, snapshot: str) -> None:
        """Delete a new file whose row could not be written: no face is kept without its row."""
        self._faces.pop((event.source, event.person), None)
        stored_file(self.folder, snapshot).unlink(missing_ok=True)

    def _write(self, image: np.ndarray, stem: str) -> str:
        full = no_room_for_media(self.folder)
        if full:
            raise SnapshotNotWritten(f"{self.folder}: cannot write the snapshot: {full}")
        try:
            self.folder.mkdir(mode=0o700)
            os.chmod(self.folder, 0o700)  # whatever the umask
        except FileExistsError:
            pass
        except OSError as error:
            why = write_failure(error)
            raise SnapshotNotWritten(f"{self.folder}: cannot make the snapshot folder: {why}") from error
        name, n = f"{stem}.jpg", 2
        while (self.folder / name).exists():  # persons and frames restart with each video of a run
            name, n = f"{stem}-{n}.jpg", n + 1
        image = blur(image) if self.blurred else image
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image,
                                [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            raise EventStoreError(f"{self.folder / name}: cannot encode the snapshot")
        try:
            with atomic_path(self.folder / name) as tmp:
                os.chmod(tmp, 0o600)
                tmp.write_bytes(jpeg.tobytes())
        except OSError as error:
            why = write_failure(error)
            raise SnapshotNotWritten(f"{self.folder / name}: cannot write the snapshot: {why}") from error
        return f"{self.folder.name}/{name}"
