"""Which events to read: WHERE clauses of the filters `maskwatch events`, the dashboard and the review page
offer, and the per-hour summary of events already read."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime

from maskwatch.core.classes import Sightings, people_counts
from maskwatch.core.events import Event
from maskwatch.store.db import epoch
from maskwatch.store.schema import REVIEWS_SINCE


def _source_clause(wanted: str) -> tuple[str, list[object]]:
    """An SQL condition and its parameters for the events of `wanted`: a source equal to it or, when it is a
    bare file name, a source whose file name it is (`detect /data/clip.mp4` is found as clip.mp4)."""
    if "/" in wanted or "\\" in wanted:
        return "source = ?", [wanted]
    return "(source = ? OR substr(source, ?) IN (?, ?))", [wanted, -len(wanted) - 1, f"/{wanted}", f"\\{wanted}"]


def _where(clauses: Sequence[str]) -> str:
    return f" WHERE {' AND '.join(clauses)}" if clauses else ""


def source_where(wanted: str | None) -> tuple[str, list[object]]:
    """A WHERE of `_source_clause`, or nothing for all sources."""
    if wanted is None:
        return "", []
    clause, params = _source_clause(wanted)
    return _where([clause]), params


def _filter_clauses(kind: str | Sequence[str] | None, source: str | None, since: datetime | None,
                    until: datetime | None) -> tuple[list[str], list[object]]:
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
        params.append(epoch(since))
    if until is not None:
        clauses.append("epoch < ?")
        params.append(epoch(until))
    return clauses, params


def filters(kind: str | Sequence[str] | None, source: str | None, since: datetime | None,
            until: datetime | None) -> tuple[str, list[object]]:
    """A WHERE (or nothing) and its parameters for events of these kinds, of this source (as `_source_clause`
    matches it), with since <= wall_time < until."""
    clauses, params = _filter_clauses(kind, source, since, until)
    return _where(clauses), params


def review_filters(kind: str | Sequence[str] | None, source: str | None, since: datetime | None,
                   until: datetime | None, zone: str | None, state: str | None, reviewed: bool | None,
                   version: int, unjudged: bool = True) -> tuple[str, list[object]]:
    """`filters`, and a zone the event names, its state, whether it was reviewed (none was, in a store older
    than reviews); without `unjudged`, no event of a visit whose person was never judged (each such visit is
    an `unknown` arrival and departure, nothing to review)."""
    clauses, params = _filter_clauses(kind, source, since, until)
    if zone is not None:  # zones is a JSON list of names: the name in quotes, LIKE's wildcards escaped
        clauses.append("zones LIKE ? ESCAPE '\\'")
        params.append("%" + json.dumps(zone).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
    if state is not None:
        clauses.append("state = ?")
        params.append(state)
    if reviewed is not None and version >= REVIEWS_SINCE:
        clauses.append(f"id {'' if reviewed else 'NOT '}IN (SELECT event FROM reviews)")
    elif reviewed:
        clauses.append("0")
    if not unjudged:
        clauses.append("(state != 'unknown' OR EXISTS (SELECT 1 FROM events AS visit WHERE visit.run = events.run "
                       "AND visit.source = events.source AND visit.person = events.person "
                       "AND visit.state != 'unknown'))")
    return _where(clauses), params


def count(db: sqlite3.Connection, where: str, params: Sequence[object]) -> int:
    return db.execute(f"SELECT COUNT(*) FROM events{where}", params).fetchone()[0]


def sources(db: sqlite3.Connection, matching: str | None) -> list[str]:
    """The sources of the stored events, sorted (those `matching` matches, as `_source_clause` says)."""
    where, params = source_where(matching)
    return [row["source"] for row in db.execute(f"SELECT DISTINCT source FROM events{where} ORDER BY source", params)]


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
