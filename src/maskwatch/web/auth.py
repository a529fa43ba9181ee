"""A shared token in front of the page and the API, needed whenever they listen beyond this machine.

Clients send `Authorization: Bearer TOKEN`. A browser opens `/?token=TOKEN` once and gets the token as a
cookie (HttpOnly, SameSite=Strict), so the page's own requests and images carry it. /healthz stays open
for load balancers; it tells nothing about people.
"""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp

COOKIE = "maskwatch_token"
OPEN_PATHS = ("/healthz",)
TOKEN_ENV = "MASKWATCH_TOKEN"
LOOPBACK_NAMES = {"localhost", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    """Whether listening on `host` keeps the page and API on this machine."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _given(request: Request) -> str | None:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials:
        return credentials.strip()
    return request.query_params.get("token") or request.cookies.get(COOKIE)


def require_token(app: FastAPI, token: str | None) -> None:
    """Refuse every request without the token (no-op when `token` is None: loopback only)."""
    if token is None:
        return

    @app.middleware("http")
    async def check(request: Request, call_next: ASGIApp) -> JSONResponse:
        if request.url.path in OPEN_PATHS:
            return await call_next(request)
        given = _given(request)
        if given is None or not hmac.compare_digest(given.encode(), token.encode()):
            return JSONResponse({"error": "a token is required: send 'Authorization: Bearer TOKEN', or open "
                                 "/?token=TOKEN in a browser"}, 401, headers={"WWW-Authenticate": "Bearer"})
        response = await call_next(request)
        if request.query_params.get("token"):
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return response
