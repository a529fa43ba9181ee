"""Shared fixtures: real photos from scikit-image, and the shared datasets when they are present."""

from __future__ import annotations

import functools
import http.server
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
needs_shared = pytest.mark.skipif(not (SHARED / "mask-classify").is_dir(),
                                  reason=f"shared datasets not found at {SHARED}")


def masked(face: np.ndarray) -> np.ndarray:
    """The face with a light-blue surgical-style mask drawn over nose, mouth and chin."""
    out = face.copy()
    h, w = out.shape[:2]
    pts = np.array([[0.18 * w, 0.55 * h], [0.82 * w, 0.55 * h], [0.75 * w, 0.92 * h], [0.25 * w, 0.92 * h]],
                   np.int32)
    cv2.fillPoly(out, [pts], (170, 205, 230))
    return out


@pytest.fixture(scope="session")
def astronaut_face() -> np.ndarray:
    """Eileen Collins' face from skimage's astronaut photo, as a tight RGB crop."""
    return np.ascontiguousarray(data.astronaut()[20:150, 135:235])


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory, astronaut_face) -> Path:
    """20 + 20 jittered face crops, with and without a drawn mask: enough to run training end to end."""
    root = tmp_path_factory.mktemp("tiny")
    rng = np.random.default_rng(0)
    for label in ("with_mask", "without_mask"):
        (root / label).mkdir()
        for i in range(20):
            face = np.clip(astronaut_face * rng.uniform(0.7, 1.3), 0, 255).astype(np.uint8)
            dx, dy = rng.integers(0, 12, 2)
            face = face[dy:dy + 110, dx:dx + 85]
            if i % 2:
                face = face[:, ::-1]
            image = masked(face) if label == "with_mask" else face
            cv2.imwrite(str(root / label / f"{i:02d}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return root


N_FRAMES, FPS, SIZE = 20, 10.0, (320, 240)


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 frames of the astronaut, each a little brighter, so frames can be told apart."""
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    base = cv2.cvtColor(cv2.resize(data.astronaut(), SIZE), cv2.COLOR_RGB2BGR)
    for i in range(N_FRAMES):
        writer.write(cv2.add(base, np.full_like(base, 5 * i)))
    writer.release()
    return path


@pytest.fixture
def folder(tmp_path: Path, video: Path) -> Path:
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    image = cv2.cvtColor(cv2.resize(data.astronaut(), (200, 150)), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(root / "a.png"), image)
    cv2.imwrite(str(root / "sub" / "b.jpg"), image)
    cv2.imwrite(str(root / "sub" / "c.jpg"), image[:100])
    shutil.copy(video, root / "clip.mp4")
    (root / "broken.jpg").write_bytes(np.random.default_rng(0).bytes(5000))
    (root / "empty.png").write_bytes(b"")
    (root / "notes.txt").write_text("not an image")
    return root


class Server(http.server.SimpleHTTPRequestHandler):
    """Python's file server plus byte ranges (FFmpeg seeks to the mp4 index at the end of the file), and
    /live.mjpg: an IP-camera style MJPEG stream that drops the connection after 5 frames."""

    def log_message(self, *args: object) -> None:
        pass

    def send_head(self) -> io.IOBase | None:
        if self.path == "/live.mjpg":
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            for i in range(5):
                jpeg = cv2.imencode(".jpg", np.full((120, 160, 3), 40 * i, np.uint8))[1].tobytes()
                head = f"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                self.wfile.write(head.encode() + jpeg + b"\r\n")
            return None
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if not match:
            return super().send_head()
        content = Path(self.translate_path(self.path)).read_bytes()
        first, last = int(match[1]), int(match[2] or len(content) - 1)
        self.send_response(206)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Range", f"bytes {first}-{last}/{len(content)}")
        self.send_header("Content-Length", str(last + 1 - first))
        self.end_headers()
        return io.BytesIO(content[first : last + 1])


@pytest.fixture
def http_base(video: Path) -> Iterator[str]:
    """Base URL of the server above on a free local port, serving the video's folder."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Server, directory=video.parent)
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class Background:
    """A command the suite needs the output of, started once tests are collected, at the lowest CPU priority:
    it runs in the time other tests leave idle (waiting on a camera worker, a broker, a browser), and the
    test that reads it runs last."""

    def __init__(self, test_name: str, argv: list[str]) -> None:
        self.test_name, self.argv = test_name, argv
        self.process: subprocess.Popen | None = None
        self.folder = Path(tempfile.mkdtemp(prefix="maskwatch-background-"))

    def start(self) -> None:
        with (self.folder / "out").open("wb") as out, (self.folder / "err").open("wb") as err:
            self.process = subprocess.Popen(["nice", "-n", "19", *self.argv], stdout=out, stderr=err)

    def result(self, timeout: float) -> str:
        """Its stdout; a failure with its stderr if it exits with an error."""
        if self.process is None:
            self.start()
        code = self.process.wait(timeout)
        if code != 0:
            pytest.fail(f"{' '.join(self.argv)} exited {code}: {(self.folder / 'err').read_text()[-2000:]}")
        return (self.folder / "out").read_text()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


README_CLIPS = Background("test_readme_clip_numbers_are_what_evaluate_prints", [
    sys.executable, "-m", "maskwatch", "-q", "evaluate", "--clips", str(SHARED.parent / "clips"), "--truth",
    str(ROOT / "benchmarks" / "truth"), "--json"])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    chosen = [item for item in items if item.name == README_CLIPS.test_name]
    if chosen and (SHARED.parent / "clips").is_dir():
        items[:] = [item for item in items if item not in chosen] + chosen  # last: its command had all the time
        README_CLIPS.start()


def pytest_sessionfinish() -> None:
    README_CLIPS.stop()
