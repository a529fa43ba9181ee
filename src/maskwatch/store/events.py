"""`EventStore`: one connection to the file, shared by the thread that writes events, composing the parts
of the store (schema, rows, runs, snapshots, outbox, reviews, queries, retention)."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Self

import maskwatch.store.learning as learn
import maskwatch.store.outbox as outbox
import maskwatch.store.queries as queries
import maskwatch.store.reviews as reviews
import maskwatch.store.runs as runs
from maskwatch.core.events import Event
from maskwatch.store.db import EventStoreError, epoch, reason, transaction
from maskwatch.store.learning import corrected_state
from maskwatch.store.retention import Deleted, delete_rows, delete_strays, unlink_media, used_names
from maskwatch.store.rows import Row, insert, row_of, select, to_event
from maskwatch.store.schema import ADDED_IN, LEARNING_SINCE, REVIEWS_SINCE, connect
from maskwatch.store.snapshots import (
    SnapshotNotWritten,
    SnapshotWriter,
    clip_folder,
    snapshot_folder,
    stored_file,
    stored_path,
)

log = logging.getLogger(__name__)


class EventStore:
    """An SQLite file of events. `EventStore(path)` creates it if needed and writes under a new run number;
    `EventStore.open_existing(path)` reads one that must already be there."""

    def __init__(self, path: str | Path, snapshots: bool = True, blur_snapshots: bool = False, *,
                 readonly: bool = False, create: bool = True, verify: bool = True, learning: bool = False) -> None:
        """`verify=False` leaves out SQLite's integrity check (it reads the whole file), for a process whose
        parent has just checked the same store: `watch`'s camera workers. `learning`: keep each event's face
        unblurred in STORE.learning/ too, for `train --from-store`."""
        self.path = Path(path)
        self.verify = verify
        self.snapshots, self.blur_snapshots, self.readonly = snapshots, blur_snapshots, readonly
        self.folder = self.path.parent  # stored snapshot paths are relative to it
        self.snapshot_dir = snapshot_folder(self.path)
        self.clip_dir = clip_folder(self.path)
        self._run: int | None = None
        self._writer = SnapshotWriter(self.snapshot_dir, blur_snapshots)
        self.learning_dir = learn.learning_folder(self.path)
        self._crops = SnapshotWriter(self.learning_dir, blurred=False) if learning else None
        self._lock = threading.RLock()  # one connection, usable from the thread that writes events
        self._db, self._version = connect(self.path, readonly=readonly, create=create and not readonly, verify=verify)

    @classmethod
    def open_existing(cls, path: str | Path, readonly: bool = True) -> EventStore:
        """An event store that must exist (readonly=False to delete from it)."""
        return cls(path, snapshots=False, readonly=readonly, create=False)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self, finished: bool = True) -> None:
        """Close the file; a run that wrote is marked closed: whoever it saw in view has had their person_left
        (a run left open by a writer that died, or not `finished` because events of it were lost, is what
        `close_abandoned` finishes)."""
        with self._lock:
            if self._run is not None and finished:
                with suppress(sqlite3.Error):  # already closed, or the file failed: the run stays open
                    runs.close(self._db, self._run)
            self._db.close()

    @contextmanager
    def _guard(self) -> Iterator[sqlite3.Connection]:
        """The connection, one thread at a time; damage found later is a one-line error too."""
        with self._lock:
            try:
                yield self._db
            except sqlite3.DatabaseError as error:
                raise EventStoreError(f"{self.path}: cannot use the event store ({reason(error)})") from error

    @property
    def run(self) -> int:
        """This opening's run number, given on first use: runs over the same video keep their persons apart."""
        if self._run is None:
            with self._guard() as db:
                self._run = runs.start(db)
        return self._run

    def add(self, event: Event) -> Event:
        """Write the snapshot, then the row, and commit: the event with its `id` and `snapshot` set. A snapshot
        that cannot be written (a full disk) is logged, and the event recorded without it; if the row cannot
        be written, a snapshot written for it goes too: no face is kept without its row."""
        with self._lock:
            run = self.run
            snapshot, written = self._picture(self._writer if self.snapshots else None, event, run, "snapshot")
            crops, new_crops = self._learning_faces(event, run)
            row = row_of(event, run, snapshot)
            try:
                with self._guard() as db, transaction(db):
                    event_id = insert(db, row)
                    learn.add_crops(db, event_id, crops, row["epoch"])
            except BaseException:
                # new files, which no committed row uses (a reused one belongs to an earlier row)
                if written:
                    self._writer.discard(event, snapshot)
                for crop in new_crops:
                    self._crops.discard(event, crop)
                raise
        return replace(event, id=event_id, snapshot=stored_path(self.snapshot_dir, snapshot))

    def _learning_faces(self, event: Event, run: int) -> tuple[list[str], list[str]]:
        """With learning: the stored paths of the event's face and of the faces sampled before it, and which
        of them are new files. A full disk keeps what it can and says so once."""
        own, new = self._picture(self._crops, event, run, "face kept for learning")
        if own is None:
            return [], []
        crops, written = [own], [own] if new else []
        try:
            for index, sample in enumerate(event.face_samples):
                crops.append(self._crops.write(sample, f"run{run}-p{event.person}-f{event.frame}-s{index}"))
                written.append(crops[-1])
        except SnapshotNotWritten as error:
            log.error("%s; %d face(s) sampled for learning are not kept", error, len(event.face_samples))
        return crops, written

    @staticmethod
    def _picture(writer: SnapshotWriter | None, event: Event, run: int, what: str) -> tuple[str | None, bool]:
        """The stored path of the event's face as `writer` keeps it, and whether it is a new file; none when
        it keeps none or cannot write (a full disk: the event matters more than its picture)."""
        if writer is None or event.face_image is None:
            return None, False
        try:
            return writer.for_event(event, run)
        except SnapshotNotWritten as error:
            log.error("%s; the %s event of person %d of %s is recorded without its %s", error, event.kind,
                      event.person, event.source, what)
            return None, False

    def close_abandoned(self, source: str) -> list[Event]:
        """person_left for the persons of `source` left in view by runs whose writer died without closing
        (kill -9, a crash, a power cut), dated at each one's last event; the events recorded. A run is marked
        closed once no one of it is left open. Runs whose writer still runs are left alone: an orphaned
        worker of a killed `watch` may be recording its own person_left. Only open runs are looked at, each
        through the index on (run, source), so this stays cheap on a store of a year."""
        with self._guard() as db:
            dead = runs.abandoned(db, self._run)
        recorded = []
        for run in dead:
            with self._guard() as db:
                recorded += [self._event(row) for row in runs.leave_all(db, run, source)]
        return recorded

    def forget_clip(self, path: Path) -> int:
        """The clip at `path` could not be written after all: its events name none (how many did)."""
        with self._guard() as db, transaction(db):
            return db.execute("UPDATE events SET clip = NULL WHERE clip = ?",
                              (f"{self.clip_dir.name}/{path.name}",)).rowcount

    def clip_file(self, clip: str) -> Path:
        """A stored clip's file: by its name, in this store's own clip folder (as for snapshots)."""
        return stored_file(self.clip_dir, clip)

    def _event(self, row: Row) -> Event:
        return to_event(row, self.snapshot_dir, self.clip_dir)

    def _select(self, where: str, params: Sequence[object], tail: str = "ORDER BY id") -> list[tuple[int, Event]]:
        with self._guard() as db:
            rows = select(db, self._version, where, params, tail)
        return [(row["run"], self._event(row)) for row in rows]

    def events_with_run(self, kind: str | Sequence[str] | None = None, source: str | None = None,
                        since: datetime | None = None, until: datetime | None = None) -> list[tuple[int, Event]]:
        """(run, event) pairs that pass the filters, in id order; since <= wall_time < until; `source` a
        source equal to it, or whose file name it is when it is a bare file name."""
        return self._select(*queries.filters(kind, source, since, until))

    def search(self, kind: str | Sequence[str] | None = None, source: str | None = None,
               since: datetime | None = None, until: datetime | None = None, zone: str | None = None,
               state: str | None = None, reviewed: bool | None = None, limit: int = 50,
               offset: int = 0, unjudged: bool = True) -> tuple[int, list[tuple[int, Event]]]:
        """For review: how many events pass the filters (those of `events_with_run`, and a zone the event
        names, its state, whether it was reviewed, whether visits never judged count), and a page of them,
        newest first."""
        where, params = queries.review_filters(kind, source, since, until, zone, state, reviewed, self._version,
                                               unjudged)
        with self._guard() as db:
            total = queries.count(db, where, params)
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
            return reviews.reviews(db, ids)

    def review(self, event_id: int, reviewer: str | None, reviewed: bool = True) -> dict | None:
        """Mark an event reviewed (now, by `reviewer`), or not; the review, None when unmarked. KeyError if
        there is no such event."""
        with self._guard() as db:
            return reviews.review(db, event_id, reviewer, reviewed)

    def correct(self, event_id: int, state: str | None, corrector: str | None, person: bool = False) -> list[int]:
        """Correct an event's verdict to `state` (one of learn.CORRECTIONS; None takes it back), or with
        `person` that of every event of its person: the ids corrected. KeyError if there is no such event."""
        if state is not None and state not in learn.CORRECTIONS:
            raise ValueError(f"a correction is one of {', '.join(learn.CORRECTIONS)}, not {state!r}")
        with self._guard() as db:
            return learn.correct(db, event_id, state, corrector, person)

    def corrections(self, ids: Sequence[int]) -> dict[int, dict]:
        """The corrections of these events: {id: {"state", "corrected" (ISO time), "corrector"}}."""
        if not ids or self._version < LEARNING_SINCE:
            return {}
        with self._guard() as db:
            return learn.corrections(db, ids)

    def kept_faces(self, ids: Sequence[int]) -> dict[int, Path]:
        """{id: file} of the faces kept for learning of these events."""
        if not ids or self._version < LEARNING_SINCE:
            return {}
        with self._guard() as db:
            return {i: stored_file(self.learning_dir, f) for i, f in learn.crops(db, ids).items()}

    def correction_counts(self) -> list[dict]:
        """Per camera, how many verdicts were corrected from what to what."""
        if self._version < LEARNING_SINCE:
            return []
        with self._guard() as db:
            return learn.correction_counts(db)

    def learning_faces(self, confirmed: bool = False) -> list[dict]:
        """The kept face crops, each with a label to learn where corrected and, with `confirmed`, where reviewed
        without a correction (None elsewhere). Each: id, run, source, person, model (its verdict), label,
        file (the crop)."""
        if self._version < LEARNING_SINCE:
            return []
        with self._guard() as db:
            rows = learn.faces(db, confirmed)
        return [{**dict(row), "file": stored_file(self.learning_dir, row["file"])} for row in rows]

    def forget_crops(self, before: datetime | None = None) -> int:
        """Learning's retention: drop the crops kept before `before` (all, for None, when learning is off),
        with their files and any stray file in the folder; how many files went."""
        if self._version < LEARNING_SINCE:
            return 0
        with self._guard() as db:
            unused = learn.forget_crops(db, None if before is None else epoch(before))
        gone = sum(unlink_media(stored_file(self.learning_dir, file)) for file in unused)
        if before is None and self.learning_dir.is_dir():
            gone += delete_strays(self.learning_dir, "*.jpg", set(), float("inf"))
        return gone

    def latest(self, limit: int, source: str | None = None) -> list[tuple[int, Event]]:
        """The newest `limit` events, newest first (of one source if given, matched as `events_with_run` does)."""
        where, params = queries.source_where(source)
        return self._select(where, [*params, int(limit)], "ORDER BY id DESC LIMIT ?")

    def sources(self, matching: str | None = None) -> list[str]:
        """The sources of the stored events, sorted (those `matching` matches, as `events_with_run` does)."""
        with self._guard() as db:
            return queries.sources(db, matching)

    def cursor(self, target: str) -> int:
        """The id of the last event `target` acknowledged (a new target starts after the newest event)."""
        with self._guard() as db:
            return outbox.cursor(db, target)

    def rename_cursor(self, former: str, target: str) -> None:
        """The cursor of `former` goes on as `target` (a target renamed keeps its place in the outbox)."""
        with self._guard() as db:
            outbox.rename(db, former, target)

    def pending(self, target: str, source: str | None = None, limit: int = 100) -> list[tuple[int, Event]]:
        """Events after `target`'s cursor (of one source if given), oldest first."""
        where, params = outbox.after(self.cursor(target), source)
        return self._select(where, [*params, int(limit)], "ORDER BY id LIMIT ?")

    def acknowledge(self, target: str, event_id: int) -> None:
        """`target` has the event `event_id` and all before it."""
        with self._guard() as db:
            outbox.acknowledge(db, target, event_id)

    def backlog(self, target: str, source: str | None = None) -> int:
        """How many events wait for `target`."""
        where, params = outbox.after(self.cursor(target), source)
        with self._guard() as db:
            return queries.count(db, where, params)

    def events(self, kind: str | Sequence[str] | None = None, source: str | None = None,
               since: datetime | None = None, until: datetime | None = None) -> list[Event]:
        """Events that pass the filters, in id order; since <= wall_time < until."""
        return [event for _, event in self.events_with_run(kind, source, since, until)]

    def summary(self, kind: str | Sequence[str] | None = None, source: str | None = None,
                since: datetime | None = None, until: datetime | None = None) -> dict:
        """People per hour, counted in the hour of their first event; a person is (run, source, person).
        Each hour and the total have `classes.people_counts`: people by the state of their last event (their
        state when last seen), how many were ever non-compliant, and compliant_at_last_sighting. A corrected
        verdict counts as corrected (no judgeable face as unknown); `corrected` says how many were."""
        return self.summarise(self.events_with_run(kind, source, since, until))

    def summarise(self, found: Sequence[tuple[int, Event]]) -> dict:
        """`summary` of (run, event) pairs already read."""
        fixed = self.corrections([event.id for _, event in found])
        found = [(run, event if event.id not in fixed else
                  replace(event, state=corrected_state(fixed[event.id]["state"]), previous_state=None))
                 for run, event in found]
        return {**queries.summarise(found), "corrected": len(fixed)}

    def delete_older_than(self, cutoff: datetime) -> Deleted:
        """Retention: delete events before `cutoff`, the snapshots and clips no kept event uses, and the
        snapshot and clip files older than `cutoff` that no event uses (strays of a crash between a file and
        its row)."""
        deleted = self._delete("epoch < ?", [epoch(cutoff)])
        return deleted._replace(snapshots=deleted.snapshots + self._delete_strays(epoch(cutoff)))

    def delete_unfinished(self, runs: Sequence[int], finished: Sequence[str]) -> Deleted:
        """The events that runs `runs` recorded for sources not in `finished` (a resumed run does them again)."""
        if not runs:
            return Deleted(0, 0)
        return self._delete(f"run IN ({', '.join('?' * len(runs))}) AND source NOT IN "
                            f"({', '.join('?' * len(finished))})", [*runs, *finished])

    def _delete(self, where: str, params: Sequence[object]) -> Deleted:
        """Delete events, then (after the commit) the snapshots no kept event uses and the clips of those deleted."""
        with self._guard() as db:
            unused = delete_rows(db, self._version, where, params)
        files = ([stored_file(self.snapshot_dir, s) for s in unused.snapshots]
                 + [self.clip_file(clip) for clip in unused.clips]
                 + [stored_file(self.learning_dir, crop) for crop in unused.crops])
        return Deleted(unused.events, sum(unlink_media(file) for file in files))

    def _delete_strays(self, before: float) -> int:
        """Delete the snapshot and clip files last written before epoch `before` that no event uses."""
        deleted = 0
        for folder, column, pattern in ((self.snapshot_dir, "snapshot", "*.jpg"), (self.clip_dir, "clip", "*.mp4")):
            if not folder.is_dir() or ADDED_IN.get(column, 0) > self._version:
                continue
            with self._guard() as db:
                used = used_names(db, column)
            deleted += delete_strays(folder, pattern, used, before)
        if self.learning_dir.is_dir() and self._version >= LEARNING_SINCE:
            with self._guard() as db:
                used = used_names(db, "file", "crops")
            deleted += delete_strays(self.learning_dir, "*.jpg", used, before)
        return deleted
