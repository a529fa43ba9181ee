"""The site's events: the latest, as CSV, one with its person's timeline, marking one reviewed, and
correcting its verdict (or its person's).

Marking and correcting are POSTs with a JSON body: a browser sends JSON to another site only after a CORS preflight,
which this server never grants, so a page elsewhere cannot mark events through the operator's browser.
"""

from __future__ import annotations

import asyncio
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi import Path as PathParameter
from fastapi.responses import Response

from maskwatch.core.events import Event
from maskwatch.core.records import event_record
from maskwatch.store import EventStore, write_csv
from maskwatch.store.learning import CORRECTIONS
from maskwatch.web.site import SiteDep

router = APIRouter()

SQLITE_INT = 2**63 - 1  # SQLite's largest integer: an id or offset past it is the client's error (422), not a 500
EventId = Annotated[int, PathParameter(ge=-SQLITE_INT - 1, le=SQLITE_INT)]


def event_json(run: int, event: Event) -> dict:
    """An event as `maskwatch events --json` prints it, with the URLs of its snapshot and clip (see media)."""
    record = event_record(run, event)
    record["snapshot_url"] = f"/api/snapshots/{Path(event.snapshot).name}" if event.snapshot else None
    record["clip_url"] = f"/api/clips/{Path(event.clip).name}" if event.clip else None
    return record


def with_review(store: EventStore, found: list[tuple[int, Event]]) -> list[dict]:
    """The events as `event_json` renders them, each with its review and its correction (None if none), and
    the URL of its face kept for learning (served only with a token)."""
    ids = [event.id for _, event in found]
    reviews, corrections, faces = store.reviews(ids), store.corrections(ids), store.kept_faces(ids)
    return [{**event_json(run, event), "review": reviews.get(event.id), "correction": corrections.get(event.id),
             "face_url": f"/api/faces/{faces[event.id].name}" if event.id in faces else None}
            for run, event in found]


@router.get("/api/events")
async def latest(site: SiteDep, limit: int = Query(50, ge=1, le=1000), source: str | None = None) -> list[dict]:
    """The latest events, newest first, as `maskwatch events --json` prints them, with a snapshot URL."""
    def read() -> list[dict]:
        with EventStore.open_existing(site.store_path) as store:
            return [event_json(run, e) for run, e in store.latest(limit, source)]

    return await asyncio.to_thread(read)


@router.get("/api/events.csv", responses={200: {"content": {"text/csv": {}}}})
async def events_csv(site: SiteDep, since: datetime | None = None, until: datetime | None = None,
                     source: str | None = None) -> Response:
    """Events as CSV (the columns of `maskwatch events --csv`), optionally since / until an ISO time."""
    def read() -> str:
        with EventStore.open_existing(site.store_path) as store:
            events = store.events_with_run(source=source, since=since, until=until)
            corrections = store.corrections([event.id for _, event in events])
        out = io.StringIO()
        write_csv(out, events, corrections)
        return out.getvalue()

    text = await asyncio.to_thread(read)
    return Response(text, media_type="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="maskwatch-events.csv"'})


@router.get("/api/events/{event_id}")
async def one(event_id: EventId, site: SiteDep) -> dict:
    """One event with its review, and the timeline of its person (every event of them in that run)."""
    def read() -> dict:
        with EventStore.open_existing(site.store_path) as store:
            found = store.event(event_id)
            if found is None:
                raise HTTPException(404, f"no event {event_id}")
            run, event = found
            return {"event": with_review(store, [found])[0],
                    "timeline": with_review(store, store.timeline(run, event.source, event.person))}

    return await asyncio.to_thread(read)


@router.post("/api/events/{event_id}/review")
async def review(event_id: EventId, request: Request, site: SiteDep) -> dict:
    """Mark the event reviewed (`{"reviewed": true}`, by the user the token names) or not (`false`)."""
    body = await _json_body(request, "{\"reviewed\": true}")
    if not isinstance(body, dict) or not isinstance(body.get("reviewed"), bool):
        raise HTTPException(422, "send {\"reviewed\": true} or {\"reviewed\": false}")
    reviewer = getattr(request.state, "user", None)

    def write() -> dict:
        with EventStore.open_existing(site.store_path, readonly=False) as store:
            try:
                return {"id": event_id, "review": store.review(event_id, reviewer, body["reviewed"])}
            except KeyError:
                raise HTTPException(404, f"no event {event_id}") from None

    return await asyncio.to_thread(write)


async def _json_body(request: Request, example: str) -> object:
    """The request's JSON body (None if it is not JSON); 415 unless sent as application/json."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise HTTPException(415, f"send JSON: {example}")
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


@router.post("/api/events/{event_id}/correction")
async def correction(event_id: EventId, request: Request, site: SiteDep) -> dict:
    """Correct the event's verdict (`{"state": "with_mask"}`: with_mask, without_mask, mask_weared_incorrect,
    or not_a_face for no judgeable face), by the user the token names; `"person": true` corrects every
    event of its person; `"state": null` takes the correction back. The ids corrected."""
    body = await _json_body(request, "{\"state\": \"with_mask\"}")
    if (not isinstance(body, dict) or "state" not in body or (body["state"] is not None and body["state"]
                                                               not in CORRECTIONS)
            or not isinstance(body.get("person", False), bool)):
        raise HTTPException(422, f"send {{\"state\": one of {', '.join(CORRECTIONS)} or null, "
                            "\"person\": true or false}")
    corrector = getattr(request.state, "user", None)

    def write() -> dict:
        with EventStore.open_existing(site.store_path, readonly=False) as store:
            try:
                ids = store.correct(event_id, body["state"], corrector, body.get("person", False))
            except KeyError:
                raise HTTPException(404, f"no event {event_id}") from None
            return {"ids": ids, "correction": store.corrections([event_id]).get(event_id)}

    return await asyncio.to_thread(write)
