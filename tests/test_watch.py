"""`maskwatch watch` end to end, as a site runs it: a real mosquitto broker, a real webhook receiver, an MJPEG
stream that drops, file cameras on loop, the page in headless Chromium, and the faults of the issue:
the broker stops and comes back, the webhook fails three times, a stream drops, a worker is killed, and
watch itself is killed with SIGKILL and started again. All on loopback ports, each wait bounded."""

from __future__ import annotations

import http.server
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest
from skimage import data

from maskwatch.monitor.delivery import SIGNATURE_HEADER, sign
from maskwatch.store import EventStore
from tests.browser import chromium, needs_chromium
from tests.services import MOSQUITTO, Mosquitto, Subscriber, Watch, WebhookReceiver, door_clip, free_port, wait_until

TOKEN = "test-token-5f2a"
SECRET = "hook-secret-91c3"
SCREENSHOT = Path("/tmp/maskwatch-watch.png")
needs_mosquitto = pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto is not installed "
                                     "(./install.sh --dev installs it, as root with apt)")


class Stream(http.server.BaseHTTPRequestHandler):
    """An IP camera's MJPEG stream that drops the connection after 15 frames at 15 fps."""

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        frame = cv2.cvtColor(cv2.resize(data.astronaut(), (320, 320))[:240], cv2.COLOR_RGB2BGR)
        jpeg = cv2.imencode(".jpg", frame)[1].tobytes()
        try:
            for _ in range(15):
                head = f"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                self.wfile.write(head.encode() + jpeg + b"\r\n")
                time.sleep(1 / 15)
        except OSError:
            pass


def stored(store: Path) -> list[dict]:
    with EventStore.open_existing(store) as events:
        return [{"id": e.id, "source": e.source, "kind": e.kind} for e in events.events()]


def first_seen_ids(events: list[dict]) -> list[int]:
    """Ids in order of first arrival: what a receiver keeps after dropping duplicates by id."""
    seen: dict[int, None] = {}
    for event in events:
        seen.setdefault(event["id"], None)
    return list(seen)


def metric(text: str, name: str) -> float:
    """The value of one sample, named with its labels as Prometheus prints them."""
    return next(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.rsplit(" ", 1)[0] == name)


class Site:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.broker = Mosquitto(folder / "broker")
        self.broker.start()
        self.subscriber = Subscriber(self.broker.port)
        self.hook = WebhookReceiver(fail_first=3)
        self.stream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stream)
        threading.Thread(target=self.stream.serve_forever, daemon=True).start()
        clip = door_clip(folder / "door.mp4")
        self.store = folder / "events.db"
        port = free_port()
        config = folder / "site.toml"
        config.write_text(f"""
store = "events.db"
[http]
port = {port}
[[camera]]
name = "door"
source = "{clip.name}"
loop = true
[[camera]]
name = "hall"
source = "{clip.name}"
loop = true
[[camera]]
name = "street"
source = "http://127.0.0.1:{self.stream.server_address[1]}/live.mjpg"
[[alert]]
state = "without_mask"
after_s = 0.5
cooldown_s = 60
[mqtt]
port = {self.broker.port}
[[webhook]]
url = "{self.hook.url}"
secret_env = "HOOK_SECRET"
""")
        self.watch = Watch(config, {"MASKWATCH_TOKEN": TOKEN, "HOOK_SECRET": SECRET}, port)

    def close(self) -> None:
        if self.watch.process.poll() is None:
            self.watch.stop(signal.SIGKILL)
        self.subscriber.close()
        self.broker.stop()
        self.hook.close()
        self.stream.shutdown()
        self.stream.server_close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed (./install.sh --dev installs it, as root with apt)")
    site = Site(tmp_path_factory.mktemp("site"))
    try:
        site.watch.wait_running()
        yield site
    finally:
        site.close()


