"""SQLite plumbing every part of the store shares: its one error, transactions, and times as stored."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from maskwatch.core.errors import MaskwatchError


class EventStoreError(MaskwatchError):
    """The file is missing, corrupt, not SQLite or another application's database: the user's to fix."""


FULL_DISK = ("SQLITE_FULL", "SQLITE_IOERR_SHMSIZE")  # no room for a page, or to grow the shared-memory file


def reason(error: sqlite3.Error) -> str:
    """SQLite's message with its extended error name, which tells one I/O error from another; a full disk
    said as such."""
    name = getattr(error, "sqlite_errorname", None)
    if name in FULL_DISK:
        return f"the disk is full: {error}, {name}"
    return f"{error}, {name}" if name else str(error)


def epoch(when: datetime) -> float:
    return when.timestamp()  # naive datetimes count as local time


def now() -> str:
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT (the connection autocommits otherwise), rolled back on any error."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def script(db: sqlite3.Connection, statements: str) -> None:
    """Run `statements` as one transaction (executescript commits a pending one first)."""
    try:
        db.executescript(f"BEGIN IMMEDIATE; {statements} COMMIT;")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
