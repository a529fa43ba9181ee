"""The events' media: face snapshots, video clips and the faces kept for learning, served only by a plain
file name from the store's own folders, so no request can reach beyond them; kept faces, unblurred, only to
a request that shows a token."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse

from maskwatch.store import clip_folder, snapshot_folder
from maskwatch.store.learning import learning_folder
from maskwatch.web.site import NO_STORE, SiteDep

SNAPSHOT_NAME = re.compile(r"[\w.-]+\.jpg")
CLIP_NAME = re.compile(r"[\w.-]+\.mp4")

router = APIRouter()


def _stored(folder: Path, name: str, pattern: re.Pattern[str]) -> Path | None:
    """The file `name` in `folder` if maskwatch could have written it there: a plain file, not a link planted
    in the folder to serve something else."""
    path = folder / name
    return path if pattern.fullmatch(name) and not path.is_symlink() and path.is_file() else None


@router.get("/api/snapshots/{name}", responses={200: {"content": {"image/jpeg": {}}}})
async def snapshot(name: str, site: SiteDep) -> FileResponse:
    """A stored face snapshot (names as in the events' `snapshot_url`)."""
    path = _stored(snapshot_folder(site.store_path), name, SNAPSHOT_NAME)
    if path is None:
        raise HTTPException(404, "no such snapshot")
    return FileResponse(path, media_type="image/jpeg", headers=NO_STORE)


@router.get("/api/clips/{name}", responses={200: {"content": {"video/mp4": {}}}})
async def clip(name: str, site: SiteDep) -> FileResponse:
    """An event's video clip (names as in the events' `clip_url`); 404 until it is written, a few seconds
    after its event."""
    path = _stored(clip_folder(site.store_path), name, CLIP_NAME)
    if path is None:
        raise HTTPException(404, "no such clip (yet: a clip is written a few seconds after its event)")
    return FileResponse(path, media_type="video/mp4", headers=NO_STORE)


@router.get("/api/faces/{name}", responses={200: {"content": {"image/jpeg": {}}}})
async def kept_face(name: str, request: Request, site: SiteDep) -> FileResponse:
    """A face kept for learning (names as in the events' `face_url`): unblurred, so only with a token, even
    on loopback; a site without tokens serves none."""
    if not getattr(request.state, "token", False):
        raise HTTPException(403, "faces kept for learning are served only with a token (set users_env or "
                            "token_env, and send it)")
    path = _stored(learning_folder(site.store_path), name, SNAPSHOT_NAME)
    if path is None:
        raise HTTPException(404, "no such face")
    return FileResponse(path, media_type="image/jpeg", headers=NO_STORE)
