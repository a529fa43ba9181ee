"""Real services on loopback for the tests and benchmarks of `maskwatch watch`: Debian's mosquitto broker, an
HTTP webhook receiver, an MQTT subscriber, the `watch` process itself, and a clip for file cameras; and the
`serve` process."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import httpx
import numpy as np
from skimage import data

MOSQUITTO = shutil.which("mosquitto") or next((p for p in ("/usr/sbin/mosquitto",) if Path(p).exists()), None)
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(check: Callable[[], object], seconds: float, what: str) -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.1)
    raise TimeoutError(f"gave up after {seconds:.0f} s waiting for {what}")


def interruptible() -> None:
    """Popen's preexec_fn for a child a test stops with SIGINT: Ctrl-C at its default, as a command run
    from a terminal has it. A shell's background job (`pytest ... &` in a script) ignores SIGINT, and a
    child inherits that: Python then installs no KeyboardInterrupt, and the child would run on."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def door_clip(path: Path, fps: float = 10.0, seconds_in: float = 2.0, seconds_out: float = 1.5,
              size: tuple[int, int] = (640, 480)) -> Path:
    """A camera's view of a door: the astronaut's bare face for `seconds_in`, then nobody for `seconds_out`
    (longer than the 1 s after which a person has left). Looped, each pass is one person: appeared,
    alert (after a short after_s), left."""
    width, height = size
    side = min(360 * height // 480, height - 40)
    face = cv2.cvtColor(cv2.resize(data.astronaut(), (side, side)), cv2.COLOR_RGB2BGR)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    x, y = (width - side) // 2, (height - side) // 2
    for i in range(round(fps * (seconds_in + seconds_out))):
        frame = np.full((height, width, 3), 90, np.uint8)
        if i < fps * seconds_in:
            frame[y:y + side, x:x + side] = face
        writer.write(frame)
    writer.release()
    return path


def door_site(folder: Path, http: str = "") -> Watch:
    """`watch` of one looped door_clip camera, its store events.db in `folder`, on a free port; `http`: more
    lines of its [http] table."""
    door_clip(folder / "door.mp4")
    port = free_port()
    (folder / "site.toml").write_text(f'store = "events.db"\n[http]\nport = {port}\n{http}\n'
                                      '[[camera]]\nname = "door"\nsource = "door.mp4"\nloop = true\n')
    return Watch(folder / "site.toml", port=port)


class Mosquitto:
    """A mosquitto broker on a loopback port, stoppable and restartable on the same port. Persistence on, so
    a subscriber's session (clean_session=False) and its queued QoS 1 messages survive a restart."""

    def __init__(self, folder: Path) -> None:
        if MOSQUITTO is None:
            raise FileNotFoundError("mosquitto is not installed (./install.sh --dev installs it, as root with apt)")
        self.folder, self.port = folder, free_port()
        folder.mkdir(parents=True, exist_ok=True)
        self.config = folder / "mosquitto.conf"
        # As root, mosquitto drops to user mosquitto, who cannot write in a test's folder: no saved sessions
        # (a subscriber missed what came while it reconnected after a restart), no log. `user root` keeps it.
        self.config.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                               f"persistence_location {folder}/\nlog_dest file {folder}/mosquitto.log\n"
                               + ("user root\n" if os.geteuid() == 0 else ""))
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)

        def listening() -> bool:
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", self.port)) == 0

        wait_until(listening, 10, "mosquitto to listen")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


