"""`maskwatch watch CONFIG.toml`: many cameras, one store and outbox, alerts out over MQTT and webhooks,
Prometheus metrics and the site page, until Ctrl-C or SIGTERM.

Order of start-up: the config is checked, the port is taken, the store is opened (created or migrated)
and retention applied, each delivery's cursor is fixed, and only then do the camera workers start, so
no event can be recorded before a target knows it has to send it. Each worker records its own events in
the store, the first of them the person_left of whoever a dead run of its camera left in view (a
`kill -9` of watch or of the worker), so those are delivered too.
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import threading
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from maskwatch.commands.events import parse_days
from maskwatch.monitor.config import ConfigError, WatchConfig, load

if TYPE_CHECKING:
    import uvicorn

    from maskwatch.monitor.delivery import MqttDelivery
    from maskwatch.monitor.supervisor import Supervisor

log = logging.getLogger(__name__)

DESCRIPTION = """Run a site's cameras from a TOML config: each camera in its own process (restarted if it dies,
reconnected if its stream drops), persons and events recorded in one SQLite store, alerts when someone stays
without a mask, every event delivered to MQTT and webhooks at least once and in order (it waits in the store
while they are down, across restarts), Prometheus metrics at /metrics and a page of the site at /.

config (docs/config.md lists every key with its type, default and meaning):
  store = "events.db"
  retain_days = 30                 # optional: delete older events and snapshots
  model = "incorrect"              # optional: the three-class model, which also tells a mask worn under
                                   # the nose or on the chin (opt-in: CC BY-NC-SA weights, see MODEL_CARD.md)
  [http]
  host = "127.0.0.1"               # any address outside loopback (127.0.0.0/8, ::1) needs a token for the
                                   # page and API (env MASKWATCH_TOKEN)
  port = 8080
  allowed_hosts = ["site.local"]   # optional: more names for the Host header (loopback names always work)
  [[camera]]
  name = "entrance"
  source = "rtsp://cam1.local/stream1"    # or a camera index, or a video file
  loop = false                     # true: replay a file forever (demos, tests)
  preset = "fast"
  [[alert]]
  state = "without_mask"           # or "non_compliant": without_mask or mask_weared_incorrect
  after_s = 3
  cooldown_s = 60
  [mqtt]                           # topics maskwatch/<camera>/events and .../status
  host = "127.0.0.1"
  port = 1883
  [[webhook]]
  url = "https://hooks.example.org/maskwatch"
  secret_env = "MASKWATCH_WEBHOOK_SECRET"   # HMAC-SHA256 of the body in X-Maskwatch-Signature
"""
EXAMPLES = """examples:
  maskwatch watch site.toml --check     report every problem of the config, one per line, and exit
  maskwatch watch site.toml             run it; open http://127.0.0.1:8080/
  maskwatch events events.db --summary  people per hour from the store the site writes
"""
RETENTION_EVERY_S = 3600.0
STATUS_EVERY_S = 5.0  # retained MQTT status of each camera, and its picture
STATUS_CHANGE_S = 0.25  # how often a change of who is in view is looked for: sent at once (a 2 s visit counts)
STATUS_GAP_S = 1.0  # but a camera's status at most once a second
TODAY_EVERY_S = 60.0  # the people of today in it, from the store: counted again this often,
TODAY_AFTER_EVENTS_S = 5.0  # and this soon after new events (Home Assistant's "people today" keeps up)
DRAIN_S = 5.0  # on a clean stop, how long deliveries may go on sending what waits


def _take_port(config: WatchConfig) -> socket.socket:
    """Bind the HTTP port now: a port in use is a one-line error before any camera starts."""
    family = socket.AF_INET6 if ":" in config.http.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((config.http.host, config.http.port))
    except OSError as error:
        sock.close()
        raise ConfigError(config.path, [f"http: cannot listen on {config.http.host}:{config.http.port} "
                                        f"({error.strerror})"]) from None
    sock.listen(128)
    return sock


def _retain(config: WatchConfig, days: float | None) -> None:
    from maskwatch.store import EventStore

    _retain_faces(config)
    if days is None:
        return
    cutoff = datetime.now().astimezone() - timedelta(days=days)
    with EventStore.open_existing(config.store, readonly=False) as store:
        deleted = store.delete_older_than(cutoff)
    if any(deleted):
        log.info("retention: deleted %d event(s) older than %g days and %d snapshot file(s) no kept event uses",
                 deleted.events, days, deleted.snapshots)


def _retain_faces(config: WatchConfig) -> None:
    """Learning's own retention: faces kept longer than [learning] retain_days go; with learning off, all."""
    from maskwatch.store import EventStore

    days = config.learning_days
    with EventStore.open_existing(config.store, readonly=False) as store:
        gone = store.forget_crops(None if days is None else datetime.now().astimezone() - timedelta(days=days))
    if gone:
        log.info("learning: deleted %d kept face(s) %s", gone, "(learning is off)" if days is None else
                 f"older than {days:g} days")


