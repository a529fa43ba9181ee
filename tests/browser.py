"""Headless Chromium driven over the DevTools protocol, for tests of the pages `serve` and `watch` serve."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.request import urlopen

import cv2
import numpy as np
import pytest
from skimage import data

CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"headless Chromium not found at {CHROMIUM} "
                                    "(./install.sh --dev installs it, as root with apt)")


def write_y4m(path: Path, frames: int = 20) -> None:
    """A 640x480 raw video of the astronaut (letterboxed, not stretched) for Chromium's fake camera."""
    frame = np.full((480, 640, 3), 128, np.uint8)
    frame[:, 80:560] = cv2.resize(data.astronaut(), (480, 480), interpolation=cv2.INTER_AREA)
    planes = cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes()  # Y, then U and V at half resolution
    with path.open("wb") as out:
        out.write(b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n")
        for _ in range(frames):
            out.write(b"FRAME\n" + planes)


class DevTools:
    """The few Chrome DevTools Protocol calls the test needs, over one websocket."""

    def __init__(self, websocket_url: str):
        import websocket

        self.socket = websocket.create_connection(websocket_url, timeout=30, suppress_origin=True)
        self.last_id = 0

    def call(self, method: str, **params: object) -> dict:
        self.last_id += 1
        self.socket.send(json.dumps({"id": self.last_id, "method": method, "params": params}))
        while True:  # events are not enabled, but skip anything that is not our answer
            message = json.loads(self.socket.recv())
            if message.get("id") == self.last_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression: str) -> object:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")


def wait_for(check, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.25)
    pytest.fail(f"gave up after {seconds:.0f} s waiting for {what}")


@contextmanager
def chromium(url: str, tmp_path: Path) -> Iterator[DevTools]:
    """Headless Chromium on `url` with the y4m file as its camera; yields a DevTools connection to the page."""
    pytest.importorskip("websocket", reason="websocket-client is not installed (pip install -e '.[dev]')")
    camera, profile = tmp_path / "camera.y4m", tmp_path / "profile"
    write_y4m(camera)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
             f"--use-file-for-fake-video-capture={camera}", f"--user-data-dir={profile}",
             "--remote-debugging-port=0", "--window-size=1280,860"]
    with (tmp_path / "chromium.log").open("wb") as log:
        browser = subprocess.Popen([str(CHROMIUM), *flags, url], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                   start_new_session=True)
    try:
        port_file = profile / "DevToolsActivePort"
        wait_for(lambda: port_file.is_file() and port_file.read_text().strip(), 30, "Chromium's DevTools port")
        port = int(port_file.read_text().split()[0])
        targets = json.loads(urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
        page = next(t for t in targets if t["type"] == "page")
        devtools = DevTools(page["webSocketDebuggerUrl"])
        try:
            yield devtools
        finally:
            devtools.socket.close()
    finally:
        browser.terminate()
        try:
            browser.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(browser.pid, signal.SIGKILL)
            browser.wait(10)
