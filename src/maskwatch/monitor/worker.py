"""One camera of `maskwatch watch`, in a process of its own: frames -> persons -> events -> the store.

A local worker commits its events to the SQLite store (the outbox) itself, under a run of its own, with
their snapshots: nothing waits in a pipe, so a kill -9 of `watch` loses none (SQLite's WAL takes several
writer processes). On starting it first records the person_left of whoever a dead run of its camera left
in view (`EventStore.close_abandoned`). A Ray actor, on another machine, sends its events to the parent,
which records them. Either sends the parent what the page and the metrics show: counters as increments,
and twice a second an annotated JPEG with the people in view that it draws. It stops on SIGTERM or when
the parent is gone, recording the person_left of whoever is in view. A changed classifier file (a model
`train --from-store` wrote over it) is loaded in place, without a restart: looked for every few seconds,
and at once on SIGHUP (`watch` passes its own on).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from pathlib import Path

import cv2

from maskwatch.core.errors import MaskwatchError
from maskwatch.core.events import Event, verdict
from maskwatch.core.frame import Frame
from maskwatch.io.annotate import draw, drawn_counts
from maskwatch.io.latest import LatestFrame
from maskwatch.io.rate import RateMeter
from maskwatch.io.sources import LiveSource, PacedFile, Source
from maskwatch.monitor.config import CameraConfig
from maskwatch.store import EventStore, EventStoreError, clip_folder
from maskwatch.video.alerts import AlertRule, Alerts
from maskwatch.video.analysis import Step, analyze
from maskwatch.video.clips import ClipRecorder, ClipSettings
from maskwatch.vision.classifier import MaskClassifier, trained_when
from maskwatch.vision.pipeline import MaskDetector

log = logging.getLogger(__name__)

STATUS_EVERY_S = 1.0
VIEW_EVERY_S = 0.5  # annotated JPEGs for the page's live view, with the people in view they show
VIEW_WIDTH = 640
NO_FRAMES_S = 3.0  # without a frame for this long the camera shows as "no frames"
MODEL_CHECK_S = 5.0  # how often the classifier file is looked at for a change
FOREVER = 10**9  # reconnect attempts: a site's camera is retried until it comes back


@dataclass(frozen=True)
class WorkerSettings:
    camera: CameraConfig
    rules: list[AlertRule] = field(default_factory=list)
    snapshots: bool = True  # keep each person's clearest face for the events' snapshots
    model: Path | None = None
    log_level: int = logging.INFO
    store: Path | None = None  # the event store the worker records in itself; None: it sends its events
    blur_snapshots: bool = False
    clips: ClipSettings | None = None  # written beside the store (so by a worker that records itself)
    learning: bool = False  # keep each event's face unblurred for learning ([learning])


def open_camera(camera: CameraConfig) -> Source:
    if camera.is_file:
        return PacedFile(Path(camera.source), camera.loop)
    return LiveSource(int(camera.source) if camera.source.isdigit() else camera.source, reconnects=FOREVER)


class _Report:
    """What has happened since the last status message, and how fast frames go."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()  # frames, dropped, reconnects, gap_s, events:<kind>, seen:<verdict>
        self._sent: dict[str, float] = {}  # the source's own totals as of the last message
        self.states: dict[int, set[str | None]] = {}  # per person, for their verdict when they leave
        self.rate = RateMeter()
        self.last_frame = time.monotonic()

    def step(self, step: Step) -> None:
        self.counts["frames"] += 1
        self.counts["still"] += step.still
        self.last_frame = time.monotonic()
        self.rate.tick(self.last_frame)
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
                   "fps": 0.0 if waiting else round(self.rate.rate(), 2),
                   "counts": {k: v for k, v in self.counts.items() if v}}
        self.counts = Counter()
        return message


def _view(step: Step, zones: tuple = (), alerting: int = 0) -> dict:
    """The annotated JPEG of a frame (its zones drawn), with the faces it draws by state: what the page says
    is in view is what its picture shows, taken from the same frame."""
    image = draw(step.frame.image, step.faces, None, zones)  # the page says the fps beside it: one number
    h, w = image.shape[:2]
    if w > VIEW_WIDTH:
        image = cv2.resize(image, (VIEW_WIDTH, round(h * VIEW_WIDTH / w)), interpolation=cv2.INTER_AREA)
    jpeg = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 75])[1].tobytes()
    return {"kind": "view", "jpeg": jpeg, "in_view": drawn_counts(step.faces), "alerting": alerting}


