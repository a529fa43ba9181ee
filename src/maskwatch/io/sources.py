"""What `maskwatch detect` reads: a camera, a stream URL, an image, a video or a folder, as RGB frames.

A stream's URL may carry a camera's user, password or API key: outside `cv2.VideoCapture` it is only ever
shown `redact`ed, in log lines, failures and `Frame.source` (and so in JSON Lines, events and summaries).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

import cv2

from maskwatch.core.errors import MaskwatchError
from maskwatch.core.frame import Frame
from maskwatch.io.images import IMAGE_SUFFIXES, VIDEO_SUFFIXES, UnreadableImage, iter_files, read_image

log = logging.getLogger(__name__)

STREAM_PREFIXES = ("rtsp://", "http://", "https://")
# A stalled stream must fail a read (and be reconnected) instead of blocking the run forever.
STREAM_PARAMS = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 10_000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 10_000]
MAX_BACKOFF = 30.0
MAX_CAMERA_INDEX = 2**31 - 1  # OpenCV takes a C int


class SourceError(MaskwatchError):
    """A source that cannot be used at all; the message is one line for the user."""


class Source:
    """Frames of one SOURCE, iterated once; a bad file ends up in `failures` and the rest goes on."""

    live = False
    total: int | None = None

    def __init__(self) -> None:
        self.failures: list[str] = []

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        """Release devices and connections; safe to call twice."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fail(self, message: str) -> None:
        log.warning("%s", message)
        self.failures.append(message)


def redact(url: str) -> str:
    """A URL fit for logs, messages and pages: no user, password, query or fragment (cameras and webhooks
    carry credentials and keys there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:  # a bad port is reported by the caller; it holds no secret either way
        port = None
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}{parts.path}"


def _video_length(path: Path) -> int | None:
    """Frames in a video: 0 if OpenCV cannot open it (it will be a failure), None if the length is unknown."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            return 0
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        capture.release()
    return count if count > 0 else None


def _fps(capture: cv2.VideoCapture) -> float | None:
    fps = capture.get(cv2.CAP_PROP_FPS)
    return float(fps) if 0 < fps < 1000 else None


