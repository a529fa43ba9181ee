"""Where `maskwatch detect` results go: JSON lines, annotated copies, a window, and the closing summary.

The file writers work on temporary names and rename on close(), which their `with` blocks call even when
Ctrl-C or an error ends the run: what was written so far is then a complete, valid file.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Self

import cv2
import numpy as np

from maskwatch.core.classes import INCORRECT, UNKNOWN, Sightings, compliance, people_counts
from maskwatch.core.errors import Unavailable
from maskwatch.core.events import Event
from maskwatch.core.faces import Face
from maskwatch.core.frame import Frame
from maskwatch.core.records import frame_record
from maskwatch.io.atomic import atomic_path
from maskwatch.io.images import write_image
from maskwatch.io.mp4 import VideoFileWriter

# Videos are saved as H.264 MP4 (browsers play it): names in the MP4 family keep their suffix, others get
# .mp4 appended (clip.avi -> clip.avi.mp4, never clashing with a clip.mp4 beside it). Images are saved in
# the formats OpenCV encodes, others get .jpg appended.
MP4_SUFFIXES = frozenset({".mp4", ".m4v", ".mov"})
WRITABLE_IMAGES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
DEFAULT_FPS = 25.0


class _Closing:
    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        raise NotImplementedError


class JsonLinesWriter(_Closing):
    """One JSON object per frame, to stdout ("-") or a file, flushed per frame so none waits in a buffer."""

    def __init__(self, target: str) -> None:
        self._stack = ExitStack()
        if target == "-":
            self._file = sys.stdout
        else:
            tmp = self._stack.enter_context(atomic_path(target))
            self._file = self._stack.enter_context(tmp.open("w", encoding="utf-8"))

    def write(self, frame: Frame, faces: Sequence[Face], events: Sequence[Event] = ()) -> None:
        self._file.write(json.dumps(frame_record(frame, faces, events)) + "\n")
        self._file.flush()

    def close(self) -> None:
        """Close and rename the file into place, also on the way out of an interrupted run."""
        self._stack.close()


class AnnotatedSaver(_Closing):
    """Annotated copies under `out_dir` with the input's relative names: images as files, videos re-encoded.

    A video is written (H.264, `io/mp4.py`) to a temporary name and renamed when it is finished (a frame of
    another source comes, or close()); closing the writer completes the mp4, so even an interrupted video plays.
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self._video: tuple[str, Path] | None = None
        self._writer: VideoFileWriter | None = None
        self._stack = ExitStack()

    def write(self, frame: Frame, image: np.ndarray) -> None:
        key = (frame.source, frame.relative)
        if key != self._video:
            self._finish()
        if not frame.is_video:
            write_image(self._path(frame), image)
            return
        if self._writer is None:
            self._start(frame, image)
        self._writer.write(image)

    def _path(self, frame: Frame) -> Path:
        keep, add = (MP4_SUFFIXES, ".mp4") if frame.is_video else (WRITABLE_IMAGES, ".jpg")
        name = frame.relative
        return self.out_dir / (name if name.suffix.lower() in keep else name.with_name(name.name + add))

    def _start(self, frame: Frame, image: np.ndarray) -> None:
        with ExitStack() as stack:
            tmp = stack.enter_context(atomic_path(self._path(frame)))
            writer = VideoFileWriter(tmp, frame.fps or DEFAULT_FPS, (image.shape[1], image.shape[0]))
            stack.callback(writer.close)
            self._stack = stack.pop_all()
        self._writer, self._video = writer, (frame.source, frame.relative)

    def _finish(self) -> None:
        self._stack.close()  # release the writer, then rename the finished video into place
        self._writer, self._video = None, None

    def close(self) -> None:
        self._finish()


