"""The page and API of `maskwatch watch`: cameras live, people and compliance today, the last 24 hours by
hour, the latest events with snapshots, events as CSV, and Prometheus metrics at /metrics. Assembled here
from one router per resource (site, cameras, deliveries, people, events, media, review).

Everything the page needs is served from the package (no CDN: a site's network may be closed), the API
docs' assets too. The store is opened read-only per request, in a thread, so a slow query never holds up
the workers (they write to it) or the deliveries.
"""

from __future__ import annotations

from pathlib import Path

import uvicorn
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from prometheus_client import CollectorRegistry, make_asgi_app

from maskwatch.io.net import is_loopback
from maskwatch.monitor.config import WatchConfig
from maskwatch.monitor.delivery import Delivery
from maskwatch.monitor.prometheus import registry as metrics_registry
from maskwatch.monitor.supervisor import Supervisor
from maskwatch.web import cameras, deliveries, events, media, people, review, site
from maskwatch.web.auth import allowed_hosts, require_host, require_token
from maskwatch.web.serve import STATIC, UVICORN_OPTIONS

# review's first, as the routes were ordered before the routers
ROUTERS = (review.router, site.router, cameras.router, deliveries.router, people.router, events.router, media.router)


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
    app.state.site = site.Site(supervisor, store_path, deliveries, registry, zones)
    require_token(app, token, users, required=token is not None or not is_loopback(host))
    require_host(app, allowed_hosts(host, extra_hosts))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/metrics/", make_asgi_app(registry))
    for router in ROUTERS:
        app.include_router(router)
    return app
