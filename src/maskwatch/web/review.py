"""The review page of `watch` (/review): events filtered by camera, zone, kind, state and time, a page at a
time; an event with its snapshot at full size, its clip and the person's timeline; and alerts marked
reviewed, with when and by whom (the user a token names).

Marking is a POST with a JSON body: a browser sends JSON to another site only after a CORS preflight,
which this server never grants, so a page elsewhere cannot mark events through the operator's browser.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse

from maskwatch.core.classes import STATES
from maskwatch.core.events import EVENT_KINDS, Event
from maskwatch.store import EventStore

PER_PAGE = 25


def add_review(app: FastAPI, store_path: Path, event_json: Callable[[int, Event], dict], static: Path,
               cameras: Callable[[], list[str]], zones: Callable[[], list[str]]) -> None:
    """The review page and its API on `app`; `event_json` renders an event as the other routes do."""

    def with_review(store: EventStore, found: list[tuple[int, Event]]) -> list[dict]:
        reviews = store.reviews([event.id for _, event in found])
        return [{**event_json(run, event), "review": reviews.get(event.id)} for run, event in found]

    @app.get("/review", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(static / "review.html")

    @app.get("/api/review")
    async def search(camera: str | None = None, zone: str | None = None, kind: str | None = None,
                     state: str | None = None, since: datetime | None = None, until: datetime | None = None,
                     reviewed: bool | None = None, page: int = Query(1, ge=1),
                     per_page: int = Query(PER_PAGE, ge=1, le=200)) -> dict:
        """Events newest first, filtered (all given filters hold), a page at a time; each with its review;
        and the cameras, zones, kinds and states to filter by."""
        if kind is not None and kind not in EVENT_KINDS:
            raise HTTPException(422, f"kind must be one of {', '.join(EVENT_KINDS)}")
        if state is not None and state not in STATES:
            raise HTTPException(422, f"state must be one of {', '.join(STATES)}")

        def read() -> dict:
            with EventStore.open_existing(store_path) as store:
                total, found = store.search(kind, camera, since, until, zone, state, reviewed, per_page,
                                            (page - 1) * per_page)
                events = with_review(store, found)
            return {"events": events, "total": total, "page": page, "pages": max(1, -(-total // per_page)),
                    "per_page": per_page, "cameras": cameras(), "zones": zones(), "kinds": list(EVENT_KINDS),
                    "states": list(STATES)}

        return await asyncio.to_thread(read)

    @app.get("/api/events/{event_id}")
    async def one(event_id: int) -> dict:
        """One event with its review, and the timeline of its person (every event of them in that run)."""
        def read() -> dict:
            with EventStore.open_existing(store_path) as store:
                found = store.event(event_id)
                if found is None:
                    raise HTTPException(404, f"no event {event_id}")
                run, event = found
                return {"event": with_review(store, [found])[0],
                        "timeline": with_review(store, store.timeline(run, event.source, event.person))}

        return await asyncio.to_thread(read)

    @app.post("/api/events/{event_id}/review")
    async def review(event_id: int, request: Request) -> dict:
        """Mark the event reviewed (`{"reviewed": true}`, by the user the token names) or not (`false`)."""
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise HTTPException(415, "send the review as JSON: {\"reviewed\": true}")
        body = await request.json()
        if not isinstance(body, dict) or not isinstance(body.get("reviewed"), bool):
            raise HTTPException(422, "send {\"reviewed\": true} or {\"reviewed\": false}")
        reviewer = getattr(request.state, "user", None)

        def write() -> dict:
            with EventStore.open_existing(store_path, readonly=False) as store:
                try:
                    return {"id": event_id, "review": store.review(event_id, reviewer, body["reviewed"])}
                except KeyError:
                    raise HTTPException(404, f"no event {event_id}") from None

        return await asyncio.to_thread(write)
