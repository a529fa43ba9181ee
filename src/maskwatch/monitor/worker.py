"""One camera of `maskwatch watch`, in a process of its own: frames -> persons -> events -> the store.

The worker sends the parent its events, which the parent commits to the SQLite store (the outbox) as they
come: the same path for a local process and for a Ray actor on another machine. It also sends what the
page and the metrics show: counters as increments, the people in view, and now and then an annotated
JPEG. It stops on SIGTERM or when the parent is gone, sending the person_left of whoever is in view.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from pathlib import Path

import cv2

from maskwatch.io.annotate import draw
from maskwatch.io.latest import LatestFrame
from maskwatch.io.sources import LiveSource, PacedFile, Source
from maskwatch.monitor.config import CameraConfig
from maskwatch.video.alerts import AlertRule, Alerts
from maskwatch.video.analysis import Step, VideoAnalyzer
from maskwatch.video.events import verdict
from maskwatch.vision.pipeline import MaskDetector

log = logging.getLogger(__name__)

STATUS_EVERY_S = 1.0
VIEW_EVERY_S = 0.5  # annotated JPEGs for the page's live view
VIEW_WIDTH = 640
NO_FRAMES_S = 3.0  # without a frame for this long the camera shows as "no frames"
FOREVER = 10**9  # reconnect attempts: a site's camera is retried until it comes back


@dataclass(frozen=True)
class WorkerSettings:
    camera: CameraConfig
    rules: list[AlertRule] = field(default_factory=list)
    snapshots: bool = True  # keep each person's clearest face for the events' snapshots
    model: Path | None = None
    log_level: int = logging.INFO


def open_camera(camera: CameraConfig) -> Source:
    if camera.is_file:
        return PacedFile(Path(camera.source), camera.loop)
    return LiveSource(int(camera.source) if camera.source.isdigit() else camera.source, reconnects=FOREVER)


class _Report:
    """What has happened since the last status message, and what is in view now."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()  # frames, dropped, reconnects, gap_s, events:<kind>, seen:<verdict>
        self._sent: dict[str, float] = {}  # the source's own totals as of the last message
        self.in_view: Counter = Counter()
        self.states: dict[int, set[str | None]] = {}  # per person, for their verdict when they leave
        self.fps = 0.0
        self.last_frame = time.monotonic()

    def step(self, step: Step, dt: float) -> None:
        self.counts["frames"] += 1
        self.fps = 1 / dt if not self.fps else 0.9 * self.fps + 0.1 / max(dt, 1e-6)
        self.in_view = Counter(face.state for face in step.faces if face.person is not None)
        for event in step.events:
            self.counts[f"events:{event.kind}"] += 1
            states = self.states.setdefault(event.person, set())
            states.update((event.state, event.previous_state))
            if event.kind == "person_left":
                self.counts[f"seen:{verdict(self.states.pop(event.person))}"] += 1

    def message(self, grab: LatestFrame) -> dict:
        """A status message with the increments since the last one."""
        totals = {"dropped": grab.dropped, "reconnects": grab.source.reconnected, "gap_s": grab.source.gap_s}
        for key, total in totals.items():
            self.counts[key] = total - self._sent.get(key, 0)
        self._sent = totals
        waiting = time.monotonic() - self.last_frame > NO_FRAMES_S
        message = {"kind": "status", "state": "no frames" if waiting else "running",
                   "fps": 0.0 if waiting else round(self.fps, 2), "in_view": dict(self.in_view),
                   "counts": {k: v for k, v in self.counts.items() if v}}
        self.counts = Counter()
        return message


def _jpeg(step: Step, fps: float) -> bytes:
    image = draw(step.frame.image, step.faces, fps)
    h, w = image.shape[:2]
    if w > VIEW_WIDTH:
        image = cv2.resize(image, (VIEW_WIDTH, round(h * VIEW_WIDTH / w)), interpolation=cv2.INTER_AREA)
    return cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 75])[1].tobytes()


def watch_camera(settings: WorkerSettings, send: Callable[[dict], None], stop: threading.Event,
                 parent_alive: Callable[[], bool] = lambda: True) -> list[str]:
    """The camera loop, whatever carries its messages (a pipe to the parent, or a Ray actor's buffer):
    until `stop` is set, the parent is gone, or the source ends; the source's failures."""
    camera = settings.camera
    cv2.setNumThreads(1)
    detector = MaskDetector(camera.preset, settings.model, threads=1)
    analyzer = VideoAnalyzer(detector, camera.detect_every, live=True, snapshots=settings.snapshots,
                             alerts=Alerts(settings.rules) if settings.rules else None)
    report = _Report()
    grab = LatestFrame(open_camera(camera))
    log.info("watching %s with %s (pid %d)", camera.source if camera.is_file else "the stream", camera.preset,
             os.getpid())
    next_status = next_view = last = time.monotonic()

    def record(steps: list[Step]) -> None:
        nonlocal next_view, last
        for step in steps:
            if step.events:  # the parent records them in the store, which is the outbox
                send({"kind": "events", "events": step.events})
            now = time.monotonic()
            report.step(step, now - last)
            last = report.last_frame = now
            if now >= next_view:
                next_view = now + VIEW_EVERY_S
                send({"kind": "view", "jpeg": _jpeg(step, report.fps)})

    try:
        while not stop.is_set() and parent_alive():
            frame = grab.get(timeout=0.5)
            if frame is not None:
                record(analyzer.push(replace(frame, source=camera.name)))
            elif grab.ended:
                break
            if time.monotonic() >= next_status:
                next_status = time.monotonic() + STATUS_EVERY_S
                send(report.message(grab))
    finally:
        record(analyzer.finish())  # whoever is still in view leaves
        grab.close()
        if grab.error is not None:
            raise grab.error
    send(report.message(grab))
    return grab.source.failures


def run_camera(settings: WorkerSettings, conn: Connection, parent: int) -> None:
    """The worker process's body (multiprocessing target): messages over a pipe to the parent."""
    camera = settings.camera
    logging.basicConfig(level=settings.log_level, format=f"[{camera.name}] %(message)s")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent stops us in order
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def send(message: dict) -> None:
        try:
            conn.send(message)
        except OSError:  # the parent is gone
            stop.set()

    failures = watch_camera(settings, send, stop, lambda: os.getppid() == parent)
    if failures:  # the parent restarts the worker, with backoff
        raise SystemExit(f"{camera.name}: {'; '.join(failures)}")
