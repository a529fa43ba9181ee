"""Events kept in one SQLite file, each committed as it comes, so a crash, Ctrl-C or kill -9 loses none.

WAL journal with synchronous=FULL: a commit is on disk when `add()` returns, and readers (`maskwatch
events`) can read while a run writes. The same file is the outbox of `maskwatch watch`: each delivery target
(an MQTT camera topic, a webhook) keeps the id of the last event it acknowledged in `deliveries`, so what
was not acknowledged is sent again after an outage or a restart. Snapshots of faces go beside the file (`X/EVENTS.db` ->
`X/EVENTS.snapshots/`); faces are personal data, so the database is created 0600 and that folder 0700.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import NamedTuple, Self

import cv2
import numpy as np

from maskwatch.core.classes import Sightings, people_counts
from maskwatch.core.events import Event
from maskwatch.io.atomic import atomic_path

APP_ID = 0x4D534B57  # "MSKW": PRAGMA application_id of every maskwatch event store
SCHEMA_VERSION = 6  # PRAGMA user_version; 2 added alerts (duration_s) and the outbox (deliveries), 3 the
# writer of each run and whether it closed (runs left open by a dead writer get their person_left), 4 zones,
# 5 clips, 6 reviews (who marked an event reviewed, and when)
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
"""
MIGRATIONS = {  # statements from user_version N to N + 1
    1: ["ALTER TABLE events ADD COLUMN duration_s REAL",
        "CREATE TABLE deliveries (target TEXT PRIMARY KEY, last_id INTEGER NOT NULL, updated TEXT NOT NULL)"],
    2: ["ALTER TABLE runs ADD COLUMN writer_pid INTEGER", "ALTER TABLE runs ADD COLUMN writer_start TEXT",
        "ALTER TABLE runs ADD COLUMN closed TEXT", "CREATE INDEX events_run ON events (run, source)"],
    3: ["ALTER TABLE events ADD COLUMN zones TEXT"],
    4: ["ALTER TABLE events ADD COLUMN clip TEXT"],
    5: ["CREATE TABLE reviews (event INTEGER PRIMARY KEY, reviewed TEXT NOT NULL, reviewer TEXT)"],
}
REVIEWS_SINCE = 6
COLUMNS = ("id", "run", "kind", "person", "source", "frame", "time", "wall_time", "epoch", "state", "x1", "y1",
           "x2", "y2", "confidence", "previous_state", "frames_seen", "masked_share", "snapshot", "duration_s", "zones",
           "clip")
ADDED_IN = {"duration_s": 2, "zones": 4, "clip": 5}  # the schema version that added a column (older stores read NULL)
SNAPSHOT_BLOCKS = 8  # a blurred snapshot keeps this many blocks across: colours stay, no face does


class EventStoreError(Exception):
    """The file is missing, corrupt, not SQLite or another application's database: the user's to fix."""


def _blur(image: np.ndarray) -> np.ndarray:
    """Pixelate to a few blocks, then smooth the block edges away: nothing of the face is left to recognise."""
    h, w = image.shape[:2]
    scale = SNAPSHOT_BLOCKS / max(h, w)
    small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), (0, 0), max(h, w) / 16)


def _maybe(cast: type, value: object) -> object:
    """Numbers as Python's own: sqlite3 cannot store numpy's float32 or int64."""
    return None if value is None else cast(value)


def _epoch(when: datetime) -> float:
    return when.timestamp()  # naive datetimes count as local time


def _hour(wall_time: str) -> str:
    """The hour on the clock where the event was recorded (wall_time's own UTC offset)."""
    return datetime.fromisoformat(wall_time).strftime("%Y-%m-%d %H:00")


def summarise(events: Sequence[tuple[int, Event]]) -> dict:
    """`EventStore.summary` of (run, event) pairs already read, in id order."""
    first_hour: dict[tuple[int, str, int], str] = {}
    people: dict[tuple[int, str, int], Sightings] = {}
    for run, event in events:
        key = (run, event.source, event.person)
        first_hour.setdefault(key, _hour(event.wall_time))
        people.setdefault(key, Sightings()).saw(event.state, event.previous_state)
    hours: dict[str, list[Sightings]] = {}
    for key, hour in first_hour.items():
        hours.setdefault(hour, []).append(people[key])
    return {"events": len(events),
            "hours": [{"hour": hour, **people_counts(hours[hour])} for hour in sorted(hours)],
            "total": people_counts(people.values())}


