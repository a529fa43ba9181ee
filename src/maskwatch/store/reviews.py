"""Reviews: who marked an event reviewed, and when (schema 6; older stores have none)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from maskwatch.store.db import now, transaction


def reviews(db: sqlite3.Connection, ids: Sequence[int]) -> dict[int, dict]:
    """Which of these events were marked reviewed: {id: {"reviewed": ISO time, "reviewer": name or None}}."""
    rows = db.execute(f"SELECT event, reviewed, reviewer FROM reviews WHERE event IN ({', '.join('?' * len(ids))})",
                      list(ids)).fetchall()
    return {row["event"]: {"reviewed": row["reviewed"], "reviewer": row["reviewer"]} for row in rows}


def review(db: sqlite3.Connection, event_id: int, reviewer: str | None, reviewed: bool) -> dict | None:
    """Mark an event reviewed (now, by `reviewer`), or not; the review, None when unmarked. KeyError if
    there is no such event."""
    with transaction(db):
        if db.execute("SELECT 1 FROM events WHERE id = ?", (int(event_id),)).fetchone() is None:
            raise KeyError(event_id)
        if not reviewed:
            db.execute("DELETE FROM reviews WHERE event = ?", (int(event_id),))
            return None
        marked = {"reviewed": now(), "reviewer": reviewer}
        db.execute("INSERT OR REPLACE INTO reviews (event, reviewed, reviewer) VALUES (?, ?, ?)",
                   (int(event_id), marked["reviewed"], reviewer))
        return marked
