"""Deleting events, and with them the snapshot and clip files no kept event uses; files are deleted after
the rows are committed, so a crash leaves a stray file (which retention deletes later), never a row without
its file."""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import NamedTuple

from maskwatch.store.db import transaction
from maskwatch.store.schema import ADDED_IN, LEARNING_SINCE, REVIEWS_SINCE


class Deleted(NamedTuple):
    """What a deletion removed: event rows, and snapshot files really gone from the disk."""

    events: int
    snapshots: int


class Unused(NamedTuple):
    """What deleting rows left behind: how many rows went, and the stored files no kept event uses."""

    events: int
    snapshots: list[str]
    clips: list[str]
    crops: list[str]  # face crops kept for learning


def delete_rows(db: sqlite3.Connection, version: int, where: str, params: Sequence[object]) -> Unused:
    """Delete the events of `where`, their reviews, corrections and kept crops, in one transaction."""
    with transaction(db):
        old = [row["snapshot"] for row in db.execute(f"SELECT DISTINCT snapshot FROM events WHERE {where} "
                                                     "AND snapshot IS NOT NULL", params)]
        clips = [row["clip"] for row in db.execute(f"SELECT clip FROM events WHERE {where} AND clip IS NOT NULL",
                                                   params)] if version >= ADDED_IN["clip"] else []
        learns = version >= LEARNING_SINCE
        crops = [row["file"] for row in db.execute(f"SELECT DISTINCT file FROM crops WHERE event IN "
                                                   f"(SELECT id FROM events WHERE {where})", params)] if learns else []
        deleted = db.execute(f"DELETE FROM events WHERE {where}", params).rowcount
        if version >= REVIEWS_SINCE:
            db.execute("DELETE FROM reviews WHERE event NOT IN (SELECT id FROM events)")
        if learns:
            db.execute("DELETE FROM corrections WHERE event NOT IN (SELECT id FROM events)")
            db.execute("DELETE FROM crops WHERE event NOT IN (SELECT id FROM events)")
            crops = [c for c in crops if db.execute("SELECT 1 FROM crops WHERE file = ?", (c,)).fetchone() is None]
        unused = [s for s in old if db.execute("SELECT 1 FROM events WHERE snapshot = ?", (s,)).fetchone() is None]
        clips = [c for c in clips if db.execute("SELECT 1 FROM events WHERE clip = ?", (c,)).fetchone() is None]
    return Unused(deleted, unused, clips, crops)


def used_names(db: sqlite3.Connection, column: str, table: str = "events") -> set[str]:
    """The file names that rows of `table` name in `column` (an event's snapshot or clip, a crop's file)."""
    return {Path(row[column].replace("\\", "/")).name for row in
            db.execute(f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL")}


def delete_strays(folder: Path, pattern: str, used: set[str], before: float) -> int:
    """Delete the files of `folder` last written before epoch `before` that are not `used`: how many went."""
    deleted = 0
    for file in folder.glob(pattern):  # a new file is recent: no race with a writer's next row
        with suppress(FileNotFoundError):
            if file.name not in used and file.lstat().st_mtime < before:
                deleted += unlink_media(file)
    return deleted


def unlink_media(file: Path) -> bool:
    """Delete a snapshot or clip (a JPEG or MP4 file, never what a damaged path names); whether a file went."""
    try:
        if file.suffix not in (".jpg", ".mp4") or not stat.S_ISREG(file.lstat().st_mode):
            return False
        file.unlink()
    except FileNotFoundError:
        return False
    return True