def _people_today(config: WatchConfig) -> dict[str, dict]:
    """Per camera, the people since midnight as `maskwatch events --summary` counts them."""
    from maskwatch.store import EventStore

    midnight = datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    with EventStore.open_existing(config.store) as store:
        return {camera.name: store.summary(source=camera.name, since=midnight)["total"] for camera in config.cameras}


def _housekeeping(config: WatchConfig, days: float | None, supervisor: Supervisor, mqtt: list[MqttDelivery],
                  stop: threading.Event) -> None:
    """Retained camera status on MQTT (with the people of today, counted again every minute, and a few
    seconds after new events): at once when who is in view changes (at most one a second), else every few
    seconds with the picture; retention every hour."""
    next_retention = time.monotonic() + RETENTION_EVERY_S
    next_today, today, events_counted = time.monotonic(), {}, -1
    next_full = time.monotonic()
    sent: dict[str, tuple[float, tuple]] = {}  # per camera: when its status went out, who was in view, alerting
    while not stop.wait(STATUS_CHANGE_S):
        now, full = time.monotonic(), time.monotonic() >= next_full
        if full:
            next_full = now + STATUS_EVERY_S
        events = sum(n for status in supervisor.status.values() for key, n in status.counts.items()
                     if key.startswith("events:"))
        if events != events_counted:
            next_today = min(next_today, now + TODAY_AFTER_EVENTS_S)
        if mqtt and now >= next_today:
            next_today, events_counted = now + TODAY_EVERY_S, events
            try:
                today = _people_today(config)
            except Exception:
                log.exception("counting today's people failed; trying again in a minute")
        for delivery in mqtt:
            status = supervisor.status[delivery.camera].to_json()
            seen = (dict(status.get("in_view") or {}), status.get("alerting", 0))
            at, before = sent.get(delivery.camera, (-STATUS_EVERY_S, None))
            if full or (seen != before and now - at >= STATUS_GAP_S):
                sent[delivery.camera] = now, seen
                delivery.publish_status({**status, **({"today": today[delivery.camera]}
                                                       if delivery.camera in today else {})})
            if full:
                delivery.publish_picture(supervisor.status[delivery.camera].jpeg)
        if now >= next_retention:
            next_retention += RETENTION_EVERY_S
            try:
                _retain(config, days)
            except Exception:
                log.exception("retention failed; trying again in an hour")


def add_parser(sub) -> argparse.ArgumentParser:
    """Add `watch` to the subparsers of the maskwatch command."""
    p = sub.add_parser("watch", help="run a site's cameras with alerts, MQTT, webhooks, metrics and a page",
                       description=DESCRIPTION, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", metavar="CONFIG.toml", help="the site's config")
    p.add_argument("--check", action="store_true", help="only check the config: every problem on a line, exit 2")
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="run each camera as a Ray actor on whichever node has room (restarted by Ray if it dies): "
                   "--ray alone starts Ray here, --ray auto joins this machine's cluster, or give HOST:6379")
    p.add_argument("--retain-days", type=parse_days, metavar="N", help="delete events and snapshots older than N "
                   "days, at start and every hour (overrides the config's retain_days)")
    return p


class Stopped(KeyboardInterrupt):
    """Ctrl-C or SIGTERM: the normal end of `watch` (an interrupt, before the start-up is done)."""