class FileSource(Source):
    """Image and video files, in the order given; `relative` is the path below `root` (or the file name)."""

    def __init__(self, paths: list[Path], root: Path | None = None, relatives: list[Path] | None = None) -> None:
        super().__init__()
        relatives = relatives or [path.relative_to(root) if root else Path(path.name) for path in paths]
        self.items = list(zip(paths, relatives, strict=True))
        # The header check leaves out empty and garbage files; a video of unknown length leaves no total.
        lengths = [int(cv2.haveImageReader(str(p))) if _is_image(p) else _video_length(p) for p in paths]
        self.total = None if None in lengths else sum(n or 0 for n in lengths)

    def __iter__(self) -> Iterator[Frame]:
        for path, relative in self.items:
            if _is_image(path):
                try:
                    image = read_image(path)
                except UnreadableImage as error:
                    self._fail(str(error))
                    continue
                yield Frame(image, str(path), 0, 0.0, relative, None, False)
            else:
                yield from self._video(path, relative)

    def _video(self, path: Path, relative: Path) -> Iterator[Frame]:
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            self._fail(f"{path}: {_unopened_reason(path)}")
            return
        fps, index, length = _fps(capture), 0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        reached, gap = 0.0, 0.0  # the last frame's time, and the longest wait between two frames
        try:
            while True:
                ok, bgr = capture.read()
                if not ok:
                    break
                rgb, seconds = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), capture.get(cv2.CAP_PROP_POS_MSEC) / 1000
                yield Frame(rgb, str(path), index, seconds, relative, fps, True)
                index, reached, gap = index + 1, seconds, max(gap, seconds - reached) if index else 0.0
        finally:
            capture.release()
        if index == 0:
            self._fail(f"{path}: video has no readable frames")
        elif index < length - max(2, length // 100) and not _ran_to_its_end(reached, gap, length, fps):
            self._fail(f"{path}: video ended after {index} of its {length} frames (cut short or damaged)")


def _unopened_reason(path: Path) -> str:
    try:
        path.open("rb").close()
    except OSError as error:
        return error.strerror or str(error)
    return "not a video OpenCV can open"


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


class LiveSource(Source):
    """A camera or a network stream: timed by the wall clock, reconnected with backoff when it drops."""

    live = True

    def __init__(self, target: int | str, reconnects: int = 5, backoff: float = 0.5) -> None:
        super().__init__()
        self.target, self.reconnects, self.backoff = target, reconnects, backoff
        self.name = f"camera {target}" if isinstance(target, int) else redact(target)
        self.source = str(target) if isinstance(target, int) else self.name  # Frame.source
        self.relative = Path(f"camera{target}.mp4" if isinstance(target, int) else _stream_name(target))
        self._capture: cv2.VideoCapture | None = None
        self._length = 0
        self._closed = threading.Event()
        self.reconnected = 0  # how often the stream came back, and for how long in all it gave no frames
        self.gap_s = 0.0

    def open(self) -> bool:
        """(Re)connect; False if the device or server is not there."""
        self._release()
        try:
            if isinstance(self.target, int):
                capture = cv2.VideoCapture(self.target)
            else:
                capture = cv2.VideoCapture(self.target, cv2.CAP_FFMPEG, STREAM_PARAMS)
        except cv2.error:  # its message may hold the URL; that it did not open is what counts
            return False
        if not capture.isOpened():
            capture.release()
            return False
        self._capture = capture
        self._length = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        return True

    def __iter__(self) -> Iterator[Frame]:
        if self._capture is None and not self.open() and not self._reconnect(connected=False):
            return
        index = 0
        try:
            while not self._closed.is_set() and self._capture is not None:
                ok, bgr = self._capture.read()
                if ok:
                    fps = _fps(self._capture)
                    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                    yield Frame(rgb, self.source, index, time.time(), self.relative, fps, True)
                    index += 1
                elif self._length > 0 or not self._reconnect(connected=True):
                    return  # a video file behind a URL has a length: its end is not a drop
        finally:
            self._release()

    def _reconnect(self, connected: bool) -> bool:
        """Retry with doubling waits; log how long there were no frames, record a failure when giving up."""
        lost = time.monotonic()
        if connected:
            log.warning("%s: read failed, reconnecting", self.name)
        delay = self.backoff
        for attempt in range(1, self.reconnects + 1):
            if self._closed.wait(delay):
                return False
            delay = min(2 * delay, MAX_BACKOFF)
            if self.open():
                gap = time.monotonic() - lost
                self.reconnected, self.gap_s = self.reconnected + 1, self.gap_s + gap
                log.warning("%s: reconnected after %.1f s without frames", self.name, gap)
                return True
            log.warning("%s: reconnect attempt %d/%d failed", self.name, attempt, self.reconnects)
        what = "lost" if connected else "cannot connect"
        self._fail(
            f"{self.name}: {what}, gave up after {self.reconnects} reconnects "
            f"({time.monotonic() - lost:.1f} s without frames)"
        )
        return False

    def _release(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def close(self) -> None:
        """Stop reconnect waits, release the device; call it from the iterating thread or after iterating."""
        self._closed.set()
        self._release()


class PacedFile(Source):
    """A video file played at its own frame rate as if it were a camera, once or (`loop`) forever: demos and
    tests of `maskwatch watch`. Frames are timed by the wall clock and numbered on across the loops; each loop
    is a `take` of its own."""

    live = True

    def __init__(self, path: Path, loop: bool = True) -> None:
        super().__init__()
        self.path, self.loop = path, loop
        self.reconnected, self.gap_s = 0, 0.0  # a file never drops; the same counters as LiveSource
        self._closed = threading.Event()

    def __iter__(self) -> Iterator[Frame]:
        index, started, take = 0, time.monotonic(), 0
        while not self._closed.is_set():
            capture = cv2.VideoCapture(str(self.path))
            fps = _fps(capture) or 25.0
            read = 0
            try:
                while not self._closed.is_set():
                    ok, bgr = capture.read()
                    if not ok:
                        break
                    read += 1
                    due = started + index / fps  # as a camera would deliver it
                    if self._closed.wait(max(0.0, due - time.monotonic())):
                        return
                    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                    yield Frame(rgb, str(self.path), index, time.time(), Path(self.path.name), fps, True, take)
                    index += 1
            finally:
                capture.release()
            if read == 0:
                self._fail(f"{self.path}: video has no readable frames")
            if read == 0 or not self.loop:
                return
            take += 1  # the wrap from end to start is a cut: whoever was in view leaves

    def close(self) -> None:
        self._closed.set()


def _ran_to_its_end(reached: float, gap: float, length: int, fps: float | None) -> bool:
    """Whether the frames read cover the video's length in time. A container may count more frames than its
    video holds (a variable frame rate: OpenCV then counts its duration times the highest rate), so fewer
    frames than counted is a cut only where they stop short of the duration, by more than a frame's wait."""
    if not fps:
        return False
    duration, step = length / fps, max(gap, 1 / fps)
    return reached + step >= duration - 1 / fps - 0.01 * duration


def _stream_name(url: str) -> str:
    """A file name for saving a stream from host, port and path: credentials and query may hold secrets."""
    parts = urlsplit(url)
    path = re.sub(r"\.\w+$", "", parts.path)  # the .mp4 comes back at the end
    name = f"{parts.hostname or ''} {parts.port or ''} {path}"
    return (re.sub(r"[^\w.-]+", "_", name).strip("_.")[:100] or "stream") + ".mp4"


SAMPLE_PREFIX = "sample:"


def resolve_sample(spec: str) -> str:
    """`sample:astronaut` is the photo of that name shipped with scikit-image: an input every install has."""
    from importlib.resources import files

    if not spec.startswith(SAMPLE_PREFIX):
        return spec
    name = spec[len(SAMPLE_PREFIX):]
    path = Path(str(files("skimage") / "data" / f"{name}.png"))
    if not path.is_file():
        raise FileNotFoundError(f"no scikit-image sample photo named {name!r} (try sample:astronaut)")
    return str(path)


def open_source(spec: str | None, reconnects: int = 5, backoff: float = 0.5) -> Source:
    """Turn the SOURCE argument into frames: None or a digit is a camera, a URL a stream, @FILE a list of
    files, sample:NAME a scikit-image photo, else a path."""
    if spec is not None and not spec.strip():
        raise SourceError("an empty SOURCE: give a file, a folder, a camera index or a URL")
    spec = None if spec is None else resolve_sample(spec)
    if spec is None or (spec.isascii() and spec.isdigit()):
        index = int(spec or 0)
        if index > MAX_CAMERA_INDEX:
            raise SourceError(f"{spec}: too large for a camera index, and no such file or folder")
        source = LiveSource(index, reconnects, backoff)
        if not source.open():
            raise SourceError(f"cannot open camera {index} (no such device, or it is busy or not permitted)")
        return source
    if spec.lower().startswith(STREAM_PREFIXES):
        return LiveSource(spec, reconnects, backoff)
    if spec.startswith("@"):  # a list of files, one per line; relative to the list's folder
        listing = Path(spec[1:])
        try:
            lines = listing.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise SourceError(f"{listing}: cannot read the list of files ({error.strerror})") from None
        paths = [listing.parent / line.strip() for line in lines if line.strip() and not line.startswith("#")]
        if not paths:
            raise SourceError(f"{listing}: the list names no files")
        return FileSource(paths)
    path = Path(spec)
    if path.is_dir():
        try:
            os.scandir(path).close()
        except OSError as error:
            raise SourceError(f"{spec}: cannot read this folder ({error.strerror})") from None
        unreadable: list[str] = []  # subfolders: failures of the run, which goes on with the rest
        paths = list(iter_files(path, IMAGE_SUFFIXES | VIDEO_SUFFIXES, unreadable.append))
        if not paths and not unreadable:
            raise SourceError(f"{spec}: no images or videos in this folder")
        source = FileSource(paths, root=path)
        for message in unreadable:
            source._fail(message)
        return source
    if path.is_file():
        return FileSource([path])
    raise SourceError(f"{spec}: no such file or folder")
