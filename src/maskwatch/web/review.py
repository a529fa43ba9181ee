"""The review page of `watch` (/review) and its search: events filtered by camera, zone, kind, state and time,
a page at a time, each with its review. An event with its timeline, and marking it reviewed (with when and
by whom: the user a token names), are routes of events."""

from __future__ import annotations

import asyncio
from datetime import datetime

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse

from maskwatch.core.classes import STATES
from maskwatch.core.events import EVENT_KINDS
from maskwatch.store import EventStore
from maskwatch.web.events import SQLITE_INT, with_review
from maskwatch.web.serve import STATIC
from maskwatch.web.site import SiteDep

PER_PAGE = 25

router = APIRouter()


@router.get("/review", include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(STATIC / "review.html")


@router.get("/api/review")
async def search(site: SiteDep, camera: str | None = None, zone: str | None = None, kind: str | None = None,
                 state: str | None = None, since: datetime | None = None, until: datetime | None = None,
                 reviewed: bool | None = None, unjudged: bool = False, page: int = Query(1, ge=1, le=SQLITE_INT // 200),
                 per_page: int = Query(PER_PAGE, ge=1, le=200)) -> dict:
    """Events newest first, filtered (all given filters hold), a page at a time; each with its review;
    the cameras, zones, kinds and states to filter by; and how many verdicts were corrected, per camera
    and from what to what. Visits whose person was never judged (an
    `unknown` arrival and departure) are left out unless `unjudged`."""
    if kind is not None and kind not in EVENT_KINDS:
        raise HTTPException(422, f"kind must be one of {', '.join(EVENT_KINDS)}")
    if state is not None and state not in STATES:
        raise HTTPException(422, f"state must be one of {', '.join(STATES)}")

    def read() -> dict:
        with EventStore.open_existing(site.store_path) as store:
            total, found = store.search(kind, camera, since, until, zone, state, reviewed, per_page,
                                        (page - 1) * per_page, unjudged)
            events = with_review(store, found)
            corrected = store.correction_counts()
        return {"events": events, "total": total, "page": page, "pages": max(1, -(-total // per_page)),
                "corrections": corrected,
                "per_page": per_page, "cameras": list(site.supervisor.status), "zones": list(site.zones),
                "kinds": list(EVENT_KINDS), "states": list(STATES)}

    return await asyncio.to_thread(read)
