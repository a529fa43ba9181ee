"""Issue 18, items 5 and 10: real `serve` and `watch` processes answer only requests whose Host header names
them (a web page that points its own name at 127.0.0.1, DNS rebinding, gets 421 and no faces), and every
loopback address counts as this machine, as the code, `--help` and docs/site.md say."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from skimage import data

from maskwatch.core.events import Event
from maskwatch.store import EventStore
from tests.services import ROOT, Serve, Watch, door_site

FOREIGN = ("evil.example", "evil.example:{port}", "127.0.0.1.evil.example:{port}", "[::2]:{port}")


def host_get(client: httpx.Client, path: str, host: str) -> httpx.Response:
    return client.get(path, headers={"Host": host})


def check_refused(response: httpx.Response) -> None:
    assert response.status_code == 421, response.text
    assert response.headers["content-type"] == "application/json"
    assert "not a name of this server" in response.json()["error"]


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    server = Serve(tmp_path_factory.mktemp("serve") / "serve.log", extra=["--allowed-host", "maskwatch.lan"])
    try:
        yield server.wait_ready()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def watch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Watch]:
    """A site whose store already holds an event with a face snapshot, reachable also as site.lan."""
    folder = tmp_path_factory.mktemp("site")
    face = np.ascontiguousarray(data.astronaut()[20:150, 135:235])
    with EventStore(folder / "events.db") as store:
        store.add(Event("person_appeared", 1, "lobby.mp4", 3, 0.1, "2024-05-01T10:15:00.000+02:00", "without_mask",
                        (1.0, 2.0, 50.0, 60.0), 0.9, face_image=face))
    site = door_site(folder, 'allowed_hosts = ["Site.LAN"]')
    try:
        yield site.wait_answering()
    finally:
        site.stop()


def test_serve_refuses_a_foreign_host_everywhere_but_healthz(serve: Serve) -> None:
    jpeg = cv2.imencode(".jpg", cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))[1].tobytes()
    with httpx.Client(base_url=serve.base, timeout=30) as client:
        for host in FOREIGN:
            host = host.format(port=serve.port)
            for path in ("/", "/docs", "/openapi.json", "/static/app.js", "/static-offline-docs/swagger-ui.css"):
                check_refused(host_get(client, path, host))
            check_refused(client.post("/v1/detect", content=jpeg, headers={"Host": host,
                                                                           "Content-Type": "image/jpeg"}))
            assert host_get(client, "/healthz", host).status_code == 200  # open to probes by any name
        for host in ("127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}", "LOCALHOST", "maskwatch.lan",
                     "MaskWatch.LAN.:8443"):
            assert host_get(client, "/docs", host.format(port=serve.port)).status_code == 200, host
        found = client.post("/v1/detect", content=jpeg, headers={"Content-Type": "image/jpeg"})
        assert found.status_code == 200 and len(found.json()["faces"]) == 1


def test_watch_gives_no_faces_or_events_to_a_foreign_host(watch: Watch) -> None:
    [stored] = [e for e in watch.get("/api/events").json() if e["source"] == "lobby.mp4"]
    snapshot = stored["snapshot_url"]
    assert snapshot.startswith("/api/snapshots/")
    paths = ("/", "/api/events", "/api/events.csv", snapshot, "/metrics", "/metrics/", "/api/cameras", "/api/today",
             "/docs", "/static/dashboard.js")
    for host in FOREIGN:
        for path in paths:
            check_refused(host_get(watch.http, path, host.format(port=watch.port)))
    assert host_get(watch.http, "/healthz", "evil.example").status_code == 200
    for host in ("127.0.0.1:{port}", "localhost:{port}", "site.lan", "SITE.lan:80"):
        host = host.format(port=watch.port)
        face = host_get(watch.http, snapshot, host)
        assert face.status_code == 200 and face.content.startswith(b"\xff\xd8"), host
        assert "lobby.mp4" in host_get(watch.http, "/api/events.csv", host).text
        assert "maskwatch_camera_up" in host_get(watch.http, "/metrics", host).text


def run_cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "maskwatch", *argv], capture_output=True, text=True, timeout=120)


def test_check_validates_allowed_hosts(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    camera = '[[camera]]\nname = "door"\nsource = "0"\n'
    config.write_text(f'store = "e.db"\n[http]\nallowed_hosts = ["site.lan", "http://x.example/", 7]\n{camera}')
    checked = run_cli("watch", str(config), "--check")
    assert checked.returncode == 2
    assert "http: 'allowed_hosts': 'http://x.example/' is not a host name" in checked.stderr
    assert "http: 'allowed_hosts': 7 is not a string" in checked.stderr
    config.write_text(f'store = "e.db"\n[http]\nallowed_hosts = ["Site.LAN", "[::1]"]\n{camera}')
    checked = run_cli("watch", str(config), "--check")
    assert checked.returncode == 0 and "(also as site.lan, ::1)" in checked.stdout
    bad = run_cli("serve", "--allowed-host", "evil.example:80")
    assert bad.returncode == 2 and "--allowed-host: 'evil.example:80' is not a host name" in bad.stderr


def test_any_loopback_address_serves_without_a_token(tmp_path: Path) -> None:
    server = Serve(tmp_path / "serve.log", host="127.0.0.2", env={"MASKWATCH_TOKEN": ""})
    try:
        server.wait_ready()
        with httpx.Client(base_url=server.base, timeout=30) as client:
            assert client.get("/docs").status_code == 200  # the bound address is a name of the server
            assert client.get("/").status_code == 200
            check_refused(host_get(client, "/", "evil.example"))
    finally:
        server.stop()


def section(text: str, heading: str) -> str:
    return text.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]


def bullet(text: str, name: str) -> str:
    """The docs' bullet `- **name:** ...` with its continuation lines."""
    match = re.search(rf"^- \*\*{name}:\*\*.*(?:\n  .*)*", text, re.M)
    assert match, name
    return " ".join(match[0].split())


def test_docs_and_help_say_loopback_is_this_machine() -> None:
    readme = (ROOT / "docs" / "site.md").read_text()
    binding = bullet(section(readme, "## Serve"), "Binding")
    access = bullet(section(readme, "## Watch a site"), "Access")
    config_line = next(line for line in section(readme, "## Watch a site").splitlines()
                       if line.startswith('host = "127.0.0.1"') and "token" in line)
    for text in (binding, access, config_line):
        assert "loopback" in text and "127.0.0.0/8" in text, text
    for text in (bullet(section(readme, "## Serve"), "Host names"), access):
        assert "allowed" in text and "421" in text and "Beyond loopback" in text.replace("beyond", "Beyond"), text
    serve_help = " ".join(run_cli("serve", "--help").stdout.split())
    assert "loopback address (127.0.0.0/8, ::1, localhost)" in serve_help and "--allowed-host NAME" in serve_help
    watch_help = run_cli("watch", "--help").stdout
    assert "outside loopback (127.0.0.0/8, ::1) needs a token" in watch_help and "allowed_hosts" in watch_help