class _StopSignals:
    """Ctrl-C and SIGTERM for `watch`, never lost. An exception raised by a signal handler can land inside a
    weakref callback or a `__del__`, where Python prints it and drops it (measured: 1 Ctrl-C in 5 during the
    start-up left watch serving). So a stop is first noted, and tells the server to exit (uvicorn looks at
    that before it serves, and on every tick); it is raised as `Stopped` only while `raising` is set, and
    `check()` raises a noted one at the points where the start-up may stop."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.raising = True
        self.server: uvicorn.Server | None = None

    def __call__(self, signum: int, frame: object) -> None:
        if self.signum is None:
            self.signum = signum
        if self.server is not None:
            self.server.should_exit = True
        if self.raising:
            self.check()

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self)

    def check(self) -> None:
        if self.signum is not None:
            raise Stopped(f"stopped by {signal.Signals(self.signum).name}")


def run(args: argparse.Namespace) -> int:
    """Check the config, or run the site until Ctrl-C or SIGTERM."""
    config = load(args.config)
    if args.check:
        print(f"{config.path}: OK: {config.describe()}")
        return 0
    if args.ray:  # before anything starts
        from maskwatch.cluster import require_ray

        require_ray()
    # restored at the end: a caller in the same process (a test, one's own script) keeps its Ctrl-C, and
    # the processes it starts later do not inherit an ignored SIGINT
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return _watch(config, args)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _watch(config: WatchConfig, args: argparse.Namespace) -> int:
    stops = _StopSignals()
    stops.install()
    from maskwatch.monitor.delivery import MqttDelivery, WebhookDelivery
    from maskwatch.store import EventStore
    from maskwatch.web.dashboard import site_server

    days = args.retain_days if args.retain_days is not None else config.retain_days
    sock = _take_port(config)
    EventStore(config.store).close()  # created, or checked and migrated, before anyone else opens it
    _retain(config, days)
    mqtt = [MqttDelivery(config.store, config.mqtt, c.name, picture=config.snapshots and not config.blur_snapshots)
            for c in config.cameras] if config.mqtt else []
    urls = [webhook.url for webhook in config.webhooks]
    deliveries = [*mqtt, *(WebhookDelivery(config.store, w, i, urls[:i]) for i, w in enumerate(config.webhooks))]
    level = logging.getLogger("maskwatch").getEffectiveLevel()
    if args.ray:
        from maskwatch.cluster.cameras import RaySupervisor

        supervisor: Supervisor = RaySupervisor(config, level, args.ray)
    else:
        from maskwatch.monitor.supervisor import ProcessSupervisor

        supervisor = ProcessSupervisor(config, level)
    stop = threading.Event()
    server = stops.server = site_server(supervisor, config, deliveries)
    stops.check()  # one that was raised where Python dropped it
    # From here a stop is noted, not raised: an exception in the middle of spawning a worker would leave it
    # half-started (a traceback from a truncated handover); the server, told to exit, does not start.
    stops.raising = False
    try:
        log.info("watching: %s", config.describe())
        for delivery in deliveries:
            delivery.start()
            log.info("delivering to %s", delivery.describe())
        supervisor.start()
        signal.signal(signal.SIGHUP, lambda signum, frame: supervisor.reload())  # a changed model, loaded now
        stops.install()  # again after ray.init, which sets its own SIGTERM handler (exit code 15)
        stops.check()
        threading.Thread(target=_housekeeping, args=(config, days, supervisor, mqtt, stop),
                         name="maskwatch-housekeeping", daemon=True).start()
        server.run(sockets=[sock])  # until Ctrl-C or SIGTERM (uvicorn's handlers, then ours again)
        stops.check()
    except Stopped as stopped:
        log.info("%s", stopped)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):  # stopping in order is what a second signal would ask for
            signal.signal(sig, signal.SIG_IGN)
        log.info("stopping: cameras first (who is in view leaves), then the deliveries")
        stop.set()
        supervisor.stop()
        for delivery in deliveries:
            try:
                delivery.stop(drain_s=DRAIN_S)
            except Exception:  # the others must still stop; what waits is sent on the next start
                log.exception("%s: stopping failed", delivery.describe())
        waiting = sum(d.backlog for d in deliveries)
        if waiting:
            log.warning("%d event(s) wait in %s; they go out when watch runs again", waiting, config.store)
    return 0
