"""From the outbox (the event store) out to MQTT and webhooks: at least once, in order, across outages.

Each target reads the events after its cursor in id order, sends one, and moves its cursor only once the
receiver acknowledged it (MQTT PUBACK, HTTP 2xx). A failure waits with backoff and sends the same event
again, so nothing is skipped and order holds (a target that stays down is logged when it goes down, then
every REMIND_EVERY_S with what waits and the last error); a crash between the acknowledgement and the cursor update
sends that event twice, which receivers drop by its `id`. The cursor lives in the store, so a restart of
`watch`, even after kill -9, goes on from where delivery stopped.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import logging
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from maskwatch.core.events import Event
from maskwatch.core.records import event_record
from maskwatch.core.version import VERSION
from maskwatch.monitor.config import MqttConfig, WebhookConfig, redact
from maskwatch.monitor.home_assistant import discovery_messages
from maskwatch.store import EventStore, EventStoreError

log = logging.getLogger(__name__)

POLL_S = 0.2  # how often a target looks for new events in the store
FIRST_RETRY_S = 0.5
MAX_RETRY_S = 30.0
REMIND_EVERY_S = 300.0  # while a target stays down, how often the log says so again
BATCH = 100
SIGNATURE_HEADER = "X-Maskwatch-Signature"


class DeliveryFailed(Exception):
    """The receiver did not take the event; it is sent again after a wait."""


class Delivery:
    """One target's loop in a thread of its own, with its own connection to the store."""

    target = ""  # the cursor's name in the store
    former_target: str | None = None  # the name an older maskwatch gave the same cursor
    source: str | None = None  # only the events of this camera

    def __init__(self, store_path: Path) -> None:
        self.store_path = store_path
        self.delivered = 0
        self.failures = 0
        self.backlog = 0
        self.down_since: float | None = None
        self.last_error: str | None = None
        self._reminded_at = 0.0
        self._counted_at = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"maskwatch-{self.target}", daemon=True)

    def describe(self) -> str:
        return self.target

    @property
    def label(self) -> str:
        """The target's name in metrics and the API: never derived from a secret."""
        return self.target

    def send(self, run: int, event: Event) -> None:
        raise NotImplementedError

    def start(self) -> None:
        with EventStore.open_existing(self.store_path, readonly=False) as store:
            if self.former_target is not None:
                store.rename_cursor(self.former_target, self.target)
            store.cursor(self.target)  # from now on: events recorded after this are this target's
        self._thread.start()

    def stop(self, drain_s: float = 0.0) -> None:
        """Stop, after up to `drain_s` seconds of sending what waits (while the receiver takes it)."""
        asked, deadline = time.monotonic(), time.monotonic() + drain_s
        # wait while the loop is up, the receiver takes events, and some wait (as counted after this call)
        while (self._thread.is_alive() and self.down_since is None and time.monotonic() < deadline
               and (self.backlog or self._counted_at < asked)):
            time.sleep(0.05)
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with EventStore.open_existing(self.store_path, readonly=False) as store:
                    self._deliver(store)
            except EventStoreError as error:  # the file is there; a passing I/O failure must not end delivery
                log.warning("%s: %s; opening the store again in 1 s", self.describe(), error)
                self._stop.wait(1)

    def _deliver(self, store: EventStore) -> None:
        retry = FIRST_RETRY_S
        while not self._stop.is_set():
            self.backlog, self._counted_at = store.backlog(self.target, self.source), time.monotonic()
            batch = store.pending(self.target, self.source, BATCH)
            if not batch:
                self._stop.wait(POLL_S)
                continue
            for run, event in batch:
                try:
                    self.send(run, event)
                except Exception as error:  # any failure of a receiver means: again later
                    self._failed(event, error)
                    self._stop.wait(retry)
                    retry = min(2 * retry, MAX_RETRY_S)
                    break
                store.acknowledge(self.target, event.id)
                self.delivered += 1
                self.backlog = max(0, self.backlog - 1)
                if self.down_since is not None:
                    log.warning("%s: delivering again after %.1f s", self.describe(),
                                time.monotonic() - self.down_since)
                    self.down_since, retry = None, FIRST_RETRY_S
                if self._stop.is_set():
                    break

    def _failed(self, event: Event, error: Exception) -> None:
        """Count the failure; log it when the target goes down, then again every REMIND_EVERY_S while it stays
        down, so that a backlog growing for days is not one line lost in the log."""
        self.failures += 1
        self.last_error, now = str(error), time.monotonic()
        if self.down_since is None:
            self.down_since = self._reminded_at = now
            log.warning("%s: cannot deliver event %d (%s); %d event(s) wait in the store, retrying with backoff",
                        self.describe(), event.id, error, self.backlog)
        elif now - self._reminded_at >= REMIND_EVERY_S:
            self._reminded_at = now
            log.warning("%s: still cannot deliver, down for %.0f s (last error: %s); %d event(s) wait in the store",
                        self.describe(), now - self.down_since, error, self.backlog)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx is an answer like any other (an HTTPError): following it would send the signature, the event id
    and the credentials to wherever it points, as a GET without the body."""

    def redirect_request(self, *args: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def webhook_target(url: str, earlier: Sequence[str] = ()) -> str:
    """A webhook's cursor name: its URL without user, password, query or fragment (nothing a secret could be
    guessed from), and `#N` where webhooks before it in the config share that name."""
    name = redact(url)
    twins = sum(redact(other) == name for other in earlier)
    return f"webhook:{name}" + (f"#{twins + 1}" if twins else "")


class WebhookDelivery(Delivery):
    """HTTP POST of each event's JSON to the configured URL and nowhere else (redirects are failures); signed
    with HMAC-SHA256 of the body when a secret is configured; a user and password in the URL (or the password
    from the environment) go as HTTP Basic auth."""

    def __init__(self, store_path: Path, config: WebhookConfig, index: int, earlier: Sequence[str] = ()) -> None:
        """`earlier`: the URLs of the webhooks before this one in the config."""
        self.config = config
        self.target = webhook_target(config.url, earlier)
        # the cursor's name until December 2026: a hash of the whole URL, from which a password in it could
        # be guessed offline; the store keeps none since
        self.former_target = f"webhook:{hashlib.sha256(config.url.encode()).hexdigest()[:16]}"
        super().__init__(store_path)
        self._label = f"webhook #{index + 1} {redact(config.url)}"
        self._endpoint, self._authorization = basic_auth(config.url, config.password)
        self.index = index

    def describe(self) -> str:
        return self._label

    @property
    def label(self) -> str:
        """By its place in the config: short, for metrics and the API."""
        return f"webhook:{self.index + 1}"

    def send(self, run: int, event: Event) -> None:
        body = json.dumps(event_record(run, event)).encode()
        headers = {"Content-Type": "application/json", "User-Agent": f"maskwatch/{VERSION}",
                   "X-Maskwatch-Event-Id": str(event.id)}
        if self.config.secret is not None:
            headers[SIGNATURE_HEADER] = sign(self.config.secret, body)
        if self._authorization is not None:
            headers["Authorization"] = self._authorization
        request = urllib.request.Request(self._endpoint, body, headers, method="POST")
        try:
            with _OPENER.open(request, timeout=self.config.timeout_s) as response:
                response.read(1024)
        except urllib.error.HTTPError as error:
            with error:
                if 300 <= error.code < 400:
                    raise DeliveryFailed(self._redirected(error.code, error.headers.get("Location"))) from None
                raise DeliveryFailed(f"HTTP {error.code}") from None
        except (urllib.error.URLError, OSError) as error:
            raise DeliveryFailed(str(getattr(error, "reason", error))) from None
        except http.client.HTTPException as error:  # a reply that is not HTTP
            raise DeliveryFailed(f"bad HTTP reply ({type(error).__name__})") from None

    def _redirected(self, status: int, location: str | None) -> str:
        """What the operator needs to fix the URL: the status and where it points (redacted)."""
        if not location:
            return f"HTTP {status}, a redirect without a Location; redirects are not followed"
        try:
            where = redact(urljoin(self._endpoint, location))
        except ValueError:
            where = "an address that is not a URL"
        return f"HTTP {status}, a redirect to {where}; redirects are not followed: set the webhook's url to it"


def basic_auth(url: str, password: str | None = None) -> tuple[str, str | None]:
    """The URL without its user and password (urllib would take them for part of the host name), and the HTTP
    Basic Authorization header they make, if the URL has a user; `password` (from the environment) replaces
    one in the URL."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    credentials = f"{unquote(parts.username)}:{password if password is not None else unquote(parts.password or '')}"
    endpoint = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    return endpoint, "Basic " + base64.b64encode(credentials.encode()).decode()