def test_page_api_and_metrics_need_the_token(site: Site) -> None:
    import httpx

    bare = httpx.Client(base_url=site.watch.base, timeout=10)
    assert bare.get("/healthz").status_code == 200
    for path in ("/", "/api/cameras", "/api/events", "/metrics", "/api/events.csv", "/docs"):
        assert bare.get(path).status_code == 401, path
    assert bare.get("/api/cameras", headers={"Authorization": "Bearer wrong"}).status_code == 401
    page = bare.get(f"/?token={TOKEN}")
    assert page.status_code == 200 and "dashboard.js" in page.text and bare.cookies.get("maskwatch_token") == TOKEN
    assert bare.get("/api/cameras").status_code == 200  # the cookie carries it now
    bare.close()
    for path in ("/metrics", "/metrics/"):  # both, without make_asgi_app's redirect
        response = site.watch.get(path)
        assert response.status_code == 200 and 'maskwatch_frames_total{camera="door"}' in response.text
        assert 'maskwatch_frames_still_total{camera="door"}' in response.text
    docs = site.watch.get("/docs").text
    assert "/static-offline-docs/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert site.watch.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200


def test_events_alerts_and_snapshots_are_recorded(site: Site) -> None:
    wait_until(lambda: {"person_appeared", "alert", "person_left"} <= {e["kind"] for e in stored(site.store)},
               60, "a person to appear, be alerted on and leave")
    alert = next(e for e in site.watch.get("/api/events?limit=200").json() if e["kind"] == "alert")
    assert alert["state"] == "without_mask" and alert["duration_s"] >= 0.5 and alert["snapshot_url"]
    snapshot = site.watch.get(alert["snapshot_url"])
    assert snapshot.status_code == 200 and snapshot.content[:2] == b"\xff\xd8"
    assert site.watch.get("/api/snapshots/..%2Fevents.db").status_code == 404
    csv_text = site.watch.get("/api/events.csv").text
    assert csv_text.startswith("id,run,kind") and ",alert," in csv_text


def test_webhook_failing_three_times_then_delivers_signed_events(site: Site) -> None:
    wait_until(lambda: len(site.hook.received) >= 3, 60, "webhook deliveries")
    first_event = stored(site.store)[0]["id"]
    headers, body = site.hook.received[0]
    assert json.loads(body)["id"] == first_event  # the one refused three times came first, once it worked
    assert site.hook.attempts >= len(site.hook.received) + 3
    for headers, body in site.hook.received:
        assert headers[SIGNATURE_HEADER] == sign(SECRET.encode(), body)
        assert headers["X-Maskwatch-Event-Id"] == str(json.loads(body)["id"])
    assert SECRET not in site.watch.text()


def test_dropped_stream_reconnects_and_shows_in_metrics(site: Site) -> None:
    wait_until(lambda: site.watch.cameras()["street"]["reconnects"] >= 2, 60, "the stream to reconnect twice")
    metrics = site.watch.get("/metrics").text
    assert metric(metrics, 'maskwatch_reconnects_total{camera="street"}') >= 2
    assert metric(metrics, 'maskwatch_stream_gap_seconds_total{camera="street"}') > 0
    assert "reconnected after" in site.watch.text()


def test_a_killed_worker_restarts_and_the_others_run_on(site: Site) -> None:
    before = site.watch.cameras()
    os.kill(before["door"]["pid"], signal.SIGKILL)
    after = wait_until(lambda: (c := site.watch.cameras())["door"]["restarts"] == 1
                       and c["door"]["state"] == "running" and c, 60, "the door worker to restart")
    assert after["door"]["pid"] != before["door"]["pid"] and after["door"]["last_exit"] == "killed by signal 9"
    assert after["hall"]["pid"] == before["hall"]["pid"] and after["hall"]["restarts"] == 0
    assert after["hall"]["frames"] > before["hall"]["frames"] + 10  # it ran on meanwhile
    assert "camera door: worker killed by signal 9" in site.watch.text()
    metrics = site.watch.get("/metrics").text
    assert metric(metrics, 'maskwatch_worker_restarts_total{camera="door"}') == 1


