"""The page and API of `maskwatch watch`: cameras live, people and compliance today, the last 24 hours by
hour, the latest events with snapshots, events as CSV, and Prometheus metrics at /metrics.

Everything the page needs is served from the package (no CDN: a site's network may be closed), the API
docs' assets too. The store is opened read-only per request, in a thread, so a slow query never holds up
the workers (they write to it) or the deliveries.
"""

from __future__ import annotations

import asyncio
import io
import re
from datetime import datetime, timedelta
from pathlib import Path

import uvicorn
from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, make_asgi_app

from maskwatch.core.classes import people_counts
from maskwatch.core.events import Event
from maskwatch.core.records import event_record
from maskwatch.io.net import is_loopback
from maskwatch.monitor.config import WatchConfig
from maskwatch.monitor.delivery import Delivery
from maskwatch.monitor.prometheus import registry as metrics_registry
from maskwatch.monitor.supervisor import Supervisor
from maskwatch.store import EventStore, clip_folder, summarise, write_csv
from maskwatch.web.auth import allowed_hosts, require_host, require_token
from maskwatch.web.review import add_review
from maskwatch.web.serve import STATIC, UVICORN_OPTIONS

SNAPSHOT_NAME = re.compile(r"[\w.-]+\.jpg")
CLIP_NAME = re.compile(r"[\w.-]+\.mp4")
NO_STORE = {"Cache-Control": "no-store"}


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
    with EventStore.open_existing(store_path) as store:
        events = store.events_with_run(since=start)
    day = summarise([(run, e) for run, e in events if datetime.fromisoformat(e.wall_time) >= midnight])
    by_hour = {row["hour"]: row for row in summarise(events)["hours"]}
    empty = people_counts([])
    return {"today": day["total"], "events_today": day["events"],
            "hours": [{"hour": h, **{k: by_hour.get(h, empty)[k] for k in empty}} for h in _hours(now)]}


def _event_json(run: int, event: Event) -> dict:
    record = event_record(run, event)
    record["snapshot_url"] = f"/api/snapshots/{Path(event.snapshot).name}" if event.snapshot else None
    record["clip_url"] = f"/api/clips/{Path(event.clip).name}" if event.clip else None
    return record


def site_server(supervisor: Supervisor, config: WatchConfig, deliveries: list[Delivery]) -> uvicorn.Server:
    """The server of `watch`'s page, API and metrics, with the bounds on slow clients of `serve`."""
    app = create_dashboard(supervisor, config.store, deliveries, metrics_registry(supervisor, deliveries),
                           config.http.token, config.http.host, config.http.allowed_hosts, config.http.users,
                           tuple(dict.fromkeys(zone.name for camera in config.cameras for zone in camera.zones)))
    tls = {"ssl_certfile": str(config.http.cert_file), "ssl_keyfile": str(config.http.key_file)} \
        if config.http.cert_file else {}
    return uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, **UVICORN_OPTIONS, **tls))


def create_dashboard(supervisor: Supervisor, store_path: Path, deliveries: list[Delivery],
                     registry: CollectorRegistry, token: str | None = None, host: str = "127.0.0.1",
                     extra_hosts: tuple[str, ...] = (), users: dict[str, str] | None = None,
                     zones: tuple[str, ...] = ()) -> FastAPI:
    """The site's page and API; `host` is the address served on, which with `extra_hosts` gives the names a
    request's Host header may carry (see auth)."""
    app = FastAPIOffline(title="maskwatch watch", summary="Cameras, people, events and metrics of a site.")
    require_token(app, token, users, required=token is not None or not is_loopback(host))
    require_host(app, allowed_hosts(host, extra_hosts))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/metrics/", make_asgi_app(registry))
    snapshot_dir = store_path.with_suffix(".snapshots")
    add_review(app, store_path, _event_json, STATIC, lambda: list(supervisor.status), lambda: list(zones))

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "dashboard.html")

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok", "cameras": len(supervisor.status)}

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:  # also here, not only behind make_asgi_app's redirect to /metrics/
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/cameras")
    async def cameras() -> list[dict]:
        """Each camera's state, frames per second, counters and the people in view by state."""
        return [{**s.to_json(), "view_url": f"/api/cameras/{s.name}/view.jpg"} for s in supervisor.status.values()]

    @app.get("/api/cameras/{name}/view.jpg", responses={200: {"content": {"image/jpeg": {}}}})
    async def view(name: str) -> Response:
        """The camera's latest frame with boxes, ids and states (about two a second)."""
        status = supervisor.status.get(name)
        if status is None:
            raise HTTPException(404, f"no camera named {name!r}")
        if status.jpeg is None:
            raise HTTPException(404, f"camera {name!r} has no frame yet")
        return Response(status.jpeg, media_type="image/jpeg", headers=NO_STORE)

    @app.get("/api/deliveries")
    async def delivery_status() -> list[dict]:
        """Each MQTT topic and webhook: events waiting in the outbox, delivered, failed attempts."""
        return [{"target": d.label, "name": d.describe(), "backlog": d.backlog, "delivered": d.delivered,
                 "failures": d.failures, "down": d.down_since is not None} for d in deliveries]

    @app.get("/api/today")
    async def people_today() -> dict:
        """People since midnight, and by hour over the last 24 hours: by last state, ever non-compliant,
        compliant at last sighting (as `maskwatch events --summary`)."""
        return await asyncio.to_thread(today, store_path)

    @app.get("/api/events")
    async def latest(limit: int = Query(50, ge=1, le=1000), source: str | None = None) -> list[dict]:
        """The latest events, newest first, as `maskwatch events --json` prints them, with a snapshot URL."""
        def read() -> list[dict]:
            with EventStore.open_existing(store_path) as store:
                return [_event_json(run, e) for run, e in store.latest(limit, source)]

        return await asyncio.to_thread(read)

    @app.get("/api/events.csv", responses={200: {"content": {"text/csv": {}}}})
    async def events_csv(since: datetime | None = None, until: datetime | None = None,
                         source: str | None = None) -> Response:
        """Events as CSV (the columns of `maskwatch events --csv`), optionally since / until an ISO time."""
        def read() -> str:
            with EventStore.open_existing(store_path) as store:
                events = store.events_with_run(source=source, since=since, until=until)
            out = io.StringIO()
            write_csv(out, events)
            return out.getvalue()

        text = await asyncio.to_thread(read)
        return Response(text, media_type="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="maskwatch-events.csv"'})

    @app.get("/api/snapshots/{name}", responses={200: {"content": {"image/jpeg": {}}}})
    async def snapshot(name: str) -> FileResponse:
        """A stored face snapshot (names as in the events' `snapshot_url`)."""
        path = snapshot_dir / name
        if not SNAPSHOT_NAME.fullmatch(name) or not path.is_file():
            raise HTTPException(404, "no such snapshot")
        return FileResponse(path, media_type="image/jpeg", headers=NO_STORE)

    @app.get("/api/clips/{name}", responses={200: {"content": {"video/mp4": {}}}})
    async def clip(name: str) -> FileResponse:
        """An event's video clip (names as in the events' `clip_url`); 404 until it is written, a few seconds
        after its event."""
        path = clip_folder(store_path) / name
        if not CLIP_NAME.fullmatch(name) or not path.is_file():
            raise HTTPException(404, "no such clip (yet: a clip is written a few seconds after its event)")
        return FileResponse(path, media_type="video/mp4", headers=NO_STORE)

    return app