class EventRecorder:
    """Commits one camera's events to the store (the outbox), in order. Events the store refuses (its disk
    full, its file locked or unwritable) wait, the next ones behind them, and are tried again at most once
    a second: none is dropped while the store comes back within MAX_WAITING events."""

    MAX_WAITING = 10_000  # about a day of a busy door; the oldest go first beyond it, each one logged
    RETRY_S = 1.0

    def __init__(self, store: EventStore, camera: str) -> None:
        self.store, self.camera = store, camera
        self.waiting: deque[Event] = deque()
        self._retry_at = 0.0

    def record(self, events: Sequence[Event]) -> None:
        self.waiting.extend(events)
        while len(self.waiting) > self.MAX_WAITING:
            lost = self.waiting.popleft()
            log.error("camera %s: the %s event of person %d is lost: %d events wait for the store", self.camera,
                      lost.kind, lost.person, self.MAX_WAITING)
        if not self.waiting or time.monotonic() < self._retry_at:
            return
        failing = self._retry_at > 0
        while self.waiting:
            try:
                self.store.add(self.waiting[0])
            except EventStoreError as error:
                if not failing:
                    log.error("camera %s: cannot record events (%s): they wait, and are tried again every %g s",
                              self.camera, error, self.RETRY_S)
                self._retry_at = time.monotonic() + self.RETRY_S
                return
            self.waiting.popleft()
        if failing:
            log.warning("camera %s: the store records events again; none was lost", self.camera)
        self._retry_at = 0.0

    def forget_clip(self, path: Path) -> None:
        """A clip that could not be written: no event, recorded or waiting, names it. Called from the clip's
        writer thread while the camera's thread may be taking events off `waiting`: a copy is walked."""
        for event in list(self.waiting):
            if event.clip is not None and Path(event.clip).name == path.name:
                event.clip = None
        try:
            self.store.forget_clip(path)
        except EventStoreError as error:
            log.error("camera %s: events still name the clip %s, which was not written: %s", self.camera,
                      path.name, error)

    def close(self) -> None:
        """At the end: a last try; what the store still refuses is said (it is lost with this process)."""
        self._retry_at = 0.0
        self.record(())
        if self.waiting:
            log.error("camera %s: %d event(s) could not be recorded before stopping and are lost", self.camera,
                      len(self.waiting))


class ModelReloader:
    """The camera's classifier file: when it changed (looked at every MODEL_CHECK_S, and at once when `asked`)
    the new model is loaded in place. A file that does not load (half copied, not a model) leaves the
    running model as it is, until the file changes again."""

    def __init__(self, pipeline: MaskDetector, camera: str, asked: threading.Event) -> None:
        self.pipeline, self.camera, self.asked = pipeline, camera, asked
        self.path = pipeline.classifier.path
        self._seen = self._signature()
        self._next = time.monotonic() + MODEL_CHECK_S

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            found = self.path.stat()
        except OSError:
            return None
        return found.st_mtime_ns, found.st_size, found.st_ino

    def status(self) -> dict:
        """The message that tells the parent which model runs, and when it was trained."""
        return {"kind": "model", "model": str(self.path), "trained": trained_when(self.path)}

    def check(self) -> dict | None:
        """Load the model again if its file changed: the new status message, else None."""
        if not self.asked.is_set() and time.monotonic() < self._next:
            return None
        self.asked.clear()
        self._next = time.monotonic() + MODEL_CHECK_S
        signature = self._signature()
        if signature is None or signature == self._seen:
            return None
        self._seen = signature
        try:
            classifier = MaskClassifier(self.path, threads=1)
        except (MaskwatchError, OSError) as error:
            log.error("camera %s: the model %s changed but does not load (%s): the running one stays", self.camera,
                      self.path, error)
            return None
        self.pipeline.classifier = classifier
        status = self.status()
        log.info("camera %s: reloaded the model %s (trained %s)", self.camera, self.path, status["trained"])
        return status


def close_abandoned(store: EventStore, camera: str, counts: Counter) -> None:
    """Record (and count) the person_left of whoever runs of `camera` whose writer died left in view."""
    left = store.close_abandoned(camera)
    counts["events:person_left"] += len(left)
    if left:
        log.warning("camera %s: recorded the person_left of %d person(s) a dead run left in view", camera, len(left))


