"""`maskwatch serve` over real HTTP: a uvicorn server on a free loopback port, and headless Chromium on the page."""

from __future__ import annotations

import base64
import json
import socket
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
import uvicorn
from skimage import data

from maskwatch.web.serve import create_app
from tests.browser import chromium, needs_chromium, wait_for

LIMIT = 2**20
SCREENSHOT = Path("/tmp/maskwatch-serve.png")
FACE_KEYS = {"box", "score", "label", "confidence", "probs", "person", "state"}


@contextmanager
def running(app) -> Iterator[str]:
    """The app on uvicorn in a background thread; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the server did not start (see the log above)")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with running(create_app(max_body=LIMIT)) as url:
        yield url


@pytest.fixture(scope="module")
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def astronaut_jpeg() -> bytes:
    return cv2.imencode(".jpg", cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))[1].tobytes()


def check_astronaut(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["width"], result["height"]) == (512, 512)
    assert set(result["timing_ms"]) == {"decode", "detect", "total"}
    [face] = result["faces"]
    assert set(face) == FACE_KEYS
    x1, y1, x2, y2 = face["box"]
    assert 150 < (x1 + x2) / 2 < 250 and 60 < (y1 + y2) / 2 < 170  # Eileen Collins' face
    assert face["label"] == "without_mask" and face["state"] == "without_mask" and face["person"] is None


def check_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    [message] = response.json().values()
    assert response.json() == {"error": message} and message
    return message


def test_raw_body_finds_the_unmasked_astronaut(client, astronaut_jpeg):
    check_astronaut(client.post("/v1/detect", content=astronaut_jpeg, headers={"Content-Type": "image/jpeg"}))


def test_multipart_upload_finds_the_unmasked_astronaut(client, astronaut_jpeg):
    check_astronaut(client.post("/v1/detect", files={"file": ("astronaut.jpg", astronaut_jpeg, "image/jpeg")}))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny valid PNG whose header claims width x height: a decompression bomb as far as a decoder knows."""
    png = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes()
    chunk = b"IHDR" + struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return png[:8] + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk)) + png[33:]


