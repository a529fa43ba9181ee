"""SOURCE to frames on real files, a real local HTTP server and OpenCV as it is (no mocks)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from maskwatch.core.frame import Frame
from maskwatch.io.background import prefetch
from maskwatch.io.sources import SourceError, open_source
from tests.conftest import FPS, N_FRAMES


def test_folder_in_sorted_order_with_failures(folder: Path) -> None:
    with open_source(str(folder)) as source:
        assert not source.live
        assert source.total == 3 + N_FRAMES  # the corrupt and empty files are not counted
        frames = list(source)
    names = [f.relative for f in frames]
    assert names == [Path("a.png")] + [Path("clip.mp4")] * N_FRAMES + [Path("sub/b.jpg"), Path("sub/c.jpg")]
    assert len(frames) == source.total
    assert len(source.failures) == 2
    assert any("broken.jpg" in f for f in source.failures) and any("empty.png" in f for f in source.failures)
    a, c = frames[0], frames[-1]
    assert (a.index, a.time, a.fps, a.is_video, a.source) == (0, 0.0, None, False, str(folder / "a.png"))
    assert a.image.shape == (150, 200, 3) and a.image.dtype == np.uint8 and c.image.shape == (100, 200, 3)
    # RGB like skimage's original, not OpenCV's BGR
    original = cv2.resize(data.astronaut(), (200, 150))
    assert np.abs(a.image.astype(int) - original).mean() < 2


def test_video_frames(video: Path) -> None:
    source = open_source(str(video))
    assert source.total == N_FRAMES
    frames = list(source)
    assert [f.index for f in frames] == list(range(N_FRAMES))
    assert all(f.is_video and f.fps == FPS and f.relative == Path("clip.mp4") for f in frames)
    assert [f.time for f in frames] == pytest.approx([i / FPS for i in range(N_FRAMES)])
    assert frames[0].image.shape == (240, 320, 3)
    assert frames[-1].image.mean() > frames[0].image.mean() + 20  # the brightening ramp, in order
    assert source.failures == []


def test_single_image_relative_is_its_name(folder: Path) -> None:
    frames = list(open_source(str(folder / "sub" / "b.jpg")))
    assert [(f.relative, f.index, f.is_video) for f in frames] == [(Path("b.jpg"), 0, False)]


def test_unusable_sources_raise(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        open_source(str(tmp_path / "missing.mp4"))
    with pytest.raises(SourceError, match="no images or videos"):
        open_source(str(tmp_path))
    with pytest.raises(SourceError, match="cannot open camera 7"):
        open_source("7")


def test_http_url_yields_the_video(http_base: str) -> None:
    with open_source(f"{http_base}/clip.mp4") as source:
        assert source.live and source.total is None
        frames = list(source)  # a file behind a URL has a length: it ends instead of reconnecting
    assert len(frames) == N_FRAMES and source.failures == []
    assert frames[0].image.shape == (240, 320, 3) and frames[0].is_video
    assert frames[0].relative.suffix == ".mp4" and len(frames[0].relative.parts) == 1
    assert abs(frames[0].time - time.time()) < 60  # wall clock


def test_dropped_stream_is_reconnected_and_the_gap_logged(
    http_base: str, caplog: pytest.LogCaptureFixture
) -> None:
    source = open_source(f"{http_base}/live.mjpg", backoff=0.01)
    frames = []
    for frame in source:
        frames.append(frame)
        if len(frames) == 12:
            break
    source.close()
    assert [f.index for f in frames] == list(range(12))  # numbering goes on across reconnects
    assert [round(f.image.mean() / 40) for f in frames] == [0, 1, 2, 3, 4] * 2 + [0, 1]
    assert any("reconnected after" in r.message and "without frames" in r.message for r in caplog.records)
    assert source.failures == []


def test_refused_url_gives_up_quickly_with_a_failure() -> None:
    with socket.socket() as probe:  # a port nobody listens on: bound, then released
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    source = open_source(f"http://127.0.0.1:{port}/live.mjpg", reconnects=2, backoff=0.01)
    assert list(source) == []
    assert time.monotonic() - started < 10
    assert len(source.failures) == 1 and "gave up after 2 reconnects" in source.failures[0]


def _frames(n: int | None) -> Iterator[Frame]:
    i = 0
    while n is None or i < n:
        yield Frame(np.full((4, 4, 3), i % 256, np.uint8), "gen", i, 0.0, Path("gen.mp4"), 25.0, True)
        i += 1


def test_prefetch_keeps_order(video: Path) -> None:
    assert [f.index for f in prefetch(open_source(str(video)), depth=2)] == list(range(N_FRAMES))
    assert [f.index for f in prefetch(_frames(50), depth=1)] == list(range(50))


def test_prefetch_raises_the_producers_exception() -> None:
    def failing() -> Iterator[Frame]:
        yield from _frames(3)
        raise ValueError("decoder broke")

    seen = []
    with pytest.raises(ValueError, match="decoder broke"):
        for frame in prefetch(failing()):
            seen.append(frame.index)
    assert seen == [0, 1, 2]


def test_prefetch_stops_the_producer_when_the_consumer_stops() -> None:
    closed = threading.Event()

    def endless() -> Iterator[Frame]:
        try:
            yield from _frames(None)
        finally:
            closed.set()  # the source's own cleanup ran

    frames = prefetch(endless(), depth=2)
    assert [next(frames).index for _ in range(3)] == [0, 1, 2]
    stopper = threading.Thread(target=frames.close)  # what `break` or Ctrl-C in the consumer does
    stopper.start()
    stopper.join(timeout=5)
    assert not stopper.is_alive() and closed.is_set()
    assert not any(t.name == "maskwatch-prefetch" for t in threading.enumerate())


def test_prefetch_with_an_interrupted_consumer() -> None:
    frames = prefetch(_frames(None), depth=2)
    with pytest.raises(KeyboardInterrupt):
        for frame in frames:
            if frame.index == 5:
                raise KeyboardInterrupt
    frames.close()
    assert not any(t.name == "maskwatch-prefetch" for t in threading.enumerate())