def sign(secret: bytes, body: bytes) -> str:
    """The signature header's value for a body: what a receiver computes to check it."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class MqttDelivery(Delivery):
    """The events of one camera on `<prefix>/<camera>/events` (QoS 1), and its retained status on
    `<prefix>/<camera>/status`, which the broker sets to offline (the last will) if this process dies; its
    live picture on `<prefix>/<camera>/picture` (unless `picture` is False: a site that keeps no faces); and,
    on every connection, the Home Assistant discovery configs of the camera (`home_assistant`)."""

    def __init__(self, store_path: Path, config: MqttConfig, camera: str, picture: bool = True) -> None:
        import paho.mqtt.client as mqtt

        self.target, self.source = f"mqtt:{camera}", camera
        super().__init__(store_path)
        self.config, self.camera = config, camera
        self.events_topic = f"{config.topic_prefix}/{camera}/events"
        self.status_topic = f"{config.topic_prefix}/{camera}/status"
        self.picture_topic = f"{config.topic_prefix}/{camera}/picture" if picture else None
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"maskwatch-{camera}-{id(self):x}")
        client.will_set(self.status_topic, json.dumps({"camera": camera, "state": "offline"}), qos=1, retain=True)
        if config.username is not None:
            client.username_pw_set(config.username, config.password)
        if config.tls:
            client.tls_set(ca_certs=_str(config.ca_file), certfile=_str(config.cert_file),
                           keyfile=_str(config.key_file), cert_reqs=ssl.CERT_REQUIRED)
        client.reconnect_delay_set(1, 30)
        client.on_connect = self._connected
        self.client = client
        self._status: dict = {"camera": camera, "state": "starting"}

    def describe(self) -> str:
        return f"MQTT {self.config.host}:{self.config.port} {self.events_topic}"

    def start(self) -> None:
        self.client.connect_async(self.config.host, self.config.port, self.config.keepalive_s)
        self.client.loop_start()
        super().start()

    def _connected(self, client, userdata, flags, reason, properties) -> None:
        if reason.is_failure:
            return
        if self.config.discovery:
            for topic, payload in discovery_messages(self.config.discovery_prefix, self.camera, self.status_topic,
                                                     self.events_topic, self.picture_topic):
                client.publish(topic, payload, qos=1, retain=True)
        self.publish_status(self._status)

    def publish_picture(self, jpeg: bytes | None) -> None:
        """The camera's latest annotated picture (retained: Home Assistant shows it at once)."""
        if self.picture_topic and jpeg and self.client.is_connected():
            self.client.publish(self.picture_topic, jpeg, qos=0, retain=True)

    def publish_status(self, status: dict) -> None:
        """Retained, so a subscriber that comes later sees it at once."""
        self._status = status
        if self.client.is_connected():
            self.client.publish(self.status_topic, json.dumps(status), qos=1, retain=True)

    def send(self, run: int, event: Event) -> None:
        if not self.client.is_connected():
            raise DeliveryFailed("not connected to the broker")
        info = self.client.publish(self.events_topic, json.dumps(event_record(run, event)), qos=1)
        info.wait_for_publish(timeout=self.config.keepalive_s)
        if not info.is_published():
            raise DeliveryFailed("no acknowledgement from the broker")

    def stop(self, drain_s: float = 0.0) -> None:
        super().stop(drain_s)
        if self.client.is_connected():  # a clean disconnect sends no will: say offline ourselves
            # a camera that is off sees no one
            offline = {**self._status, "state": "offline", "in_view": {}, "alerting": 0}
            self.client.publish(self.status_topic, json.dumps(offline), qos=1, retain=True).wait_for_publish(timeout=2)
        self.client.disconnect()
        self.client.loop_stop()


def _str(path: Path | None) -> str | None:
    return None if path is None else str(path)