@pytest.mark.parametrize("name, body, status", [
    ("corrupt jpeg", b"\xff\xd8\xff\xe0" + bytes(range(256)) * 20, 400),
    ("truncated jpeg", None, 400),
    ("empty", b"", 400),
    ("pixel bomb", png_claiming(30000, 30000), 413),
])
def test_bad_images_get_json_errors(client, astronaut_jpeg, name, body, status):
    body = astronaut_jpeg[: len(astronaut_jpeg) // 2] if body is None else body
    check_error(client.post("/v1/detect", content=body, headers={"Content-Type": "image/jpeg"}), status)


def test_other_content_types_and_forms_are_refused(client, astronaut_jpeg):
    assert "Content-Type" in check_error(client.post("/v1/detect", content=b"hello",
                                                     headers={"Content-Type": "text/plain"}), 415)
    check_error(client.post("/v1/detect", files={"photo": ("a.jpg", astronaut_jpeg, "image/jpeg")}), 400)
    check_error(client.post("/v1/detect", content=b"xx", headers={"Content-Type": "multipart/form-data"}), 400)


def test_bodies_over_the_limit_get_413_declared_or_chunked(client):
    big = bytes(2 * LIMIT)
    check_error(client.post("/v1/detect", content=big, headers={"Content-Type": "image/jpeg"}), 413)
    chunks = (big[i : i + 65536] for i in range(0, len(big), 65536))  # no Content-Length: the server counts
    check_error(client.post("/v1/detect", content=chunks, headers={"Content-Type": "image/jpeg"}), 413)
    check_error(client.post("/v1/detect", files={"file": ("big.jpg", big, "image/jpeg")}), 413)


def test_framework_errors_are_json_too(client):
    check_error(client.get("/nowhere"), 404)
    check_error(client.get("/static/nowhere.js"), 404)
    response = client.get("/v1/detect")
    check_error(response, 405)
    assert response.headers["allow"] == "POST"


def test_server_stays_healthy_after_bad_requests(client, astronaut_jpeg):
    for body, kind in [(b"junk", "image/png"), (b"", "image/jpeg"), (b"x", "text/plain"), (bytes(LIMIT + 1), "image/")]:
        assert client.post("/v1/detect", content=body, headers={"Content-Type": kind}).status_code >= 400
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["model"].endswith(".tflite")
    assert {"with_mask", "without_mask"} <= set(health["labels"])
    check_astronaut(client.post("/v1/detect", content=astronaut_jpeg, headers={"Content-Type": "image/jpeg"}))


def test_concurrent_requests_all_succeed(base_url, astronaut_jpeg):
    def three(_: int) -> list[httpx.Response]:
        with httpx.Client(base_url=base_url, timeout=120) as client:
            return [client.post("/v1/detect", content=astronaut_jpeg, headers={"Content-Type": "image/jpeg"})
                    for _ in range(3)]

    with ThreadPoolExecutor(16) as pool:
        responses = [r for batch in pool.map(three, range(16)) for r in batch]
    assert len(responses) == 48
    for response in responses:
        check_astronaut(response)


def test_page_script_and_docs_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and 'id="camera"' in page.text and "/static/app.js" in page.text
    assert "/v1/detect" in client.get("/static/app.js").text
    assert client.get("/docs").status_code == 200
    assert "/v1/detect" in client.get("/openapi.json").json()["paths"]


@needs_chromium
def test_live_camera_page_labels_the_face_in_a_real_browser(base_url, client, tmp_path, astronaut_jpeg):
    labels = client.get("/healthz").json()["labels"]
    with chromium(f"{base_url}/", tmp_path) as page:
        wait_for(lambda: page.evaluate("document.readyState === 'complete' && !!document.getElementById('camera')"),
                 30, "the page to load")
        page.evaluate("document.getElementById('camera').click()")
        faces = wait_for(lambda: json.loads(page.evaluate("document.getElementById('stage').dataset.faces") or "[]"),
                         30, "a labelled face box on the live video")
        fps = wait_for(lambda: page.evaluate("parseFloat(document.getElementById('fps').textContent)"), 30,
                       "the frame rate")
        listed = page.evaluate("[...document.querySelectorAll('#labels li')].map(li => li.dataset.label)")
        state = page.evaluate("document.getElementById('stage').dataset.state")
        boxes = page.evaluate("['video', 'overlay'].map(id => JSON.stringify(document.getElementById(id)"
                              ".getBoundingClientRect()))")
        picture = base64.b64decode(page.call("Page.captureScreenshot", format="png")["data"])
        (tmp_path / "page.png").write_bytes(picture)
        SCREENSHOT.write_bytes(picture)
        # The other way in: pick a photo (the file chooser is set through DevTools), boxes drawn over it.
        photo = tmp_path / "astronaut.jpg"
        photo.write_bytes(astronaut_jpeg)
        root = page.call("DOM.getDocument")["root"]["nodeId"]
        node = page.call("DOM.querySelector", nodeId=root, selector="#photo")["nodeId"]
        page.call("DOM.setFileInputFiles", nodeId=node, files=[str(photo)])
        wait_for(lambda: page.evaluate("document.getElementById('stage').dataset.state") == "photo", 10, "the photo")
        photo_faces = wait_for(lambda: json.loads(page.evaluate("document.getElementById('stage').dataset.faces")),
                               30, "a labelled face box on the photo")
        (tmp_path / "photo.png").write_bytes(base64.b64decode(page.call("Page.captureScreenshot")["data"]))
    assert state == "live" and fps > 0
    assert boxes[0] == boxes[1], "the overlay must cover the video exactly"
    assert [face["label"] for face in faces] == listed
    assert all(label in labels for label in listed)
    x1, y1, x2, y2 = faces[0]["box"]
    assert 80 < (x1 + x2) / 2 < 560 and 0 < (y1 + y2) / 2 < 480
    assert [face["label"] for face in photo_faces] == ["without_mask"]


def test_a_token_guards_everything_but_healthz(astronaut_jpeg, monkeypatch, capsys):
    with running(create_app(max_body=LIMIT, workers=1, token="t0k")) as url, httpx.Client(base_url=url) as http:
        assert http.get("/healthz").status_code == 200
        jpeg = {"Content-Type": "image/jpeg"}
        assert http.post("/v1/detect", content=astronaut_jpeg, headers=jpeg).status_code == 401
        assert http.get("/docs").status_code == 401
        check_astronaut(http.post("/v1/detect", content=astronaut_jpeg, headers={
            "Content-Type": "image/jpeg", "Authorization": "Bearer t0k"}))
    import maskwatch.commands

    monkeypatch.delenv("MASKWATCH_TOKEN", raising=False)
    assert maskwatch.commands.main(["serve", "--host", "0.0.0.0"]) == 2
    assert "set a token in the environment variable MASKWATCH_TOKEN" in capsys.readouterr().err


def test_docs_assets_are_served_locally(client):
    docs = client.get("/docs").text
    assert "/static-offline-docs/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert client.get("/static-offline-docs/swagger-ui.css").status_code == 200
