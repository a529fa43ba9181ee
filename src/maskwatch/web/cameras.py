"""The site's cameras: each one's state and counters, and its live view."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from maskwatch.web.site import NO_STORE, SiteDep

router = APIRouter()


@router.get("/api/cameras")
async def cameras(site: SiteDep) -> list[dict]:
    """Each camera's state, frames per second, counters and the people in view by state."""
    return [{**s.to_json(), "view_url": f"/api/cameras/{s.name}/view.jpg"} for s in site.supervisor.status.values()]


@router.get("/api/cameras/{name}/view.jpg", responses={200: {"content": {"image/jpeg": {}}}})
async def view(name: str, site: SiteDep) -> Response:
    """The camera's latest frame with boxes, ids and states (about two a second)."""
    status = site.supervisor.status.get(name)
    if status is None:
        raise HTTPException(404, f"no camera named {name!r}")
    if status.jpeg is None:
        raise HTTPException(404, f"camera {name!r} has no frame yet")
    return Response(status.jpeg, media_type="image/jpeg", headers=NO_STORE)
