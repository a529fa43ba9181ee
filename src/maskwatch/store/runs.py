"""Runs: each opening that writes is one, with its writer's identity, so that the persons a dead writer left
in view can be given their person_left by the next one."""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from maskwatch.store.db import now, transaction
from maskwatch.store.rows import insert, select
from maskwatch.store.schema import COLUMNS, SCHEMA_VERSION

NOT_CARRIED = ("confidence", "previous_state", "frames_seen", "masked_share", "duration_s", "clip")  # by person_left


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


def start(db: sqlite3.Connection) -> int:
    """A new run of this process: its number."""
    started = datetime.now().astimezone().isoformat(timespec="seconds")
    return db.execute("INSERT INTO runs (started, writer_pid, writer_start) VALUES (?, ?, ?)",
                      (started, os.getpid(), process_identity(os.getpid()))).lastrowid


def close(db: sqlite3.Connection, run: int) -> None:
    db.execute("UPDATE runs SET closed = ? WHERE run = ?", (now(), run))


def abandoned(db: sqlite3.Connection, own: int | None) -> list[int]:
    """The open runs whose writer died (not `own`, nor any whose writer still runs)."""
    rows = db.execute("SELECT run, writer_pid, writer_start FROM runs WHERE closed IS NULL "
                      "AND writer_pid IS NOT NULL").fetchall()
    return [row["run"] for row in rows
            if row["run"] != own and process_identity(row["writer_pid"]) != row["writer_start"]]


def leave_all(db: sqlite3.Connection, run: int, source: str) -> list[dict[str, Any]]:
    """Record person_left for each person of `source` that `run` left in view, as a copy of their last event
    (no evidence, counts or share of its own); the rows written. The run is closed once no one of it is left
    open. One transaction: no one else closes the same persons meanwhile."""
    left = []
    with transaction(db):
        last_events = select(db, SCHEMA_VERSION, " WHERE id IN (SELECT MAX(id) FROM events WHERE run = ? AND "
                             "source = ? GROUP BY person HAVING SUM(kind = 'person_left') = 0)", (run, source))
        for last in last_events:
            row = {**{c: last[c] for c in COLUMNS[1:]}, "kind": "person_left", **dict.fromkeys(NOT_CARRIED)}
            left.append({**row, "id": insert(db, row)})
        still_open = db.execute("SELECT 1 FROM events WHERE run = ? GROUP BY source, person "
                                "HAVING SUM(kind = 'person_left') = 0 LIMIT 1", (run,)).fetchone()
        if still_open is None:
            close(db, run)
    return left
