"""The outbox: each delivery target (an MQTT camera topic, a webhook) keeps the id of the last event it
acknowledged, so what was not acknowledged is sent again after an outage or a restart."""

from __future__ import annotations

import sqlite3

from maskwatch.store.db import now, transaction


def cursor(db: sqlite3.Connection, target: str) -> int:
    """The id of the last event `target` acknowledged; a new target starts after the newest event, so
    adding a webhook to a store with a year of events does not send that year."""
    row = db.execute("SELECT last_id FROM deliveries WHERE target = ?", (target,)).fetchone()
    if row is not None:
        return row["last_id"]
    with transaction(db):
        row = db.execute("SELECT last_id FROM deliveries WHERE target = ?", (target,)).fetchone()
        if row is not None:  # made meanwhile by another connection
            return row["last_id"]
        last = db.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
        db.execute("INSERT INTO deliveries (target, last_id, updated) VALUES (?, ?, ?)", (target, last, now()))
        return last


def rename(db: sqlite3.Connection, former: str, target: str) -> None:
    """The cursor named `former` goes on as `target` (unless `target` has one already): a target renamed
    keeps its place in the outbox."""
    with transaction(db):
        if db.execute("SELECT 1 FROM deliveries WHERE target = ?", (target,)).fetchone() is None:
            db.execute("UPDATE deliveries SET target = ? WHERE target = ?", (target, former))


def after(last_id: int, source: str | None) -> tuple[str, list[object]]:
    """A WHERE and its parameters for the events after `last_id` (of one source if given)."""
    clauses, params = ["id > ?"], [last_id]
    if source is not None:
        clauses.append("source = ?")
        params.append(source)
    return f" WHERE {' AND '.join(clauses)}", params


def acknowledge(db: sqlite3.Connection, target: str, event_id: int) -> None:
    """`target` has the event `event_id` and all before it."""
    db.execute("UPDATE deliveries SET last_id = MAX(last_id, ?), updated = ? WHERE target = ?",
               (int(event_id), now(), target))