def test_events_wait_while_the_broker_is_down_and_flow_when_it_is_back(site: Site) -> None:
    wait_until(lambda: len(site.subscriber.events()) >= 2, 60, "MQTT events")
    site.broker.stop()
    stopped_at = len(stored(site.store))
    wait_until(lambda: len(stored(site.store)) >= stopped_at + 4, 60, "events recorded while the broker is down")

    def waiting() -> float:
        return metric(site.watch.get("/metrics").text, 'maskwatch_outbox_depth{target="mqtt:door"}')

    assert wait_until(lambda: waiting() > 0, 10, "events waiting for the broker")
    site.broker.start()
    wait_until(lambda: waiting() == 0, 60, "the outbox to drain into the broker")


@needs_chromium
def test_site_page_in_a_real_browser(site: Site, tmp_path: Path) -> None:
    with chromium(f"{site.watch.base}/?token={TOKEN}", tmp_path) as page:
        ready = ("document.querySelectorAll('.camera').length === 3 && document.querySelector('#events tr')"
                 " && document.querySelector('.camera[data-name=door] .view').naturalWidth > 0"
                 " && [...document.querySelectorAll('#events img')].some(i => i.complete && i.naturalWidth > 0)")
        wait_until(lambda: page.evaluate(ready), 30, "the page to show cameras and events")
        values = page.evaluate("""({
            people: Number(document.getElementById('people-today').textContent),
            compliance: document.getElementById('compliance-today').textContent,
            hours: document.querySelectorAll('#chart g.hour').length,
            bars: [...document.querySelectorAll('#chart rect')].map(r => r.dataset.state),
            states: Object.fromEntries([...document.querySelectorAll('.camera')].map(
                c => [c.dataset.name, c.querySelector('.state').textContent])),
            view: document.querySelector('.camera[data-name=door] .view').naturalWidth,
            snapshots: [...document.querySelectorAll('#events img')].filter(i => i.naturalWidth > 0).length,
            kinds: [...document.querySelectorAll('#events .kind')].map(k => k.textContent),
            csv: document.getElementById('csv-today').getAttribute('href'),
        })""")
        shot = page.call("Page.captureScreenshot", format="png")["data"]
    import base64

    SCREENSHOT.write_bytes(base64.b64decode(shot))
    assert values["people"] > 0 and values["compliance"] == "0.0%"  # the astronaut wears no mask
    assert values["hours"] == 24 and "without_mask" in values["bars"]
    assert values["states"]["door"] == "running" and values["states"]["hall"] == "running"
    assert values["view"] == 640 and values["snapshots"] > 0 and "alert" in values["kinds"]
    assert values["csv"].startswith("/api/events.csv?since=")


def test_after_a_clean_stop_every_recorded_event_was_delivered_in_order(site: Site) -> None:
    # Every camera's MQTT client back on the broker that an earlier test restarted (paho's reconnect backoff
    # reaches 30 s): a target still down at the stop keeps its events for the next start, by design.
    since, cameras = time.time(), ("door", "hall", "street")
    wait_until(lambda: all((site.subscriber.status(c) or {}).get("updated", 0) > since for c in cameras), 60,
               "a fresh retained status of every camera")
    assert site.watch.stop() == 0
    events = stored(site.store)
    assert {e["source"] for e in events} >= {"door", "hall"}
    for camera in ("door", "hall", "street"):
        ids = [e["id"] for e in events if e["source"] == camera]

        def delivered(camera: str = camera) -> list[int]:
            return first_seen_ids([e for e in site.subscriber.events() if e["source"] == camera])

        wait_until(lambda ids=ids, delivered=delivered: delivered() == ids, 20, f"every {camera} event over MQTT")
        wait_until(lambda camera=camera: (site.subscriber.status(camera) or {}).get("state") == "offline",
                   10, f"{camera}'s retained status to say offline")
    hooked = first_seen_ids(site.hook.events())
    assert hooked == [e["id"] for e in events]  # every one, in id order


