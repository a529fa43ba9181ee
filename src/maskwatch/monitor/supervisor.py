"""The camera workers of `maskwatch watch`: one process each, restarted with backoff when one dies.

`Supervisor` is what every way of running cameras shares: each camera's `CameraStatus` for the page and
the metrics, and the recording of events that workers send (Ray actors; local workers record their own
in the store). `ProcessSupervisor` runs the workers as local processes, each with its own pipe to the
parent for its status and view (a shared queue has a lock that a killed worker could take with it,
stalling the others); a thread reads every pipe and restarts dead workers after 1 s, doubling up to a
minute, back to 1 s once a worker has run for a minute. The Ray variant is in `maskwatch.cluster.cameras`.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess

from maskwatch.monitor.config import CameraConfig, WatchConfig
from maskwatch.monitor.worker import EventRecorder, WorkerSettings, run_camera

log = logging.getLogger(__name__)

FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 60.0
HEALTHY_AFTER_S = 60.0
STOP_TIMEOUT_S = 15.0


@dataclass
class CameraStatus:
    """What the page and /metrics show of a camera; counters add up over the lives of its worker."""

    name: str
    state: str = "starting"  # starting, running, no frames, restarting, ended, stopped
    pid: int | None = None
    node: str | None = None  # the Ray node it runs on (--ray)
    fps: float = 0.0
    counts: Counter = field(default_factory=Counter)  # frames, still, dropped, reconnects, gap_s, restarts, events:*,
    # seen:*
    in_view: dict[str, int] = field(default_factory=dict)
    alerting: int = 0  # persons in view who meet an alert rule (its states, zones and after_s)
    last_exit: str | None = None
    model: str | None = None  # the classifier file it runs
    trained: str | None = None  # and when that was trained
    updated: float = field(default_factory=time.time)
    jpeg: bytes | None = field(default=None, repr=False)

    def to_json(self) -> dict:
        return {"name": self.name, "state": self.state, "pid": self.pid, "node": self.node, "fps": self.fps,
                "frames": self.counts["frames"], "still": self.counts["still"], "dropped": self.counts["dropped"],
                "reconnects": self.counts["reconnects"], "gap_s": round(self.counts["gap_s"], 1),
                "restarts": self.counts["restarts"], "in_view": self.in_view, "alerting": self.alerting,
                "last_exit": self.last_exit, "model": self.model, "trained": self.trained,
                "updated": self.updated}


@dataclass
class _Worker:
    camera: CameraConfig
    process: BaseProcess | None = None
    conn: Connection | None = None
    started: float = 0.0
    failures: int = 0  # in a row, for the backoff
    restart_at: float | None = None


class Supervisor:
    def __init__(self, config: WatchConfig, log_level: int = logging.INFO) -> None:
        from maskwatch.store import EventStore

        self.config, self.log_level = config, log_level
        self.status = {c.name: CameraStatus(c.name) for c in config.cameras}
        self.store = EventStore(config.store, config.snapshots, config.blur_snapshots,
                                learning=config.learning_days is not None)
        self.recorders = {c.name: EventRecorder(self.store, c.name) for c in config.cameras}  # of events sent

    def settings(self, camera: CameraConfig, records: bool = False) -> WorkerSettings:
        """What a camera's worker needs; `records`: it records its events in the store itself."""
        return WorkerSettings(camera, self.config.rules_for(camera.name), self.config.snapshots, self.config.model,
                              self.log_level, self.config.store if records else None, self.config.blur_snapshots,
                              self.config.clips if records else None, self.config.learning_days is not None)

    def handle(self, name: str, message: dict) -> None:
        """One message of a camera's worker: its events (recorded now), its view with the people it shows in
        view, or its status."""
        status = self.status[name]
        status.updated = time.time()
        if message["kind"] == "events":
            self.recorders[name].record(message["events"])
        elif message["kind"] == "model":
            status.model, status.trained = message["model"], message["trained"]
        elif message["kind"] == "view":
            status.jpeg, status.in_view, status.alerting = message["jpeg"], message["in_view"], message["alerting"]
        else:
            status.state, status.fps = message["state"], message["fps"]
            status.counts.update(message["counts"])

    def start(self) -> None:
        raise NotImplementedError

    def reload(self) -> None:
        """Have every camera look at its model file now: a changed one is loaded in place (Ray's actors look
        every few seconds on their own)."""

    def stop(self) -> None:
        """Stop the workers, recording what they send on their way out; then close the store."""
        for recorder in self.recorders.values():
            recorder.close()
        self.store.close(finished=not any(recorder.waiting for recorder in self.recorders.values()))


