"""Who may talk to the page and the API: a shared token whenever they listen beyond this machine, and on
every bind a check of the Host header.

Clients send `Authorization: Bearer TOKEN`. A browser opens `/?token=TOKEN` once and gets the token as a
cookie (HttpOnly, SameSite=Strict), so the page's own requests and images carry it. /healthz stays open
for load balancers; it tells nothing about people. Besides the shared token, tokens may name users (`watch`'s
`users_env`): such a token lets its user in anywhere, and says who marked an alert reviewed. On loopback
no token is needed, but one that is given must be right.

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


def _user_of(given: str, tokens: dict[str, str | None]) -> tuple[bool, str | None]:
    """Whether `given` is one of the tokens, and the user it names (None: the shared token). Every token is
    compared, in constant time, so the time taken does not tell which one nearly matched."""
    found, user = False, None
    for token, name in tokens.items():
        if hmac.compare_digest(given.encode(), token.encode()):
            found, user = True, name
    return found, user


def require_token(app: FastAPI, token: str | None, users: dict[str, str] | None = None,
                  required: bool | None = None) -> None:
    """Refuse every request without a valid token when one is `required` (by default when `token` is set: a
    bind beyond loopback); tokens of `users` (user -> token) are valid too, and name the request's user
    (`request.state.user`). Where none is required a request may come without one, but a wrong one is
    refused (no-op when there are no tokens at all)."""
    required = token is not None if required is None else required
    tokens: dict[str, str | None] = {value: name for name, value in (users or {}).items()}
    if token is not None:
        tokens[token] = None
    if not tokens:
        return

    @app.middleware("http")
    async def check(request: Request, call_next: ASGIApp) -> JSONResponse:
        request.state.user, request.state.token = None, False
        if request.url.path in OPEN_PATHS:
            return await call_next(request)
        given = _given(request)
        found, user = _user_of(given, tokens) if given is not None else (False, None)
        if (given is None and required) or (given is not None and not found):
            return JSONResponse({"error": "a token is required: send 'Authorization: Bearer TOKEN', or open "
                                 "/?token=TOKEN in a browser"}, 401, headers={"WWW-Authenticate": "Bearer"})
        request.state.user, request.state.token = user, found  # found: the request showed a valid token
        response = await call_next(request)
        if request.query_params.get("token") and found:
            response.set_cookie(COOKIE, given, httponly=True, samesite="strict")
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