@needs_mosquitto
def test_kill_9_of_watch_loses_nothing_the_next_run_delivers_the_rest(tmp_path: Path) -> None:
    clip = door_clip(tmp_path / "door.mp4")
    hook_port, port = free_port(), free_port()
    config = tmp_path / "site.toml"
    config.write_text(f'store = "events.db"\n[http]\nport = {port}\n[[camera]]\nname = "door"\nsource = "{clip.name}"'
                      f'\nloop = true\n[[alert]]\nstate = "without_mask"\nafter_s = 0.5\n'
                      f'[[webhook]]\nurl = "http://127.0.0.1:{hook_port}/hook"\n')
    watch = Watch(config, port=port)
    try:
        watch.wait_running()
        wait_until(lambda: len(stored(tmp_path / "events.db")) >= 4, 60, "events while the webhook is down")
        worker = watch.cameras()["door"]["pid"]
        assert watch.stop(signal.SIGKILL) == -signal.SIGKILL
    finally:
        if watch.process.poll() is None:
            watch.stop(signal.SIGKILL)
    wait_until(lambda: not Path(f"/proc/{worker}").exists() or "zombie" in Path(f"/proc/{worker}/status").read_text()
               .lower(), 20, "the orphaned worker to stop")
    before = [e["id"] for e in stored(tmp_path / "events.db")]
    hook = WebhookReceiver(port=hook_port)
    again = Watch(config, port=port)
    try:
        wait_until(lambda: set(before) <= set(first_seen_ids(hook.events())), 60, "the events of the killed run")
        assert again.stop() == 0
        assert first_seen_ids(hook.events()) == [e["id"] for e in stored(tmp_path / "events.db")]
    finally:
        if again.process.poll() is None:
            again.stop(signal.SIGKILL)
        hook.close()


def test_sigterm_while_starting_up_stops_in_order(tmp_path: Path) -> None:
    clip = door_clip(tmp_path / "door.mp4")
    port = free_port()
    config = tmp_path / "site.toml"
    config.write_text(f'store = "events.db"\n[http]\nport = {port}\n[[camera]]\nname = "door"\nsource = "{clip.name}"'
                      f'\nloop = true\n[[webhook]]\nurl = "http://127.0.0.1:{free_port()}/hook"\n')
    watch = Watch(config, port=port)
    try:
        wait_until(lambda: "watching: " in watch.text(), 60, "watch to begin starting its parts")
        assert watch.stop() == 0  # not killed by the signal: it stopped what it had started
        assert "stopped by SIGTERM" in watch.text() and "Traceback" not in watch.text()
    finally:
        if watch.process.poll() is None:
            watch.stop(signal.SIGKILL)


def test_watch_in_process_gives_back_the_signal_handlers_it_found(tmp_path: Path) -> None:
    """`maskwatch.commands.main(["watch", ...])` in one's own process: after it stops, Ctrl-C and SIGTERM do
    what they did before (not ignored, as watch has them while it stops in order)."""
    import httpx

    import maskwatch.commands

    door_clip(tmp_path / "door.mp4")
    port = free_port()
    (tmp_path / "site.toml").write_text(f'store = "events.db"\n[http]\nport = {port}\n'
                                        '[[camera]]\nname = "door"\nsource = "door.mp4"\nloop = true\n')
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def up() -> bool:
        try:
            return any(c["frames"] > 0 for c in httpx.get(f"http://127.0.0.1:{port}/api/cameras", timeout=2).json())
        except (httpx.HTTPError, ValueError):
            return False

    ran = []

    def stop_when_up() -> None:
        try:
            ran.append(wait_until(up, 120, "watch to run its camera"))
        finally:  # stopped either way, so that the test cannot hang
            os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=stop_when_up, daemon=True).start()
    assert maskwatch.commands.main(["watch", str(tmp_path / "site.toml")]) == 0 and ran
    assert {sig: signal.getsignal(sig) for sig in before} == before
