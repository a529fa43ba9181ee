"""An event as a row of `events` and back, by column name."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from maskwatch.core.events import Event
from maskwatch.store.db import epoch
from maskwatch.store.schema import ADDED_IN, COLUMNS
from maskwatch.store.snapshots import stored_path

Row = Mapping[str, Any] | sqlite3.Row  # a row as read (sqlite3.Row) or about to be written (a dict)


def _maybe(cast: type, value: object) -> object:
    """Numbers as Python's own: sqlite3 cannot store numpy's float32 or int64."""
    return None if value is None else cast(value)


def row_of(event: Event, run: int, snapshot: str | None) -> dict[str, Any]:
    """The row of an event recorded by `run` (every column but the id), with its stored snapshot path."""
    x1, y1, x2, y2 = map(float, event.box)
    return {"run": run, "kind": event.kind, "person": int(event.person), "source": event.source,
            "frame": int(event.frame), "time": float(event.time), "wall_time": event.wall_time,
            "epoch": epoch(datetime.fromisoformat(event.wall_time)), "state": event.state,
            "x1": x1, "y1": y1, "x2": x2, "y2": y2, "confidence": _maybe(float, event.confidence),
            "previous_state": event.previous_state, "frames_seen": _maybe(int, event.frames_seen),
            "masked_share": _maybe(float, event.masked_share), "snapshot": snapshot,
            "duration_s": _maybe(float, event.duration_s),
            "zones": None if event.zones is None else json.dumps(event.zones), "clip": event.clip}


def insert(db: sqlite3.Connection, row: Mapping[str, Any]) -> int:
    """Insert a row of `row_of`; its id."""
    return db.execute(f"INSERT INTO events ({', '.join(row)}) VALUES ({', '.join(f':{c}' for c in row)})",
                      row).lastrowid


def select(db: sqlite3.Connection, version: int, where: str, params: Sequence[object],
           tail: str = "ORDER BY id") -> list[sqlite3.Row]:
    """Rows of every column; an older store, opened read-only (so not migrated), reads NULL for those added since."""
    columns = [c if ADDED_IN.get(c, 0) <= version else f"NULL AS {c}" for c in COLUMNS]
    return db.execute(f"SELECT {', '.join(columns)} FROM events{where} {tail}", params).fetchall()


def to_event(row: Row, snapshot_dir: Path, clip_dir: Path) -> Event:
    """The event of a row, its snapshot and clip found in this store's own folders."""
    return Event(row["kind"], row["person"], row["source"], row["frame"], row["time"], row["wall_time"], row["state"],
                 (row["x1"], row["y1"], row["x2"], row["y2"]), row["confidence"], row["previous_state"],
                 row["frames_seen"], row["masked_share"], duration_s=row["duration_s"],
                 zones=None if row["zones"] is None else json.loads(row["zones"]),
                 snapshot=stored_path(snapshot_dir, row["snapshot"]), clip=stored_path(clip_dir, row["clip"]),
                 id=row["id"])
