"""A camera URL's user, password and query (an API key) reach the camera and nothing else: not a log line,
failure, summary, JSON Lines or event `source`, nor watch's log, /api/cameras or /metrics. Real loopback
servers: an MJPEG camera behind basic auth that drops and then answers garbage, and a closed RTSP port."""

from __future__ import annotations

import base64
import http.server
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest
from skimage import data

from maskwatch.io.sources import redact
from tests.services import Watch, free_port, wait_until

USER, PASSWORD, KEY = "admin", "pw-7c1e9f", "key-52ab0d"
SECRETS = (PASSWORD, KEY, f"{USER}:")
FRAMES_PER_STREAM = 5


class Camera(http.server.BaseHTTPRequestHandler):
    """An IP camera: 401 without the right basic auth, else FRAMES_PER_STREAM frames of MJPEG and the
    connection drops. After `server.streams` streams it answers garbage, as a camera gone bad."""

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        server = self.server
        server.requests.append((self.path, self.headers.get("Authorization")))
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if self.headers.get("Authorization") != expected or f"apikey={KEY}" not in self.path:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="camera"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if server.streams == 0:
            self.wfile.write(b"garbage, not HTTP\r\n\r\n")
            return
        server.streams -= 1
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        jpeg = cv2.imencode(".jpg", cv2.cvtColor(cv2.resize(data.astronaut(), (320, 320))[:240],
                                                 cv2.COLOR_RGB2BGR))[1].tobytes()
        try:
            for _ in range(FRAMES_PER_STREAM):
                self.wfile.write(f"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                                 .encode() + jpeg + b"\r\n")
                time.sleep(0.05)
        except OSError:
            pass


def camera_server(streams: int) -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Camera)
    server.streams, server.requests = streams, []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def camera() -> Iterator[http.server.ThreadingHTTPServer]:
    server = camera_server(streams=1)
    yield server
    server.shutdown()
    server.server_close()


def secret_url(scheme: str, port: int) -> str:
    return f"{scheme}://{USER}:{PASSWORD}@127.0.0.1:{port}/live.mjpg?apikey={KEY}"


def assert_no_secret(text: str, where: str) -> None:
    found = [secret for secret in SECRETS if secret in text]
    assert not found, f"{found} in {where}: {text[:3000]}"


@pytest.mark.parametrize(("url", "redacted"), [
    ("rtsp://admin:pw@cam.local:554/Streaming/Channels/101?apikey=x#y", "rtsp://cam.local:554/Streaming/Channels/101"),
    ("http://user@[fe80::1]:8080/video?token=t", "http://[fe80::1]:8080/video"),
    ("https://hooks.example.org:99999/x?key=k", "https://hooks.example.org/x"),  # a bad port: no exception
])
def test_redact(url: str, redacted: str) -> None:
    assert redact(url) == redacted


def test_detect_on_streams_with_credentials_never_shows_them(camera, tmp_path: Path) -> None:
    runs = {}
    for name, url in (("http", secret_url("http", camera.server_address[1])),
                      ("rtsp", secret_url("rtsp", free_port()))):  # a port no one listens on
        out = tmp_path / name
        out.mkdir()
        runs[name] = (out, subprocess.Popen(
            [sys.executable, "-m", "maskwatch", "detect", url, "--no-show", "--json", str(out / "faces.jsonl"),
             "--summary", str(out / "summary.json"), "--events", str(out / "events.db")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    for name, (out, process) in runs.items():
        _, stderr = process.communicate(timeout=240)
        assert process.returncode == 1, stderr
        assert f"{name}://127.0.0.1:" in stderr and "gave up after 5 reconnects" in stderr  # it did say what failed
        assert_no_secret(stderr, f"{name} stderr")
        for path in out.rglob("*"):  # JSON Lines, summary, event store and snapshots, by name and content
            assert_no_secret(str(path.relative_to(out)), "file names")
            if path.is_file():
                assert_no_secret(path.read_bytes().decode("latin-1"), str(path))
    records = [json.loads(line) for line in (runs["http"][0] / "faces.jsonl").read_text().splitlines()]
    assert len(records) == FRAMES_PER_STREAM  # the credentials did reach the camera
    assert {r["source"] for r in records} == {f"http://127.0.0.1:{camera.server_address[1]}/live.mjpg"}
    assert (f"/live.mjpg?apikey={KEY}", "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()) \
        in camera.requests


def test_watch_with_a_camera_url_with_credentials_never_shows_them(tmp_path: Path) -> None:
    server = camera_server(streams=10**6)  # drops every FRAMES_PER_STREAM frames, comes back at once
    port = free_port()
    config = tmp_path / "site.toml"
    config.write_text(f'store = "events.db"\n[http]\nport = {port}\n[[camera]]\nname = "door"\n'
                      f'source = "{secret_url("http", server.server_address[1])}"\n')
    watch = Watch(config, port=port)  # -v: OpenCV and FFmpeg have their say too
    try:
        watch.wait_running()
        wait_until(lambda: watch.cameras()["door"]["reconnects"] >= 1, 60, "the camera to drop and come back")
        pages = {path: watch.get(path).text for path in ("/api/cameras", "/metrics", "/", "/api/events")}
        assert watch.stop() == 0
    finally:
        if watch.process.poll() is None:
            watch.stop(signal.SIGKILL)
        server.shutdown()
        server.server_close()
    for path, text in pages.items():
        assert_no_secret(text, path)
    log = watch.text()
    assert "reconnected after" in log
    assert_no_secret(log, "watch's log")
    assert_no_secret((tmp_path / "events.db").read_bytes().decode("latin-1"), "the event store")
