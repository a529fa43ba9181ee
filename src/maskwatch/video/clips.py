"""Event clips: the seconds of video before and after an event, as H.264 MP4 that browsers play.

A camera keeps its last `before_s` seconds of frames (JPEG-compressed in memory: 5 s at 15 fps of 640 px
frames is about 3 MB, where raw frames would be 70 MB). An event of a chosen kind (an alert, by default)
names its clip at once, so the event is recorded and delivered with the clip's path; the clip goes on for
`after_s` more seconds and is then encoded in a thread and put in place atomically. On a disk within
`MEDIA_RESERVE` of full no clip is begun, and one that cannot be written after all is given back to the
store (`unwritten`), so that no event names a clip that does not exist. Boxes are drawn or
not; with `blur_faces`, each face maskwatch found or follows is pixelated before the frame is kept (on a
frame the motion gate skipped, those of the frame before). A face it never found (smaller than it
detects, or turned away) is not: docs/site.md says so.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from maskwatch.core.events import Event
from maskwatch.core.zones import Zone
from maskwatch.io.annotate import draw
from maskwatch.io.atomic import atomic_path, no_room_for_media, write_failure
from maskwatch.io.mp4 import VideoFileWriter
from maskwatch.video.analysis import Step

log = logging.getLogger(__name__)

CLIP_KINDS = ("alert", "mask_off", "mask_on", "person_appeared")
MAX_WIDTH = 640  # clip frames are shrunk to this width at most
JPEG_QUALITY = 85
BLUR_BLOCKS = 6  # a blurred face keeps this many blocks across


@dataclass(frozen=True)
class ClipSettings:
    """What to record, as `maskwatch watch`'s [clips] table sets it (its defaults are declared there)."""

    before_s: float
    after_s: float
    kinds: tuple[str, ...]
    boxes: bool  # draw the faces' boxes and states on the clip
    blur_faces: bool


@dataclass
class _Clip:
    path: Path
    end: float  # frame time at which it is complete
    frames: list[tuple[float, bytes]] = field(default_factory=list)


def blur_faces(image: np.ndarray, boxes: list[tuple[float, float, float, float]]) -> np.ndarray:
    """The image with each box (grown a fifth on every side) pixelated to a few blocks: no face is left."""
    out = image.copy()
    height, width = out.shape[:2]
    for x1, y1, x2, y2 in boxes:
        grow_x, grow_y = 0.2 * (x2 - x1), 0.2 * (y2 - y1)
        left, top = max(0, int(x1 - grow_x)), max(0, int(y1 - grow_y))
        right, bottom = min(width, int(np.ceil(x2 + grow_x))), min(height, int(np.ceil(y2 + grow_y)))
        if right - left < 2 or bottom - top < 2:
            continue
        region = out[top:bottom, left:right]
        blocks = cv2.resize(region, (BLUR_BLOCKS, max(1, round(BLUR_BLOCKS * region.shape[0] / region.shape[1]))),
                            interpolation=cv2.INTER_AREA)
        out[top:bottom, left:right] = cv2.resize(blocks, region.shape[1::-1], interpolation=cv2.INTER_NEAREST)
    return out


class ClipRecorder:
    """One camera's clips: `push` every finished step (before its events are recorded: it names their
    clips), `close` at the end (pending clips are written with the frames they have)."""

    def __init__(self, folder: Path, settings: ClipSettings, zones: tuple[Zone, ...] = (),
                 unwritten: Callable[[Path], None] = lambda path: None) -> None:
        """`unwritten(path)`: a clip that an event names could not be written after all (a full disk)."""
        self.folder, self.settings, self.zones, self.unwritten = folder, settings, zones, unwritten
        self._recent: deque[tuple[float, bytes]] = deque()
        self._boxes: list[tuple[float, float, float, float]] = []  # the faces of the last frame looked at
        self._pending: list[_Clip] = []
        self._writers: list[threading.Thread] = []

    def push(self, step: Step) -> None:
        now = step.frame.time
        frame = self._prepared(step)
        self._recent.append((now, frame))
        while self._recent and self._recent[0][0] < now - self.settings.before_s:
            self._recent.popleft()
        for event in step.events:
            if event.kind in self.settings.kinds:
                full = no_room_for_media(self.folder)
                if full:  # the event is recorded without a clip, rather than naming one that never comes
                    log.error("no clip of the %s event of person %d: %s", event.kind, event.person, full)
                    continue
                event.clip = str(self._start(event, now).relative_to(self.folder.parent))
        for clip in self._pending:
            if clip.frames[-1][0] < now:
                clip.frames.append((now, frame))
        for clip in [c for c in self._pending if now >= c.end]:
            self._finish(clip)

    def close(self) -> None:
        """Write the clips still recording, and wait for every clip to be written."""
        for clip in list(self._pending):
            self._finish(clip)
        for writer in self._writers:
            writer.join()

    def _prepared(self, step: Step) -> bytes:
        image = step.frame.image
        if not step.still:  # a frame the motion gate skipped shows the faces of the frame before it
            self._boxes = [face.box for face in step.faces]
        if self.settings.blur_faces:
            image = blur_faces(image, self._boxes)
        if self.settings.boxes:
            image = draw(image, step.faces, None, self.zones)
        height, width = image.shape[:2]
        if width > MAX_WIDTH:
            image = cv2.resize(image, (MAX_WIDTH, round(height * MAX_WIDTH / width)), interpolation=cv2.INTER_AREA)
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                                [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        return data.tobytes() if ok else b""

    def _start(self, event: Event, now: float) -> Path:
        self.folder.mkdir(mode=0o700, exist_ok=True)
        # the wall clock to the millisecond: a worker restarted after a crash numbers persons and frames from 1
        # again, and a clip it never finished leaves no file to step around
        stamp = re.sub(r"\D", "", event.wall_time[:23])
        stem = f"{event.source}-{stamp}-p{event.person}-f{event.frame}-{event.kind}"
        path = self.folder / f"{stem}.mp4"
        taken = {clip.path for clip in self._pending}
        index = 1
        while path.exists() or path in taken:
            index += 1
            path = self.folder / f"{stem}-{index}.mp4"
        self._pending.append(_Clip(path, now + self.settings.after_s, list(self._recent)))
        return path

    def _finish(self, clip: _Clip) -> None:
        self._pending.remove(clip)
        writer = threading.Thread(target=_write, args=(clip, self.unwritten), name="maskwatch-clip", daemon=True)
        writer.start()
        self._writers = [w for w in self._writers if w.is_alive()] + [writer]


def _write(clip: _Clip, unwritten: Callable[[Path], None]) -> None:
    """Encode a clip's frames at the rate they came, into its file (atomically); `unwritten` if it fails."""
    images = [cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
              for _, data in clip.frames if data]
    if not images:
        return
    span = clip.frames[-1][0] - clip.frames[0][0]
    fps = (len(images) - 1) / span if span > 0 and len(images) > 1 else 10.0
    try:
        with atomic_path(clip.path) as tmp:
            writer = VideoFileWriter(tmp, min(max(fps, 1.0), 60.0), images[0].shape[1::-1])
            try:
                for image in images:
                    writer.write(image)
            finally:
                writer.close()
        clip.path.chmod(0o600)
    except OSError as error:
        log.error("could not write the clip %s: %s", clip.path, write_failure(error))
        unwritten(clip.path)
