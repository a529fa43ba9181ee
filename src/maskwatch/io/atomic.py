"""Atomic file writes: a reader, or a crash, never sees half a file."""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

# what snapshots and clips leave free on their disk, for the event store: its rows, and its write-ahead log
# (up to 4 MiB between checkpoints); a disk this full gets events without pictures
MEDIA_RESERVE = 16 * 2**20
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside `path`, renamed onto it only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".part{path.suffix}", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the ones a plain open() would
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_json(path: str | Path, obj, indent: int | None = 2) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=indent) + "\n").encode())


def atomic_save(path: str | Path, save: Callable[[Path], None]) -> None:
    """Let `save` write to a temporary path (same suffix), then move it into place."""
    with atomic_path(path) as tmp:
        save(tmp)


def write_failure(error: OSError) -> str:
    """Why a file could not be written, in words: a full disk said as such (not as errno 28)."""
    return "the disk is full" if error.errno in (errno.ENOSPC, errno.EDQUOT) else error.strerror or str(error)


def no_room_for_media(folder: Path) -> str | None:
    """Why a snapshot or clip must not be written in `folder` (or the folder it will be made in): the disk
    is full, or within MEDIA_RESERVE of it, which is kept for the events. None when there is room."""
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    try:
        free = shutil.disk_usage(existing).free
    except OSError:
        return None  # whether it fits, the write itself will say
    if free >= MEDIA_RESERVE:
        return None
    return f"the disk is full ({free // 2**10} KiB free; the last {MEDIA_RESERVE // 2**20} MiB are kept for events)"