def display_available() -> bool:
    """Whether a window can be shown: on Linux, only with an X or Wayland display."""
    return not sys.platform.startswith("linux") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class Window(_Closing):
    """The live view of --show; fails early and clearly where there is no display to show it on."""

    def __init__(self, title: str = "maskwatch") -> None:
        # Checked before highgui: its Qt backend aborts the whole process when it finds no display.
        if not display_available():
            raise Unavailable(
                "--show needs a display, but DISPLAY and WAYLAND_DISPLAY are unset; use --save"
            )
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO)
        except cv2.error as error:
            raise Unavailable(f"cannot open a window (OpenCV without GUI support?): {error.err}") from error
        self.title = title

    def show(self, image: np.ndarray) -> bool:
        """Show an RGB frame; False once the user pressed q or Esc or closed the window."""
        cv2.imshow(self.title, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        key = cv2.waitKey(1) & 0xFF
        return (
            key not in (ord("q"), ord("Q"), 27)
            and cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1
        )

    def close(self) -> None:
        with suppress(cv2.error):  # already closed by the user
            cv2.destroyWindow(self.title)


class Summary:
    """Counts for the end of a run: what was read, faces by state, people, how fast.

    People are counted as `maskwatch events --summary` counts them (`classes.people_counts`): by the state
    they were in when last seen, and by whether they were ever non-compliant. Unknown faces and people are
    counted on their own and left out of the shares.
    """

    def __init__(self) -> None:
        self.images = self.frames = self.faces = 0
        self.per_state: Counter[str] = Counter()
        self.people: dict[tuple[str, int], Sightings] = {}  # by (source, person), from their events in order
        self.started = time.monotonic()

    def add(self, frame: Frame, faces: Sequence[Face], events: Sequence[Event] = ()) -> None:
        if frame.is_video:
            self.frames += 1
        else:
            self.images += 1
        self.faces += len(faces)
        self.per_state.update(face.state or face.label or "unlabelled" for face in faces)
        for event in events:
            self.people.setdefault((event.source, event.person), Sightings()).saw(event.state, event.previous_state)

    def counts(self) -> dict:
        """What `merge` takes: the counts of this run, as JSON (for a resumed run's earlier files)."""
        return {"images": self.images, "frames": self.frames, "faces": self.faces, "per_state": dict(self.per_state),
                "people": [[source, person, sorted(seen.states), seen.last]
                           for (source, person), seen in self.people.items()]}

    def merge(self, counts: dict) -> None:
        self.images += counts["images"]
        self.frames += counts["frames"]
        self.faces += counts["faces"]
        self.per_state.update(counts["per_state"])
        for source, person, states, *last in counts["people"]:
            seen = self.people.setdefault((source, person), Sightings())
            seen.states.update(s for s in states if s)
            # A manifest written before last states were kept has none: that person's last state is unknown.
            seen.last = last[0] if last else UNKNOWN

    def as_dict(self, elapsed_seconds: float | None = None) -> dict:
        """Totals; `elapsed_seconds` defaults to the time since this Summary was made."""
        seconds = time.monotonic() - self.started if elapsed_seconds is None else elapsed_seconds
        return {
            "images": self.images,
            "frames": self.frames,
            "faces": self.faces,
            "per_state": dict(sorted(self.per_state.items())),
            "without_mask_share": _share(self.per_state),
            **people_counts(self.people.values()),
            "seconds": round(seconds, 2),
            "fps": round((self.images + self.frames) / seconds, 2) if seconds > 0 else None,
        }

    def format(self, elapsed_seconds: float | None = None) -> str:
        """A few lines for stderr."""
        d = self.as_dict(elapsed_seconds)
        speed = f" ({d['fps']:.1f} per second)" if d["fps"] else ""
        lines = [f"{counted(d['images'], 'image')} and {counted(d['frames'], 'video frame')} in "
                 f"{d['seconds']:.1f} s{speed}"]
        states = ", ".join(f"{state} {n}" for state, n in d["per_state"].items())
        line = counted(d["faces"], "face") + (f": {states}" if states else "")
        if d["without_mask_share"] is not None:
            wrong = " or wearing it wrong" if INCORRECT in d["per_state"] else ""
            line += f"; {d['without_mask_share']:.0%} of those judged without a mask{wrong}"
        lines.append(line)
        if d["people"]:
            lines.append(_people_line(d))
        return "\n".join(lines)


def _people_line(counts: dict) -> str:
    """The people of `people_counts` on one line, each number named for what it counts."""
    n = counts["people"]
    last = ", ".join(f"{state} {k}" for state, k in counts["people_by_last_state"].items() if k or state != INCORRECT)
    share = counts["compliant_at_last_sighting"]
    compliant = ("none judged" if share is None else f"{share:.0%}")
    return (f"{n} {'person' if n == 1 else 'people'}: by last state {last}; compliant at last sighting "
            f"{compliant}; {counts['people_ever_non_compliant']} ever non-compliant "
            "(without a mask or wearing it wrong at some time)")


def counted(n: int, thing: str) -> str:
    """`1 image`, `2 images`: a count with its noun."""
    return f"{n} {thing}{'' if n == 1 else 's'}"


def _share(counts: Counter[str]) -> float | None:
    """Share not compliant (without_mask, or mask_weared_incorrect with a three-class model) among the
    judged counts; None if none was judged."""
    share = compliance(counts)
    return None if share is None else round(1 - share, 4)
