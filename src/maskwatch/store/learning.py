"""What a site teaches its model (schema 7): corrections of the model's verdicts, by whom and when, beside
the verdict the event holds; and, where the site opts in (`[learning]`), the unblurred face crop of each
event in `EVENTS.learning/` beside the store (0700, files 0600), deleted with its event, after the
learning retention, or all of them when learning is switched off."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from maskwatch.core.classes import JUDGED, NOT_A_FACE, UNKNOWN
from maskwatch.store.db import now, transaction

CORRECTIONS = (*JUDGED, NOT_A_FACE)  # what a face can be corrected to: a state, or no judgeable face


def corrected_state(correction: str) -> str:
    """The state a correction gives its event: the one named, or unknown for no judgeable face."""
    return UNKNOWN if correction == NOT_A_FACE else correction


def learning_folder(store: Path) -> Path:
    """Where the face crops kept for learning go (`X/EVENTS.db` -> `X/EVENTS.learning/`)."""
    return store.with_suffix(".learning")


def correct(db: sqlite3.Connection, event_id: int, state: str | None, corrector: str | None,
            person: bool = False) -> list[int]:
    """Correct an event's verdict to `state` (None takes a correction back), or with `person` every event of
    its person (their run, camera and id): the ids corrected. KeyError if there is no such event."""
    with transaction(db):
        row = db.execute("SELECT run, source, person FROM events WHERE id = ?", (int(event_id),)).fetchone()
        if row is None:
            raise KeyError(event_id)
        ids = [r["id"] for r in db.execute("SELECT id FROM events WHERE run = ? AND source = ? AND person = ? "
                                           "ORDER BY id", (row["run"], row["source"], row["person"]))] \
            if person else [int(event_id)]
        if state is None:
            db.executemany("DELETE FROM corrections WHERE event = ?", [(i,) for i in ids])
        else:
            when = now()
            db.executemany("INSERT OR REPLACE INTO corrections (event, state, corrected, corrector) "
                           "VALUES (?, ?, ?, ?)", [(i, state, when, corrector) for i in ids])
        return ids


def corrections(db: sqlite3.Connection, ids: Sequence[int]) -> dict[int, dict]:
    """{id: {"state": corrected to, "corrected": ISO time, "corrector": name or None}} of these events."""
    rows = db.execute(f"SELECT event, state, corrected, corrector FROM corrections WHERE event IN "
                      f"({', '.join('?' * len(ids))})", list(ids)).fetchall()
    return {row["event"]: {"state": row["state"], "corrected": row["corrected"], "corrector": row["corrector"]}
            for row in rows}


def crops(db: sqlite3.Connection, ids: Sequence[int]) -> dict[int, str]:
    """{id: stored file} of the face kept for each of these events (its own, the first)."""
    rows = db.execute(f"SELECT event, file, MIN(rowid) FROM crops WHERE event IN ({', '.join('?' * len(ids))}) "
                      "GROUP BY event", list(ids))
    return {row["event"]: row["file"] for row in rows}


def correction_counts(db: sqlite3.Connection) -> list[dict]:
    """How many verdicts were corrected, per camera, from the model's verdict to the correction."""
    return [dict(row) for row in db.execute(
        "SELECT e.source AS camera, e.state AS model, c.state AS corrected, COUNT(*) AS events FROM corrections c "
        "JOIN events e ON e.id = c.event GROUP BY e.source, e.state, c.state ORDER BY e.source, e.state, c.state")]


def add_crops(db: sqlite3.Connection, event_id: int, files: Sequence[str], epoch: float) -> None:
    """The faces kept for an event: its own first, then those sampled since the person's previous event."""
    db.executemany("INSERT INTO crops (event, file, epoch) VALUES (?, ?, ?)", [(event_id, f, epoch) for f in files])


def forget_crops(db: sqlite3.Connection, before: float | None) -> list[str]:
    """Drop the crops recorded before epoch `before` (all of them for None): the files no kept crop uses."""
    with transaction(db):
        where, params = ("", []) if before is None else (" WHERE epoch < ?", [before])
        old = [row["file"] for row in db.execute(f"SELECT DISTINCT file FROM crops{where}", params)]
        db.execute(f"DELETE FROM crops{where}", params)
        return [f for f in old if db.execute("SELECT 1 FROM crops WHERE file = ?", (f,)).fetchone() is None]


def faces(db: sqlite3.Connection, confirmed: bool) -> list[sqlite3.Row]:
    """Events' kept crops: with a label where corrected (the correction) and, with `confirmed`, where reviewed
    without a correction (the model's verdict, when it judged one); the others with none. Their run, camera
    and person too."""
    confirmed = "e.state != 'unknown' AND r.event IS NOT NULL" if confirmed else "0"
    return db.execute("SELECT e.id, e.run, e.source, e.person, e.state AS model, k.file, "
                      f"COALESCE(c.state, CASE WHEN {confirmed} THEN e.state END) AS label "
                      "FROM events e JOIN crops k ON k.event = e.id LEFT JOIN corrections c ON c.event = e.id "
                      "LEFT JOIN reviews r ON r.event = e.id ORDER BY e.id").fetchall()
