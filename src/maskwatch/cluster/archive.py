"""`maskwatch detect SOURCE --ray`: the Ray actors that run a folder or list of files, one task per file.

Each Ray actor loads the models once (one inference thread, one CPU) and runs whole files through the same
pipeline as a single process, so tracking and events stay right within a video. The driver writes every
output (JSON Lines, events, summary) in the order of a single-process run, sorted by source then frame,
as soon as the files before it are done; `--save` copies are written by the actors, so with more than one
machine the --save folder must be on a filesystem they all share. An actor that dies is restarted by Ray
and its file run again. A manifest next to the outputs makes the run resumable (see `manifest`).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

import numpy as np

from maskwatch.core.errors import InvalidInput
from maskwatch.core.records import frame_record
from maskwatch.io.sinks import AnnotatedSaver
from maskwatch.io.sources import FileSource
from maskwatch.video.analysis import AnalysisSettings, Step, analyze

log = logging.getLogger(__name__)

LOCAL = "local"  # --ray with no address: a Ray instance on this machine, for this run
NO_IMAGE = np.zeros((0, 0, 3), np.uint8)  # frames go back to the driver without their pixels
RESTARTS = {"max_restarts": -1, "max_task_retries": 3}  # an actor lost with its worker or node comes back


@dataclass
class FileResult:
    file: str
    steps: list[Step]
    failures: list[str]


class FileWorker:
    """The Ray actor (made remote in `run_detect_ray`): models loaded once, then whole files."""

    def __init__(self, settings: AnalysisSettings, save: Path | None) -> None:
        import cv2

        cv2.setNumThreads(1)
        self.settings, self.save = settings, save
        self.detector = settings.pipeline(live=False, threads=1)

    def pid(self) -> int:
        return os.getpid()

    def run(self, file: str, relative: str) -> FileResult:
        from maskwatch.io.annotate import draw

        zones = self.settings.zones
        source, steps = FileSource([Path(file)], relatives=[Path(relative)]), []
        with ExitStack() as stack:
            saver = stack.enter_context(AnnotatedSaver(self.save)) if self.save else None
            for step in analyze(source, self.settings.analyzer(self.detector, live=False)):
                if saver:
                    saver.write(step.frame, draw(step.frame.image, step.faces, zones=zones))
                steps.append(replace(step, frame=replace(step.frame, image=NO_IMAGE)))
        return FileResult(file, steps, source.failures)


class ResumableJsonLines:
    """The JSON Lines output of a resumable run: cut back to where the last finished file ended, then
    appended to, and synced to disk at the end of each file ("-": stdout, nothing to resume)."""

    def __init__(self, target: str, keep_bytes: int) -> None:
        if target == "-":
            self.file: TextIO = sys.stdout
            return
        path = Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = path.open("r+" if keep_bytes and path.exists() else "w", encoding="utf-8")
        self.file.truncate(keep_bytes)
        self.file.seek(keep_bytes)

    def write(self, step: Step, events: list) -> None:
        self.file.write(json.dumps(frame_record(step.frame, step.faces, events)) + "\n")

    def sync(self) -> int:
        """Flush to disk; the size written so far (0 for stdout)."""
        self.file.flush()
        if self.file is sys.stdout:
            return 0
        os.fsync(self.file.fileno())
        return self.file.tell()

    def close(self) -> None:
        if self.file is not sys.stdout:
            self.file.close()


def connect(address: str) -> bool:
    """Join the cluster (or start Ray here, for `local`); True if this call started it."""
    import ray

    if ray.is_initialized():
        return False
    common = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if address == LOCAL:
        ray.init(num_cpus=os.cpu_count(), **common)
    else:
        if address != "auto":
            _reachable(address)  # ray.init would retry an address nobody answers on for minutes
        try:
            ray.init(address=address, **common)
        except ConnectionError as error:  # auto, and no cluster on this machine
            raise InvalidInput(f"--ray {address}: {error}".split(". ")[0]) from None
    log.info("Ray: %d CPUs on %d node(s)", int(ray.cluster_resources().get("CPU", 0)), len(ray.nodes()))
    return True


def _reachable(address: str) -> None:
    """A one-line error unless something listens at HOST:PORT (or ray://HOST:PORT)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise InvalidInput(f"--ray {address}: give auto, HOST:PORT (e.g. head:6379) or ray://HOST:10001")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as error:
        raise InvalidInput(f"--ray {address}: no Ray cluster answers there ({error.strerror or error})") from None