class Subscriber:
    """A paho MQTT client that keeps every message of `topics` (default `maskwatch/#`) with its topic, in
    arrival order: JSON payloads parsed, others (a camera's JPEG picture) as bytes."""

    def __init__(self, port: int, client_id: str = "test-subscriber",
                 topics: tuple[str, ...] = ("maskwatch/#",)) -> None:
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, dict | bytes]] = []
        self.arrived: list[float] = []  # time.monotonic() of each message
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        self.client.on_connect = lambda client, *_: client.subscribe([(topic, 1) for topic in topics])
        self.client.on_message = self._message
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()

    def _message(self, client, userdata, message) -> None:
        try:
            payload = json.loads(message.payload)
        except ValueError:
            payload = message.payload
        with self.lock:
            self.messages.append((message.topic, payload))
            self.arrived.append(time.monotonic())

    def events(self) -> list[dict]:
        with self.lock:
            return [payload for topic, payload in self.messages if topic.endswith("/events")]

    def status(self, camera: str) -> dict | None:
        with self.lock:
            found = [p for t, p in self.messages if t == f"maskwatch/{camera}/status"]
        return found[-1] if found else None

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class WebhookReceiver:
    """An HTTP server on loopback that answers the first `fail_first` POSTs with 500, then 200, and keeps
    every request it answered 200 to (headers and JSON body). `answers`: (status, headers) for the first POSTs
    instead (a redirect, say); `authorization`: the Authorization header a POST must carry, or it gets 401.
    Every request, of any method, is in `requests` (method, path)."""

    def __init__(self, fail_first: int = 0, port: int | None = None,
                 answers: Sequence[tuple[int, dict[str, str]]] = (), authorization: str | None = None) -> None:
        self.received: list[tuple[dict, bytes]] = []
        self.requests: list[tuple[str, str]] = []
        self.attempts = 0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def answer(self, status: int, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in {**headers, "Content-Length": "0"}.items():
                    self.send_header(name, value)
                self.end_headers()

            def do_GET(self) -> None:
                receiver.requests.append(("GET", self.path))
                self.answer(200, {})

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append(("POST", self.path))
                receiver.attempts += 1
                if receiver.attempts <= len(answers):
                    return self.answer(*answers[receiver.attempts - 1])
                if authorization is not None and self.headers.get("Authorization") != authorization:
                    return self.answer(401, {"WWW-Authenticate": 'Basic realm="hook"'})
                ok = receiver.attempts > fail_first
                if ok:
                    receiver.received.append((dict(self.headers), body))
                self.answer(200 if ok else 500, {})

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port or 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict]:
        return [json.loads(body) for _, body in list(self.received)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Watch:
    """`maskwatch watch CONFIG` as a subprocess in its own session, with its log in a file."""

    def __init__(self, config: Path, env: dict | None = None, port: int | None = None,
                 extra: list[str] | None = None, tls: Path | None = None) -> None:
        """`tls`: the certificate the site serves HTTPS with, which the test client then trusts."""
        self.config, self.log = config, config.with_suffix(".log")
        self.port = port
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "maskwatch", "-v", "watch", str(config),
                                             *(extra or [])],
                                            stdout=log, stderr=log, cwd=config.parent, start_new_session=True,
                                            env={**os.environ, **(env or {})})
        self.base = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        self.http = httpx.Client(base_url=self.base, timeout=10, verify=trusting(tls), headers=(
            {"Authorization": f"Bearer {env['MASKWATCH_TOKEN']}"} if env and "MASKWATCH_TOKEN" in env else {}))

    def get(self, path: str) -> httpx.Response:
        return self.http.get(path)

    def cameras(self) -> dict[str, dict]:
        try:
            return {c["name"]: c for c in self.get("/api/cameras").json()}
        except (httpx.HTTPError, ValueError):
            return {}

    def wait_running(self, seconds: float = 90) -> None:
        def running() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"watch exited with {self.process.returncode}: {self.log.read_text()[-2000:]}")
            cameras = self.cameras()
            return bool(cameras) and all(c["frames"] > 0 for c in cameras.values())

        wait_until(running, seconds, "every camera to process frames")

    def wait_answering(self, seconds: float = 90) -> Watch:
        """Until /healthz answers (the cameras need not have a frame yet)."""
        def answering() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"watch exited with {self.process.returncode}: {self.log.read_text()[-2000:]}")
            try:
                return self.get("/healthz").status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(answering, seconds, "watch to answer /healthz")
        return self

    def stop(self, sig: int = signal.SIGTERM, seconds: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(seconds)
        self.http.close()
        return code

    def text(self) -> str:
        return self.log.read_text(errors="replace")


class Serve:
    """`maskwatch -v serve` as a subprocess in its own session on a loopback address, its log in a file."""

    def __init__(self, log: Path, host: str = "127.0.0.1", extra: list[str] | None = None,
                 env: dict | None = None, tls: Path | None = None) -> None:
        self.log, self.host, self.port, self.verify = log, host, free_port(), trusting(tls)
        with log.open("ab") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "maskwatch", "-v", "serve", "--host", host,
                                             "--port", str(self.port), "--workers", "1", *(extra or [])],
                                            stdout=out, stderr=out, start_new_session=True,
                                            env={**os.environ, **(env or {})})
        self.base = f"{'https' if tls else 'http'}://{host}:{self.port}"

    def wait_ready(self, seconds: float = 120) -> Serve:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited with {self.process.returncode}: {self.text()[-2000:]}")
            try:
                return httpx.get(f"{self.base}/healthz", timeout=5, verify=self.verify).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, seconds, "serve to answer /healthz")
        return self

    def stop(self, seconds: float = 30) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(seconds)

    def text(self) -> str:
        return self.log.read_text(errors="replace")


def trusting(cert: Path | None) -> ssl.SSLContext | bool:
    """httpx's `verify` for a server with this certificate (None: the system's trust)."""
    return ssl.create_default_context(cafile=str(cert)) if cert else True


def self_signed(folder: Path, name: str = "localhost") -> tuple[Path, Path]:
    """A certificate for `name` and 127.0.0.1 signed by its own key (openssl), valid a day: (cert, key)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name},IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return cert, key
