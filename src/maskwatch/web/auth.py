"""Who may talk to the page and the API: a shared token whenever they listen beyond this machine, and on
every bind a check of the Host header.

Clients send `Authorization: Bearer TOKEN`. A browser opens `/?token=TOKEN` once and gets the token as a
cookie (HttpOnly, SameSite=Strict), so the page's own requests and images carry it. /healthz stays open
for load balancers; it tells nothing about people.

The Host check stops DNS rebinding: a web page the operator visits can point its own name at 127.0.0.1
and read a loopback server (faces, events) that needs no token, but its requests carry its own name in
Host, which is not among the server's. On a loopback bind, then, only loopback names and the bound address
(any port) and the names configured are answered; beyond loopback the token already guards every request,
so any Host is answered unless names are configured. /healthz is open here too (probes use any name).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from maskwatch.io.net import LOOPBACK_NAMES, host_name, is_loopback

COOKIE = "maskwatch_token"
OPEN_PATHS = ("/healthz",)
LOOPBACK_HOSTS = frozenset({*LOOPBACK_NAMES, "127.0.0.1", "::1"})
HOST_HEADER = re.compile(r"(\[[^\]]*\]|[^:\[\]]+)(:\d*)?")


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


def _header_host(value: str) -> str | None:
    """The name in a Host header (`name`, `name:port`, `[v6]:port`), normalised; None if it is malformed."""
    match = HOST_HEADER.fullmatch(value.strip())
    try:
        return host_name(match[1]) if match else None
    except ValueError:
        return None


def allowed_hosts(bind: str, extra: Iterable[str] = ()) -> frozenset[str] | None:
    """The Host names the server answers on a bind to `bind` (None: any, which only a token-guarded bind
    beyond loopback gets when no names are configured)."""
    extra = {host_name(name) for name in extra}
    if not extra and not is_loopback(bind):
        return None
    return frozenset({*LOOPBACK_HOSTS, host_name(bind), *extra})


class TrustedHosts:
    """ASGI middleware: 421 with a JSON error to a request whose Host header names none of `hosts`. A request
    without Host (HTTP/1.0; never a browser) is answered."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str]) -> None:
        self.app, self.hosts = app, hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and scope["path"] not in OPEN_PATHS:
            given = Headers(scope=scope).get("host")
            if given is not None and _header_host(given) not in self.hosts:
                response = JSONResponse({"error": f"Host {given!r} is not a name of this server: add it with "
                                         "serve --allowed-host or [http] allowed_hosts of watch"}, 421)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def require_host(app: FastAPI, hosts: frozenset[str] | None) -> None:
    """Answer only requests whose Host is in `hosts` (no-op when None). Add it after `require_token`, so a
    foreign Host is refused before the token is looked at."""
    if hosts is not None:
        app.add_middleware(TrustedHosts, hosts=hosts)
