"""`maskwatch watch CONFIG --ray ADDRESS`: each camera as a Ray actor, on whichever node has room.

The actor runs the same camera loop as a local worker process (`watch_camera`) in a thread, and keeps
what it would send over the pipe, its events too (the store is on the parent's machine); the parent
drains it a few times a second and hands it to `Supervisor.handle`, which records the events in the one
store and outbox. Before the actors start, the parent records the person_left of whoever a dead run
left in view (`EventStore.close_abandoned`). Ray
restarts an actor whose process or node dies (`max_restarts=-1`); the parent sees a new incarnation (pid
and start time) and counts the restart. A camera holds a quarter of a CPU: `benchmarks/watch_cameras.py`
measured 8 cameras of 640x480 at 15 fps on 2 cores.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from maskwatch.monitor.config import WatchConfig
from maskwatch.monitor.supervisor import Supervisor
from maskwatch.monitor.worker import WorkerSettings, close_abandoned, watch_camera

log = logging.getLogger(__name__)

CPUS_PER_CAMERA = 0.25
POLL_S = 0.25
STOP_TIMEOUT_S = 30.0


class CameraActor:
    """One camera in a Ray actor (made remote by `RaySupervisor`)."""

    def __init__(self, settings: WorkerSettings) -> None:
        logging.basicConfig(level=settings.log_level, format=f"[{settings.camera.name}] %(message)s")
        self.started = time.time()
        self.failures: list[str] | None = None
        self._messages: list[dict] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(settings,), name="maskwatch-camera", daemon=True)
        self._thread.start()

    def _run(self, settings: WorkerSettings) -> None:
        try:
            self.failures = watch_camera(settings, self._keep, self._stop)
        except Exception as error:  # reported to the parent, which has Ray restart the actor
            log.exception("camera loop failed")
            self.failures = [f"{type(error).__name__}: {error}"]

    def _keep(self, message: dict) -> None:
        with self._lock:
            if message["kind"] == "view":  # only the newest view is worth sending
                self._messages = [m for m in self._messages if m["kind"] != "view"]
            self._messages.append(message)

    def drain(self) -> dict:
        """What happened since the last call, and who this incarnation is."""
        import ray

        with self._lock:
            messages, self._messages = self._messages, []
        return {"pid": os.getpid(), "started": self.started, "node": ray.get_runtime_context().get_node_id(),
                "messages": messages, "done": not self._thread.is_alive(), "failures": self.failures}

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join(STOP_TIMEOUT_S)
        return self.drain()


class RaySupervisor(Supervisor):
    def __init__(self, config: WatchConfig, log_level: int, address: str) -> None:
        super().__init__(config, log_level)
        self.address = address
        self._actors: dict = {}
        self._incarnations: dict[str, tuple[int, float]] = {}
        self._started_ray = False
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="maskwatch-ray-supervisor", daemon=True)

    def start(self) -> None:
        import ray

        from maskwatch.cluster.archive import connect

        self._started_ray = connect(self.address)
        for camera in self.config.cameras:
            close_abandoned(self.store, camera.name, self.status[camera.name].counts)
        remote = ray.remote(num_cpus=CPUS_PER_CAMERA, max_restarts=-1, max_concurrency=4)(CameraActor)
        for camera in self.config.cameras:
            self._actors[camera.name] = remote.remote(self.settings(camera))
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.wait(POLL_S):
            for name, future in [(name, actor.drain.remote()) for name, actor in self._actors.items()]:
                self._collect(name, future)

    def _collect(self, name: str, future: object) -> None:
        import ray

        status = self.status[name]
        try:
            result = ray.get(future, timeout=STOP_TIMEOUT_S)
        except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError,
                ray.exceptions.ActorUnavailableError) as error:
            if status.state != "restarting":
                status.state, status.last_exit = "restarting", type(error).__name__
                log.warning("camera %s: its actor is gone (%s); Ray restarts it", name, type(error).__name__)
            return
        incarnation = (result["pid"], result["started"])
        if self._incarnations.setdefault(name, incarnation) != incarnation:
            self._incarnations[name] = incarnation
            status.counts["restarts"] += 1
            log.warning("camera %s: actor restarted (pid %d on node %s)", name, result["pid"], result["node"][:12])
        status.pid, status.node = result["pid"], result["node"]
        for message in result["messages"]:
            self.handle(name, message)
        if result["done"] and not self._stopping.is_set():
            if result["failures"]:
                log.warning("camera %s: %s; restarting its actor", name, "; ".join(result["failures"]))
                ray.kill(self._actors[name], no_restart=False)
            else:
                status.state = "ended"

    def stop(self) -> None:
        import ray

        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()
        futures = {name: actor.stop.remote() for name, actor in self._actors.items()}
        for name, future in futures.items():
            self._collect(name, future)  # the events of whoever was in view
            ray.kill(self._actors[name])
            self.status[name].state = "stopped"
        if self._started_ray:
            ray.shutdown()
        super().stop()
