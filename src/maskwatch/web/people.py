"""People counted at the site: since midnight, and by hour over the last 24 hours."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

from fastapi import APIRouter

from maskwatch.core.classes import people_counts
from maskwatch.store import EventStore
from maskwatch.web.site import SiteDep

router = APIRouter()


def _hours(now: datetime) -> list[str]:
    """The 24 clock hours up to this one, oldest first, as the store's summary names them."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    return [(hour - timedelta(hours=23 - i)).strftime("%Y-%m-%d %H:00") for i in range(24)]


def today(store_path: Path, now: datetime | None = None) -> dict:
    """People since midnight, and per hour over the last 24 hours (empty hours as zeros), as
    `maskwatch events --summary` counts them: by last state, ever non-compliant, compliant at last sighting."""
    now = now or datetime.now().astimezone()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    start = min(midnight, now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23))
    with EventStore.open_existing(store_path) as store:  # corrected verdicts count as corrected
        events = store.events_with_run(since=start)
        day = store.summarise([(run, e) for run, e in events if datetime.fromisoformat(e.wall_time) >= midnight])
        by_hour = {row["hour"]: row for row in store.summarise(events)["hours"]}
    empty = people_counts([])
    return {"today": day["total"], "events_today": day["events"],
            "hours": [{"hour": h, **{k: by_hour.get(h, empty)[k] for k in empty}} for h in _hours(now)]}


@router.get("/api/today")
async def people_today(site: SiteDep) -> dict:
    """People since midnight, and by hour over the last 24 hours: by last state, ever non-compliant,
    compliant at last sighting (as `maskwatch events --summary`)."""
    return await asyncio.to_thread(today, site.store_path)