class Deleted(NamedTuple):
    """What a deletion removed: event rows, and snapshot files really gone from the disk."""

    events: int
    snapshots: int


class EventStore:
    """An SQLite file of events. `EventStore(path)` creates it if needed and writes under a new run number;
    `EventStore.open_existing(path)` reads one that must already be there."""

    def __init__(self, path: str | Path, snapshots: bool = True, blur_snapshots: bool = False, *,
                 readonly: bool = False, create: bool = True, verify: bool = True) -> None:
        """`verify=False` leaves out SQLite's integrity check (it reads the whole file), for a process whose
        parent has just checked the same store: `watch`'s camera workers."""
        self.path = Path(path)
        self.verify = verify
        self.snapshots, self.blur_snapshots, self.readonly = snapshots, blur_snapshots, readonly
        self.folder = self.path.parent  # stored snapshot paths are relative to it
        self.snapshot_dir = self.path.with_suffix(".snapshots")
        self.clip_dir = self.path.with_suffix(".clips")  # written by the camera workers (video.clips)
        self._run: int | None = None
        self._faces: dict[tuple[str, int], tuple[weakref.ref, str]] = {}  # last snapshot per person
        self._lock = threading.RLock()  # one connection, usable from the thread that writes events
        self._version = SCHEMA_VERSION
        self._db = self._connect(create and not readonly)

    @classmethod
    def open_existing(cls, path: str | Path, readonly: bool = True) -> EventStore:
        """An event store that must exist (readonly=False to delete from it)."""
        return cls(path, snapshots=False, readonly=readonly, create=False)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file; a run that wrote is marked closed: whoever it saw in view has had their person_left
        (a run left open by a writer that died is what `close_abandoned` finishes)."""
        with self._lock:
            if self._run is not None:
                with suppress(sqlite3.Error):  # already closed, or the file failed: the run stays open
                    self._db.execute("UPDATE runs SET closed = ? WHERE run = ?", (_now(), self._run))
            self._db.close()

    def _fail(self, reason: str) -> EventStoreError:
        return EventStoreError(f"{self.path}: not a maskwatch event store ({reason})")

    def _connect(self, create: bool) -> sqlite3.Connection:
        """Open the file, refusing anything that is not an event store before writing a byte to it."""
        if self.path.is_dir():
            raise self._fail("a folder")
        if not self.path.exists():
            if not create:
                raise EventStoreError(f"{self.path}: no such event store")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with suppress(FileExistsError):  # another process made it first: theirs is as good
                os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))  # SQLite keeps the mode
        with self.path.open("rb") as file:
            header = file.read(len(SQLITE_MAGIC))
        if header and header != SQLITE_MAGIC:
            raise self._fail("not an SQLite database")
        if not header and self.readonly:
            raise self._fail("empty file")
        mode = "ro&immutable=1" if self.readonly and self._immutable() else "ro" if self.readonly else "rw"
        try:
            db = sqlite3.connect(f"{self.path.absolute().as_uri()}?mode={mode}", uri=True, timeout=30,
                                 isolation_level=None, check_same_thread=False)
        except sqlite3.DatabaseError as error:
            raise EventStoreError(f"{self.path}: cannot open the event store ({_reason(error)})") from error
        try:
            self._check(db)
        except BaseException:
            db.close()
            raise
        return db

    def _immutable(self) -> bool:
        """Whether to read the file as it is, without SQLite's -wal and -shm files: a WAL database is read
        through them, and in a folder we cannot write SQLite cannot create them (SQLITE_READONLY_DIRECTORY).
        Without a -wal no one is writing and everything is in the file; a -wal without its -shm holds events
        that cannot be read here, which is said rather than leaving them out."""
        if os.access(self.path.parent, os.W_OK):
            return False
        wal, shm = Path(f"{self.path}-wal"), Path(f"{self.path}-shm")
        if wal.exists() and shm.exists():  # a writer's, or a crash's: SQLite reads them even read-only
            return False
        if wal.exists() and wal.stat().st_size > 0:
            raise EventStoreError(f"{self.path}: {wal.name} holds events not yet in the file, and in this read-only "
                                  f"folder they cannot be read without {shm.name}: copy the store with {wal.name} "
                                  "to a folder you can write")
        return True

    def _check(self, db: sqlite3.Connection) -> None:
        try:
            app_id = db.execute("PRAGMA application_id").fetchone()[0]
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = [row[0] for row in db.execute("SELECT name FROM sqlite_schema WHERE type = 'table' "
                                                 "AND name NOT LIKE 'sqlite%'")]
            fresh = app_id == 0 and not tables
            if app_id != APP_ID and not fresh:
                listed = f", tables: {', '.join(tables[:5])}" if tables else ""
                raise self._fail(f"an SQLite database of another application{listed}")
            if version > SCHEMA_VERSION:
                raise self._fail(f"schema version {version} of a newer maskwatch; this one reads {SCHEMA_VERSION}")
            self._version = version
            if self.readonly:
                if fresh:
                    raise self._fail("an empty SQLite database")
                return
            if not fresh and self.verify:
                problem = db.execute("PRAGMA quick_check(1)").fetchone()[0]
                if problem != "ok":  # never append to a damaged file
                    raise self._fail(f"corrupt: {' '.join(problem.replace('*** in database main ***', '').split())}")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
            if fresh:  # one transaction in the script (executescript commits a pending one first)
                _script(db, f"{SCHEMA} PRAGMA application_id = {APP_ID}; PRAGMA user_version = {SCHEMA_VERSION};")
            if version < SCHEMA_VERSION and not fresh:
                with _transaction(db):  # read again inside: another process may have just migrated it
                    for step in range(db.execute("PRAGMA user_version").fetchone()[0], SCHEMA_VERSION):
                        for statement in MIGRATIONS[step]:
                            db.execute(statement)
                        db.execute(f"PRAGMA user_version = {step + 1}")
            self._version = SCHEMA_VERSION
        except sqlite3.DatabaseError as error:
            raise self._fail(_reason(error)) from error

    @contextmanager
    def _guard(self) -> Iterator[sqlite3.Connection]:
        """The connection, one thread at a time; damage found later is a one-line error too."""
        with self._lock:
            try:
                yield self._db
            except sqlite3.DatabaseError as error:
                raise EventStoreError(f"{self.path}: cannot use the event store ({_reason(error)})") from error

    @property
    def run(self) -> int:
        """This opening's run number, given on first use: runs over the same video keep their persons apart."""
        if self._run is None:
            with self._guard() as db:
                started = datetime.now().astimezone().isoformat(timespec="seconds")
                self._run = db.execute("INSERT INTO runs (started, writer_pid, writer_start) VALUES (?, ?, ?)",
                                       (started, os.getpid(), process_identity(os.getpid()))).lastrowid
        return self._run

    def add(self, event: Event) -> Event:
        """Write the snapshot, then the row, and commit: the event with its `id` and `snapshot` set. If the row
        cannot be written (a full disk), a snapshot written for it goes too: no face is kept without its row."""
        with self._lock:
            run = self.run
            snapshot, written = (self._snapshot(event, run) if self.snapshots and event.face_image is not None
                                 else (None, False))
            row = (run, event.kind, int(event.person), event.source, int(event.frame), float(event.time),
                   event.wall_time, _epoch(datetime.fromisoformat(event.wall_time)), event.state,
                   *map(float, event.box), _maybe(float, event.confidence), event.previous_state,
                   _maybe(int, event.frames_seen), _maybe(float, event.masked_share), snapshot,
                   _maybe(float, event.duration_s), None if event.zones is None else json.dumps(event.zones),
                   event.clip)
            try:
                with self._guard() as db:
                    event_id = _insert(db, row)
            except BaseException:
                if written:  # a new file, which no committed row uses (a reused one belongs to an earlier row)
                    self._faces.pop((event.source, event.person), None)
                    self._file(snapshot).unlink(missing_ok=True)
                raise
        return replace(event, id=event_id, snapshot=self._absolute(snapshot))

    def close_abandoned(self, source: str) -> list[Event]:
        """person_left for the persons of `source` left in view by runs whose writer died without closing
        (kill -9, a crash, a power cut), dated at each one's last event; the events recorded. A run is marked
        closed once no one of it is left open. Runs whose writer still runs are left alone: an orphaned
        worker of a killed `watch` may be recording its own person_left. Only open runs are looked at, each
        through the index on (run, source), so this stays cheap on a store of a year."""
        with self._guard() as db:
            runs = db.execute("SELECT run, writer_pid, writer_start FROM runs WHERE closed IS NULL "
                              "AND writer_pid IS NOT NULL").fetchall()
        recorded = []
        for run, pid, start in runs:
            if run == self._run or process_identity(pid) == start:
                continue
            with self._guard() as db, _transaction(db):  # inside: no one else closes the same persons meanwhile
                rows = db.execute(f"SELECT {', '.join(COLUMNS)} FROM events WHERE id IN (SELECT MAX(id) FROM events "
                                  "WHERE run = ? AND source = ? GROUP BY person "
                                  "HAVING SUM(kind = 'person_left') = 0) ORDER BY id", (run, source)).fetchall()
                for row in rows:  # the last event, as the person's leaving: no evidence, counts or share of its own
                    left = (row[1], "person_left", *row[3:14], None, None, None, None, row[18], None, row[20], None)
                    recorded.append(self._event((_insert(db, left), *left)))
                still_open = db.execute("SELECT 1 FROM events WHERE run = ? GROUP BY source, person "
                                        "HAVING SUM(kind = 'person_left') = 0 LIMIT 1", (run,)).fetchone()
                if still_open is None:
                    db.execute("UPDATE runs SET closed = ? WHERE run = ?", (_now(), run))
        return recorded

    def _absolute(self, snapshot: str | None) -> str | None:
        return None if snapshot is None else str(self._file(snapshot))

    def _file(self, snapshot: str) -> Path:
        """A stored snapshot's file: by its name, in this store's own snapshot folder. Stored paths are
        `EVENTS.snapshots/NAME.jpg` of the name the store had when it wrote them, and a store copied or
        renamed with its folder (`copy.db`, `copy.snapshots/`) must find, and delete, its own files."""
        return self.snapshot_dir / Path(snapshot.replace("\\", "/")).name

    def clip_file(self, clip: str) -> Path:
        """A stored clip's file: by its name, in this store's own clip folder (as `_file` for snapshots)."""
        return self.clip_dir / Path(clip.replace("\\", "/")).name

    def _snapshot(self, event: Event, run: int) -> tuple[str, bool]:
        """The stored path of the person's clearest face, and whether it is a new file: the last one written
        while the producer still holds the same array (it replaces it only with a clearer face), else a new one."""
        key = (event.source, event.person)
        last = self._faces.get(key)
        if last is not None and last[0]() is event.face_image and self._file(last[1]).exists():
            snapshot, written = last[1], False
        else:
            snapshot, written = self._write_snapshot(event.face_image, f"run{run}-p{event.person}-f{event.frame}"), True
            self._faces[key] = (weakref.ref(event.face_image), snapshot)
        if event.kind == "person_left":
            self._faces.pop(key, None)
        return snapshot, written

    def _write_snapshot(self, image: np.ndarray, stem: str) -> str:
        try:
            self.snapshot_dir.mkdir(mode=0o700)
            os.chmod(self.snapshot_dir, 0o700)  # whatever the umask
        except FileExistsError:
            pass
        name, n = f"{stem}.jpg", 2
        while (self.snapshot_dir / name).exists():  # persons and frames restart with each video of a run
            name, n = f"{stem}-{n}.jpg", n + 1
        image = _blur(image) if self.blur_snapshots else image
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image,
                                [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            raise EventStoreError(f"{self.snapshot_dir / name}: cannot encode the snapshot")
        try:
            with atomic_path(self.snapshot_dir / name) as tmp:
                os.chmod(tmp, 0o600)
                tmp.write_bytes(jpeg.tobytes())
        except OSError as error:
            raise EventStoreError(f"{self.snapshot_dir / name}: cannot write the snapshot ({error})") from error
        return f"{self.snapshot_dir.name}/{name}"

    def events_with_run(self, kind: str | Sequence[str] | None = None, source: str | None = None,
                        since: datetime | None = None, until: datetime | None = None) -> list[tuple[int, Event]]:
        """(run, event) pairs that pass the filters, in id order; since <= wall_time < until; `source` as
        `_source_clause` matches it."""
        where, params = _filters(kind, source, since, until)
        return self._select(where, params)

    def search(self, kind: str | Sequence[str] | None = None, source: str | None = None,
               since: datetime | None = None, until: datetime | None = None, zone: str | None = None,
               state: str | None = None, reviewed: bool | None = None, limit: int = 50,
               offset: int = 0) -> tuple[int, list[tuple[int, Event]]]:
        """For review: how many events pass the filters (those of `events_with_run`, and a zone the event
        names, its state, whether it was reviewed), and a page of them, newest first."""
        where, params = _filters(kind, source, since, until)
        more = []
        if zone is not None:  # zones is a JSON list of names: the name in quotes, LIKE's wildcards escaped
            more.append("zones LIKE ? ESCAPE '\\'")
            params.append("%" + json.dumps(zone).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        if state is not None:
            more.append("state = ?")
            params.append(state)
        if reviewed is not None and self._version >= REVIEWS_SINCE:
            more.append(f"id {'' if reviewed else 'NOT '}IN (SELECT event FROM reviews)")
        elif reviewed:
            more.append("0")
        if more:
            where = f"{where} AND {' AND '.join(more)}" if where else f" WHERE {' AND '.join(more)}"
        with self._guard() as db:
            total = db.execute(f"SELECT COUNT(*) FROM events{where}", params).fetchone()[0]
        return total, self._select(where, [*params, int(limit), int(offset)], "ORDER BY id DESC LIMIT ? OFFSET ?")

    def event(self, event_id: int) -> tuple[int, Event] | None:
        """(run, event) of one id."""
        found = self._select(" WHERE id = ?", [int(event_id)])
        return found[0] if found else None

    def timeline(self, run: int, source: str, person: int) -> list[tuple[int, Event]]:
        """Every event of one person of one run (ids are a run's and a source's), in order."""
        return self._select(" WHERE run = ? AND source = ? AND person = ?", [run, source, person])

    def reviews(self, ids: Sequence[int]) -> dict[int, dict]:
        """Which of these events were marked reviewed: {id: {"reviewed": ISO time, "reviewer": name or None}}."""
        if not ids or self._version < REVIEWS_SINCE:
            return {}
        with self._guard() as db:
            rows = db.execute(f"SELECT event, reviewed, reviewer FROM reviews WHERE event IN "
                              f"({', '.join('?' * len(ids))})", list(ids)).fetchall()
        return {row[0]: {"reviewed": row[1], "reviewer": row[2]} for row in rows}

    def review(self, event_id: int, reviewer: str | None, reviewed: bool = True) -> dict | None:
        """Mark an event reviewed (now, by `reviewer`), or not; the review, None when unmarked. KeyError if
        there is no such event."""
        with self._guard() as db, _transaction(db):
            if db.execute("SELECT 1 FROM events WHERE id = ?", (int(event_id),)).fetchone() is None:
                raise KeyError(event_id)
            if not reviewed:
                db.execute("DELETE FROM reviews WHERE event = ?", (int(event_id),))
                return None
            review = {"reviewed": _now(), "reviewer": reviewer}
            db.execute("INSERT OR REPLACE INTO reviews (event, reviewed, reviewer) VALUES (?, ?, ?)",
                       (int(event_id), review["reviewed"], reviewer))
            return review

    def _select(self, where: str, params: Sequence[object], tail: str = "ORDER BY id") -> list[tuple[int, Event]]:
        # an older store, opened read-only (so not migrated), lacks the columns added since
        columns = [c if ADDED_IN.get(c, 0) <= self._version else "NULL" for c in COLUMNS]
        with self._guard() as db:
            rows = db.execute(f"SELECT {', '.join(columns)} FROM events{where} {tail}", params).fetchall()
        return [(row[1], self._event(row)) for row in rows]

    def _event(self, row: Sequence) -> Event:
        """An event of a row of COLUMNS."""
        return Event(*row[2:8], row[9], tuple(row[10:14]), *row[14:18], duration_s=row[19],
                     zones=None if row[20] is None else json.loads(row[20]), snapshot=self._absolute(row[18]),
                     clip=None if row[21] is None else str(self.clip_file(row[21])), id=row[0])

    def latest(self, limit: int, source: str | None = None) -> list[tuple[int, Event]]:
        """The newest `limit` events, newest first (of one source if given, matched as `_source_clause` does)."""
        where, params = _source_where(source)
        return self._select(where, [*params, int(limit)], "ORDER BY id DESC LIMIT ?")

    def sources(self, matching: str | None = None) -> list[str]:
        """The sources of the stored events, sorted (those `matching` matches, as `_source_clause` says)."""
        where, params = _source_where(matching)
        with self._guard() as db:
            return [row[0] for row in db.execute(f"SELECT DISTINCT source FROM events{where} ORDER BY source", params)]

    # The outbox: what each delivery target has acknowledged.

    def cursor(self, target: str) -> int:
        """The id of the last event `target` acknowledged; a new target starts after the newest event, so
        adding a webhook to a store with a year of events does not send that year."""
        with self._guard() as db:
            row = db.execute("SELECT last_id FROM deliveries WHERE target = ?", (target,)).fetchone()
        if row is not None:
            return row[0]
        with self._guard() as db, _transaction(db):
            row = db.execute("SELECT last_id FROM deliveries WHERE target = ?", (target,)).fetchone()
            if row is not None:  # made meanwhile by another connection
                return row[0]
            last = db.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
            db.execute("INSERT INTO deliveries (target, last_id, updated) VALUES (?, ?, ?)", (target, last, _now()))
            return last

    def pending(self, target: str, source: str | None = None, limit: int = 100) -> list[tuple[int, Event]]:
        """Events after `target`'s cursor (of one source if given), oldest first."""
        clauses, params = ["id > ?"], [self.cursor(target)]
        if source is not None:
            clauses.append("source = ?")
            params.append(source)
        return self._select(f" WHERE {' AND '.join(clauses)}", [*params, int(limit)], "ORDER BY id LIMIT ?")

    def acknowledge(self, target: str, event_id: int) -> None:
        """`target` has the event `event_id` and all before it."""
        with self._guard() as db:
            db.execute("UPDATE deliveries SET last_id = MAX(last_id, ?), updated = ? WHERE target = ?",
                       (int(event_id), _now(), target))

    def backlog(self, target: str, source: str | None = None) -> int:
        """How many events wait for `target`."""
        cursor = self.cursor(target)
        with self._guard() as db:
            if source is None:
                return db.execute("SELECT COUNT(*) FROM events WHERE id > ?", (cursor,)).fetchone()[0]
            return db.execute("SELECT COUNT(*) FROM events WHERE id > ? AND source = ?",
                              (cursor, source)).fetchone()[0]

    def events(self, kind: str | Sequence[str] | None = None, source: str | None = None,
               since: datetime | None = None, until: datetime | None = None) -> list[Event]:
        """Events that pass the filters, in id order; since <= wall_time < until."""
        return [event for _, event in self.events_with_run(kind, source, since, until)]

    def summary(self, kind: str | Sequence[str] | None = None, source: str | None = None,
                since: datetime | None = None, until: datetime | None = None) -> dict:
        """People per hour, counted in the hour of their first event; a person is (run, source, person).
        Each hour and the total have `classes.people_counts`: people by the state of their last event (their
        state when last seen), how many were ever non-compliant, and compliant_at_last_sighting."""
        return summarise(self.events_with_run(kind, source, since, until))

    def delete_older_than(self, cutoff: datetime) -> Deleted:
        """Retention: delete events before `cutoff`, the snapshots and clips no kept event uses, and the
        snapshot and clip files older than `cutoff` that no event uses (strays of a crash between a file and
        its row)."""
        deleted = self._delete("epoch < ?", [_epoch(cutoff)])
        return deleted._replace(snapshots=deleted.snapshots + self._delete_strays(_epoch(cutoff)))

    def delete_unfinished(self, runs: Sequence[int], finished: Sequence[str]) -> Deleted:
        """The events that runs `runs` recorded for sources not in `finished` (a resumed run does them again)."""
        if not runs:
            return Deleted(0, 0)
        return self._delete(f"run IN ({', '.join('?' * len(runs))}) AND source NOT IN "
                            f"({', '.join('?' * len(finished))})", [*runs, *finished])

    def _delete(self, where: str, params: Sequence[object]) -> Deleted:
        """Delete events, then the snapshots no kept event uses."""
        with self._guard() as db, _transaction(db):
            old = [row[0] for row in db.execute(f"SELECT DISTINCT snapshot FROM events WHERE {where} "
                                                "AND snapshot IS NOT NULL", params)]
            clips = [row[0] for row in db.execute(f"SELECT clip FROM events WHERE {where} AND clip IS NOT NULL",
                                                  params)] if self._version >= ADDED_IN["clip"] else []
            deleted = db.execute(f"DELETE FROM events WHERE {where}", params).rowcount
            if self._version >= REVIEWS_SINCE:
                db.execute("DELETE FROM reviews WHERE event NOT IN (SELECT id FROM events)")
            unused = [s for s in old if db.execute("SELECT 1 FROM events WHERE snapshot = ?", (s,)).fetchone() is None]
        # after the commit: a crash leaves a stray file (which retention deletes later), never a row without its file
        files = [self._file(snapshot) for snapshot in unused] + [self.clip_file(clip) for clip in clips]
        return Deleted(deleted, sum(_unlink_snapshot(file) for file in files))

    def _delete_strays(self, before: float) -> int:
        """Delete the snapshot and clip files last written before epoch `before` that no event uses."""
        deleted = 0
        for folder, column, pattern in ((self.snapshot_dir, "snapshot", "*.jpg"), (self.clip_dir, "clip", "*.mp4")):
            if not folder.is_dir() or ADDED_IN.get(column, 0) > self._version:
                continue
            with self._guard() as db:
                used = {Path(row[0].replace("\\", "/")).name for row in
                        db.execute(f"SELECT DISTINCT {column} FROM events WHERE {column} IS NOT NULL")}
            for file in folder.glob(pattern):  # a new file is recent: no race with a writer's next row
                with suppress(FileNotFoundError):
                    if file.name not in used and file.lstat().st_mtime < before:
                        deleted += _unlink_snapshot(file)
        return deleted


def _unlink_snapshot(file: Path) -> bool:
    """Delete a snapshot or clip (a JPEG or MP4 file, never what a damaged path names); whether a file went."""
    try:
        if file.suffix not in (".jpg", ".mp4") or not stat.S_ISREG(file.lstat().st_mode):
            return False
        file.unlink()
    except FileNotFoundError:
        return False
    return True


def _insert(db: sqlite3.Connection, row: Sequence) -> int:
    """Insert an event's row (COLUMNS but the id); its id."""
    return db.execute(f"INSERT INTO events ({', '.join(COLUMNS[1:])}) VALUES ({', '.join('?' * len(row))})",
                      row).lastrowid


def process_identity(pid: int) -> str | None:
    """Who process `pid` is while it runs: this boot's id and its start time (from /proc), so that a pid used
    again by another process, or after a reboot, is not taken for the writer; None if it is not running."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None
    state, *fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces and ")"
    return None if state in ("Z", "X") else f"{boot}/{fields[18]}"  # field 22 of proc(5): starttime


def _reason(error: sqlite3.Error) -> str:
    """SQLite's message with its extended error name, which tells one I/O error from another."""
    name = getattr(error, "sqlite_errorname", None)
    return f"{error}, {name}" if name else str(error)


def _source_clause(wanted: str) -> tuple[str, list[str | int]]:
    """An SQL condition and its parameters for the events of `wanted`: a source equal to it or, when it is a
    bare file name, a source whose file name it is (`detect /data/clip.mp4` is found as clip.mp4)."""
    if "/" in wanted or "\\" in wanted:
        return "source = ?", [wanted]
    return "(source = ? OR substr(source, ?) IN (?, ?))", [wanted, -len(wanted) - 1, f"/{wanted}", f"\\{wanted}"]


def _filters(kind: str | Sequence[str] | None, source: str | None, since: datetime | None,
             until: datetime | None) -> tuple[str, list[object]]:
    """A WHERE (or nothing) and its parameters for events of these kinds, of this source (as `_source_clause`
    matches it), with since <= wall_time < until."""
    clauses: list[str] = []
    params: list[object] = []
    if kind is not None:
        kinds = [kind] if isinstance(kind, str) else list(kind)
        clauses.append(f"kind IN ({', '.join('?' * len(kinds))})")
        params += kinds
    if source is not None:
        clause, values = _source_clause(source)
        clauses.append(clause)
        params += values
    if since is not None:
        clauses.append("epoch >= ?")
        params.append(_epoch(since))
    if until is not None:
        clauses.append("epoch < ?")
        params.append(_epoch(until))
    return (f" WHERE {' AND '.join(clauses)}" if clauses else ""), params


def _source_where(wanted: str | None) -> tuple[str, list[str | int]]:
    """A WHERE of `_source_clause`, or nothing for all sources."""
    if wanted is None:
        return "", []
    clause, params = _source_clause(wanted)
    return f" WHERE {clause}", params


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


def _script(db: sqlite3.Connection, script: str) -> None:
    """Run `script` as one transaction (executescript commits a pending one first)."""
    try:
        db.executescript(f"BEGIN IMMEDIATE; {script} COMMIT;")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT (the connection autocommits otherwise), rolled back on any error."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
