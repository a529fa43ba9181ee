"""The file: its tables, the migrations from older maskwatch versions, and opening it only if it is ours."""

from __future__ import annotations

import os
import sqlite3
from contextlib import suppress
from pathlib import Path

from maskwatch.store.db import EventStoreError, reason, script, transaction

APP_ID = 0x4D534B57  # "MSKW": PRAGMA application_id of every maskwatch event store
SCHEMA_VERSION = 7  # PRAGMA user_version; 2 added alerts (duration_s) and the outbox (deliveries), 3 the
# writer of each run and whether it closed (runs left open by a dead writer get their person_left), 4 zones,
# 5 clips, 6 reviews (who marked an event reviewed, and when), 7 corrections and the crops kept for learning
SQLITE_MAGIC = b"SQLite format 3\x00"

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (run INTEGER PRIMARY KEY AUTOINCREMENT, started TEXT NOT NULL,
                                 writer_pid INTEGER, writer_start TEXT, closed TEXT);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run INTEGER NOT NULL,
    kind TEXT NOT NULL,
    person INTEGER NOT NULL,
    source TEXT NOT NULL,
    frame INTEGER NOT NULL,
    time REAL NOT NULL,
    wall_time TEXT NOT NULL,
    epoch REAL NOT NULL,
    state TEXT NOT NULL,
    x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL,
    confidence REAL,
    previous_state TEXT,
    frames_seen INTEGER,
    masked_share REAL,
    snapshot TEXT,
    duration_s REAL,
    zones TEXT,
    clip TEXT
);
CREATE INDEX IF NOT EXISTS events_epoch ON events (epoch);
CREATE INDEX IF NOT EXISTS events_kind_source ON events (kind, source);
CREATE INDEX IF NOT EXISTS events_source ON events (source);
CREATE INDEX IF NOT EXISTS events_snapshot ON events (snapshot) WHERE snapshot IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_run ON events (run, source);
""" + """
CREATE TABLE IF NOT EXISTS deliveries (target TEXT PRIMARY KEY, last_id INTEGER NOT NULL, updated TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reviews (event INTEGER PRIMARY KEY, reviewed TEXT NOT NULL, reviewer TEXT);
""" + """
CREATE TABLE IF NOT EXISTS corrections (event INTEGER PRIMARY KEY, state TEXT NOT NULL, corrected TEXT NOT NULL,
                                        corrector TEXT);
CREATE TABLE IF NOT EXISTS crops (event INTEGER NOT NULL, file TEXT NOT NULL, epoch REAL NOT NULL);
CREATE INDEX IF NOT EXISTS crops_event ON crops (event);
CREATE INDEX IF NOT EXISTS crops_file ON crops (file);
"""
MIGRATIONS = {  # statements from user_version N to N + 1
    1: ["ALTER TABLE events ADD COLUMN duration_s REAL",
        "CREATE TABLE deliveries (target TEXT PRIMARY KEY, last_id INTEGER NOT NULL, updated TEXT NOT NULL)"],
    2: ["ALTER TABLE runs ADD COLUMN writer_pid INTEGER", "ALTER TABLE runs ADD COLUMN writer_start TEXT",
        "ALTER TABLE runs ADD COLUMN closed TEXT", "CREATE INDEX events_run ON events (run, source)"],
    3: ["ALTER TABLE events ADD COLUMN zones TEXT"],
    4: ["ALTER TABLE events ADD COLUMN clip TEXT"],
    5: ["CREATE TABLE reviews (event INTEGER PRIMARY KEY, reviewed TEXT NOT NULL, reviewer TEXT)"],
    6: ["CREATE TABLE corrections (event INTEGER PRIMARY KEY, state TEXT NOT NULL, corrected TEXT NOT NULL, "
        "corrector TEXT)", "CREATE TABLE crops (event INTEGER NOT NULL, file TEXT NOT NULL, epoch REAL NOT NULL)",
        "CREATE INDEX crops_event ON crops (event)", "CREATE INDEX crops_file ON crops (file)"],
}
REVIEWS_SINCE = 6
LEARNING_SINCE = 7
COLUMNS = ("id", "run", "kind", "person", "source", "frame", "time", "wall_time", "epoch", "state", "x1", "y1",
           "x2", "y2", "confidence", "previous_state", "frames_seen", "masked_share", "snapshot", "duration_s", "zones",
           "clip")
ADDED_IN = {"duration_s": 2, "zones": 4, "clip": 5}  # the schema version that added a column (older stores read NULL)


def not_a_store(path: Path, why: str) -> EventStoreError:
    return EventStoreError(f"{path}: not a maskwatch event store ({why})")


def connect(path: Path, *, readonly: bool, create: bool, verify: bool) -> tuple[sqlite3.Connection, int]:
    """Open the file, refusing anything that is not an event store before writing a byte to it: the
    connection (rows by column name) and the schema version it is at (a read-only opening migrates nothing)."""
    if path.is_dir():
        raise not_a_store(path, "a folder")
    if not path.exists():
        if not create:
            raise EventStoreError(f"{path}: no such event store")
        path.parent.mkdir(parents=True, exist_ok=True)
        with suppress(FileExistsError):  # another process made it first: theirs is as good
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))  # SQLite keeps the mode
    with path.open("rb") as file:
        header = file.read(len(SQLITE_MAGIC))
    if header and header != SQLITE_MAGIC:
        raise not_a_store(path, "not an SQLite database")
    if not header and readonly:
        raise not_a_store(path, "empty file")
    mode = "ro&immutable=1" if readonly and _immutable(path) else "ro" if readonly else "rw"
    try:
        db = sqlite3.connect(f"{path.absolute().as_uri()}?mode={mode}", uri=True, timeout=30,
                             isolation_level=None, check_same_thread=False)
    except sqlite3.DatabaseError as error:
        raise EventStoreError(f"{path}: cannot open the event store ({reason(error)})") from error
    try:
        version = _check(db, path, readonly, verify)
    except BaseException:
        db.close()
        raise
    db.row_factory = sqlite3.Row
    return db, version


def _immutable(path: Path) -> bool:
    """Whether to read the file as it is, without SQLite's -wal and -shm files: a WAL database is read
    through them, and in a folder we cannot write SQLite cannot create them (SQLITE_READONLY_DIRECTORY).
    Without a -wal no one is writing and everything is in the file; a -wal without its -shm holds events
    that cannot be read here, which is said rather than leaving them out."""
    if os.access(path.parent, os.W_OK):
        return False
    wal, shm = Path(f"{path}-wal"), Path(f"{path}-shm")
    if wal.exists() and shm.exists():  # a writer's, or a crash's: SQLite reads them even read-only
        return False
    if wal.exists() and wal.stat().st_size > 0:
        raise EventStoreError(f"{path}: {wal.name} holds events not yet in the file, and in this read-only "
                              f"folder they cannot be read without {shm.name}: copy the store with {wal.name} "
                              "to a folder you can write")
    return True


def _check(db: sqlite3.Connection, path: Path, readonly: bool, verify: bool) -> int:
    """Refuse another application's database, a newer schema or (unless `verify` is off) a damaged file;
    create or migrate the schema for writing. The schema version the connection reads."""
    try:
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = [name for name, in db.execute("SELECT name FROM sqlite_schema WHERE type = 'table' "
                                               "AND name NOT LIKE 'sqlite%'")]
        fresh = app_id == 0 and not tables
        if app_id != APP_ID and not fresh:
            listed = f", tables: {', '.join(tables[:5])}" if tables else ""
            raise not_a_store(path, f"an SQLite database of another application{listed}")
        if version > SCHEMA_VERSION:
            raise not_a_store(path, f"schema version {version} of a newer maskwatch; this one reads {SCHEMA_VERSION}")
        if readonly:
            if fresh:
                raise not_a_store(path, "an empty SQLite database")
            return version
        if not fresh and verify:
            problem = db.execute("PRAGMA quick_check(1)").fetchone()[0]
            if problem != "ok":  # never append to a damaged file
                raise not_a_store(path, f"corrupt: {' '.join(problem.replace('*** in database main ***', '').split())}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")
        if fresh:
            script(db, f"{SCHEMA} PRAGMA application_id = {APP_ID}; PRAGMA user_version = {SCHEMA_VERSION};")
        if version < SCHEMA_VERSION and not fresh:
            with transaction(db):  # read again inside: another process may have just migrated it
                for step in range(db.execute("PRAGMA user_version").fetchone()[0], SCHEMA_VERSION):
                    for statement in MIGRATIONS[step]:
                        db.execute(statement)
                    db.execute(f"PRAGMA user_version = {step + 1}")
        return SCHEMA_VERSION
    except sqlite3.DatabaseError as error:
        raise not_a_store(path, reason(error)) from error
