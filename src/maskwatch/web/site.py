"""What the routers of `watch`'s site share: the supervisor, the store, the deliveries, the metrics and the
zones, set once on the app (`app.state.site`) and handed to each route as the `SiteDep` dependency, so the
routers are plain module-level objects; and the site's own routes: its page, health and metrics."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from maskwatch.monitor.delivery import Delivery
from maskwatch.monitor.supervisor import Supervisor
from maskwatch.web.serve import STATIC

NO_STORE = {"Cache-Control": "no-store"}


@dataclass(frozen=True)
class Site:
    supervisor: Supervisor
    store_path: Path
    deliveries: list[Delivery]
    registry: CollectorRegistry
    zones: tuple[str, ...]


async def _site(request: Request) -> Site:  # async: a plain def would take a pool thread on every request
    return request.app.state.site


SiteDep = Annotated[Site, Depends(_site)]
router = APIRouter()


@router.get("/", include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(STATIC / "dashboard.html")


@router.get("/healthz")
async def healthz(site: SiteDep) -> dict:
    return {"status": "ok", "cameras": len(site.supervisor.status)}


@router.get("/metrics", include_in_schema=False)
async def metrics(site: SiteDep) -> Response:  # also here, not only behind make_asgi_app's redirect to /metrics/
    return Response(generate_latest(site.registry), media_type=CONTENT_TYPE_LATEST)