class ProcessSupervisor(Supervisor):
    def __init__(self, config: WatchConfig, log_level: int = logging.INFO) -> None:
        super().__init__(config, log_level)
        self._workers = {c.name: _Worker(c) for c in config.cameras}
        self._context = multiprocessing.get_context("spawn")  # no inherited threads, locks or model sessions
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="maskwatch-supervisor", daemon=True)

    def start(self) -> None:
        for worker in self._workers.values():
            self._spawn(worker)
        self._thread.start()

    def reload(self) -> None:
        for worker in self._workers.values():
            if worker.process is not None and worker.process.pid is not None:
                with suppress(ProcessLookupError):
                    os.kill(worker.process.pid, signal.SIGHUP)

    def _spawn(self, worker: _Worker) -> None:
        camera = worker.camera
        receive, send = self._context.Pipe(duplex=False)
        process = self._context.Process(target=run_camera, args=(self.settings(camera, records=True), send,
                                                                 os.getpid()),
                                        name=f"maskwatch-{camera.name}", daemon=False)
        # A Ctrl-C reaches the whole process group, a starting worker too, which would die mid-import with a
        # traceback: the child starts with SIGINT blocked (the mask is inherited) and ignores it before it
        # unblocks it (run_camera); here a Ctrl-C of those milliseconds waits, and is taken when unblocked.
        resource_tracker.ensure_running()  # started inside the window, it would unblock SIGINT on its way out
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        send.close()  # the child holds the writing end: reads end with EOF when it dies
        worker.process, worker.conn, worker.started, worker.restart_at = process, receive, time.monotonic(), None
        status = self.status[camera.name]
        status.state, status.pid = "starting", process.pid

    def _run(self) -> None:
        while not self._stopping.is_set():
            conns = {w.conn: w for w in self._workers.values() if w.conn is not None}
            for conn in wait(list(conns), timeout=0.25) if conns else []:
                self._read(conns[conn])
            if not conns:
                self._stopping.wait(0.25)
            for worker in self._workers.values():
                self._check(worker)

    def _read(self, worker: _Worker) -> None:
        try:
            message = worker.conn.recv()
        except (EOFError, OSError):  # the worker exited: _check reports it
            worker.conn.close()
            worker.conn = None
            return
        self.handle(worker.camera.name, message)

    def _check(self, worker: _Worker) -> None:
        process, status = worker.process, self.status[worker.camera.name]
        if self._stopping.is_set() or (process is not None and process.is_alive()):
            return
        if process is None:
            if worker.restart_at is not None and time.monotonic() >= worker.restart_at:
                self._spawn(worker)
            return
        while worker.conn is not None and worker.conn.poll():  # read what it said before it died
            self._read(worker)
        code, worker.process = process.exitcode, None
        status.pid, status.fps, status.in_view, status.alerting = None, 0.0, {}, 0
        if code == 0:
            status.state = "ended"
            log.info("camera %s: its file ended", worker.camera.name)
            return
        ran = time.monotonic() - worker.started
        worker.failures = 1 if ran >= HEALTHY_AFTER_S else worker.failures + 1
        delay = min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2 ** (worker.failures - 1))
        reason = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        status.state, status.last_exit = "restarting", reason
        status.counts["restarts"] += 1
        worker.restart_at = time.monotonic() + delay
        log.warning("camera %s: worker %s after %.0f s; restarting in %.0f s", worker.camera.name, reason, ran, delay)

    def stop(self) -> None:
        """SIGTERM every worker (they record who is still in view), then wait; kill what does not stop."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()
        processes = [w.process for w in self._workers.values() if w.process is not None]
        for process in processes:
            process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for worker in self._workers.values():
            if worker.process is None:
                continue
            while worker.process.is_alive() and time.monotonic() < deadline:
                if worker.conn is not None and worker.conn.poll(0.1):  # keep its pipe from filling up
                    self._read(worker)
                else:
                    worker.process.join(0.1)
            if worker.process.is_alive():
                log.warning("camera %s: worker did not stop in time; killing it", worker.camera.name)
                worker.process.kill()
                worker.process.join()
            while worker.conn is not None and worker.conn.poll():  # what it said on its way out
                self._read(worker)
            self.status[worker.camera.name].state = "stopped"
        super().stop()