def watch_camera(settings: WorkerSettings, send: Callable[[dict], None], stop: threading.Event,
                 parent_alive: Callable[[], bool] = lambda: True, reload: threading.Event | None = None) -> list[str]:
    """The camera loop, whatever carries its messages (a pipe to the parent, or a Ray actor's buffer):
    until `stop` is set, the parent is gone, or the source ends; the source's failures. `reload`: set to
    look at the model file at once."""
    camera = settings.camera
    report = _Report()
    store = None  # watch checked the store at start: each worker's restart need not read all of it again
    if settings.store is not None:
        store = EventStore(settings.store, settings.snapshots, settings.blur_snapshots, verify=False,
                           learning=settings.learning)
    if store is not None:
        close_abandoned(store, camera.name, report.counts)
    recorder = EventRecorder(store, camera.name) if store is not None else None
    cv2.setNumThreads(1)
    analysis = camera.analysis(settings.model, settings.snapshots, settings.learning)
    pipeline = analysis.pipeline(live=True, threads=1)
    analyzer = analysis.analyzer(pipeline, live=True,
                                 alerts=Alerts(settings.rules, camera.zones) if settings.rules else None)
    model = ModelReloader(pipeline, camera.name, reload or threading.Event())
    send(model.status())
    clips = ClipRecorder(clip_folder(settings.store), settings.clips, camera.zones, recorder.forget_clip) \
        if settings.clips and recorder is not None else None
    grab = LatestFrame(open_camera(camera))
    log.info("watching %s with %s (pid %d)", camera.source if camera.is_file else "the stream", camera.preset,
             os.getpid())
    next_status = next_view = time.monotonic()

    def frames() -> Iterator[Frame]:
        """The camera's newest frames until told to stop, with a status message every STATUS_EVERY_S."""
        nonlocal next_status
        while not stop.is_set() and parent_alive():
            frame = grab.get(timeout=0.5)
            if frame is not None:
                yield replace(frame, source=camera.name)
            elif grab.ended:
                return
            if time.monotonic() >= next_status:
                next_status = time.monotonic() + STATUS_EVERY_S
                send(report.message(grab))
            if reloaded := model.check():
                send(reloaded)

    def record(step: Step) -> None:
        nonlocal next_view
        if clips is not None:
            clips.push(step)  # first: it names the clips of the step's events
        if recorder is not None:
            recorder.record(step.events)  # and those the store refused before
        elif step.events:  # the parent records them
            send({"kind": "events", "events": step.events})
        report.step(step)
        if report.last_frame >= next_view:
            next_view = report.last_frame + VIEW_EVERY_S
            send(_view(step, camera.zones, analyzer.alerts.alerting if analyzer.alerts else 0))

    try:
        for step in analyze(frames(), analyzer):
            record(step)
    finally:
        for step in analyzer.finish():  # after an error too: whoever is still in view leaves
            record(step)
        if clips is not None:
            clips.close()
        grab.close()
        if recorder is not None:
            recorder.close()
            # the run is closed, no one of it left in view, if every event was recorded: else the next worker
            # of the camera records the person_left of whoever the run left open
            store.close(finished=not recorder.waiting)
        if grab.error is not None:
            raise grab.error
    send(report.message(grab))
    return grab.source.failures


def run_camera(settings: WorkerSettings, conn: Connection, parent: int) -> None:
    """The worker process's body (multiprocessing target): messages over a pipe to the parent."""
    camera = settings.camera
    logging.basicConfig(level=settings.log_level, format=f"[{camera.name}] %(message)s")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent stops us in order
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # blocked while this process started
    stop, reload = threading.Event(), threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: reload.set())

    def send(message: dict) -> None:
        try:
            conn.send(message)
        except OSError:  # the parent is gone
            stop.set()

    try:
        failures = watch_camera(settings, send, stop, lambda: os.getppid() == parent, reload)
    except EventStoreError as error:  # the parent restarts the worker, with backoff
        raise SystemExit(f"{camera.name}: {error}") from None
    if failures:  # the parent restarts the worker, with backoff
        raise SystemExit(f"{camera.name}: {'; '.join(failures)}")
